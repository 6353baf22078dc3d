from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.models import IngestBatch
from collectors.retention import expire_ingest_batches

pytestmark = pytest.mark.django_db


def test_it_forgets_only_batches_past_the_retention(agent_token, settings):
    settings.INGEST_BATCH_RETENTION_DAYS = 14
    agent, _ = agent_token
    old = IngestBatch.objects.create(agent=agent, batch_id="old")
    IngestBatch.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=15))
    IngestBatch.objects.create(agent=agent, batch_id="new")
    assert expire_ingest_batches() == 1
    assert list(IngestBatch.objects.values_list("batch_id", flat=True)) == ["new"]
