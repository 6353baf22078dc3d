import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inferscope.settings")

app = Celery("inferscope")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
