"""Status changes people make; a false positive makes that metric's detector less eager."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from anomaly.choices import AnomalyStatus
from anomaly.constants import FALSE_POSITIVE_FACTOR, FALSE_POSITIVE_FLOOR
from anomaly.models import Anomaly, DetectorTuning


def anomaly_set_status(anomaly: Anomaly, status: str, user: AbstractBaseUser | None) -> Anomaly:
    with transaction.atomic():
        locked = Anomaly.objects.select_for_update().get(pk=anomaly.pk)
        was_false_positive = locked.status == AnomalyStatus.FALSE_POSITIVE
        locked.status = status
        locked.status_changed_at = timezone.now()
        locked.status_changed_by_id = user.pk if user is not None else None
        locked.save(update_fields=["status", "status_changed_at", "status_changed_by"])
        if status == AnomalyStatus.FALSE_POSITIVE and not was_false_positive:
            tuning, _ = DetectorTuning.objects.select_for_update().get_or_create(
                metric=locked.metric, entity=locked.entity_key
            )
            tuning.sensitivity = max(
                FALSE_POSITIVE_FLOOR, tuning.sensitivity * FALSE_POSITIVE_FACTOR
            )
            tuning.false_positives = F("false_positives") + 1
            tuning.save(update_fields=["sensitivity", "false_positives"])
    return locked
