"""Status changes people make; a false positive makes that metric's detector less eager."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from anomaly.choices import AnomalyStatus
from anomaly.models import Anomaly, DetectorTuning

# Each false positive multiplies the sensitivity by this, down to the floor.
FALSE_POSITIVE_FACTOR = 0.8
MIN_SENSITIVITY = 0.25


def entity_key(anomaly: Anomaly) -> str:
    if anomaly.gpu_id:
        return f"gpu:{anomaly.gpu_id}"
    if anomaly.deployment_id:
        return f"deployment:{anomaly.deployment_id}"
    if anomaly.node_id:
        return f"node:{anomaly.node_id}"
    return "fleet"


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
                metric=locked.metric, entity=entity_key(locked)
            )
            tuning.sensitivity = max(MIN_SENSITIVITY, tuning.sensitivity * FALSE_POSITIVE_FACTOR)
            tuning.false_positives = F("false_positives") + 1
            tuning.save(update_fields=["sensitivity", "false_positives"])
    return locked
