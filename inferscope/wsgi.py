import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inferscope.settings")

application = get_wsgi_application()

# Everything loaded so far (Django, plotly, numpy, the URL conf) lives as long as
# the process: keep it out of the collector's scans, so a full collection in the
# middle of a request costs a few ms instead of ~45 ms (see bench/pages.py).
gc.collect()
gc.freeze()
