from celery import shared_task

from anomaly.scoring import score_recent
from anomaly.training import train_models


@shared_task(name="anomaly.score_recent")
def score_recent_task() -> str:
    return f"recorded {score_recent()} anomalous points"


@shared_task(name="anomaly.train_models")
def train_models_task() -> str:
    return f"trained {train_models()} multivariate models"
