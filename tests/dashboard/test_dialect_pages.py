"""What each server's dialect means on the pages: derived figures said so, Triton's
interval means and batch size charted, DCGM's engine activity on the GPU page."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from collectors.models import Deployment, Gpu, GpuSample, InferenceSample
from costs.pipeline import rollup_pending
from tests.costs.fleet import set_prices, store_day
from tests.dashboard.pages import this_hour

pytestmark = pytest.mark.django_db


@pytest.fixture
def dialects(db: None) -> datetime:
    """The hand-checked fleet, with rerank served by Triton and a0 read from DCGM."""
    day = this_hour() - timedelta(days=1)
    store_day(day=day)
    Deployment.objects.filter(name="embed").update(server_kind="tgi")
    Deployment.objects.filter(name="rerank").update(server_kind="triton")
    # Triton's cumulative time counters: a count and a sum per interval, no buckets.
    InferenceSample.objects.filter(deployment__name="rerank").update(
        e2e_hist={"bounds": [], "counts": [5], "sum": 2.4},
        batch_inferences=40,
        batch_executions=5,
    )
    GpuSample.objects.filter(gpu__uuid="a0").update(
        gr_engine_active=0.9, tensor_active=0.4, dram_active=0.6
    )
    set_prices()
    rollup_pending(now=timezone.now())
    return day


def test_a_tgi_deployment_page_says_its_ttft_is_derived(admin_client, dialects):
    dep = Deployment.objects.get(name="embed")
    page = admin_client.get(f"/deployments/{dep.pk}/").content.decode()
    assert "What TGI reports" in page
    assert "<strong>Time to first token</strong> is derived: TGI has no time-to-first-token" in page
    assert "<strong>KV cache</strong>: not available (TGI does not export KV-cache use)" in page


def test_triton_means_and_batch_size_are_charted(admin_client, dialects):
    dep = Deployment.objects.get(name="rerank")
    page = admin_client.get(f"/deployments/{dep.pk}/").content.decode()
    assert "<strong>End-to-end latency</strong> is the interval" in page
    assert "Batch size" in page and 'id="chart-dep-batch"' in page
    assert "requests per execution" in page
    # 40 inferences in 5 executions, every step: a mean batch of 8.
    assert '"y":[8.0,8.0' in _chart(page, "dep-batch").replace(" ", "")
    # 5 requests in 2.4 s: a mean of 480 ms, the only figure (no percentiles).
    e2e = _chart(page, "dep-e2e").replace(" ", "")
    assert '"y":[480.0,480.0' in e2e and '"name":"mean"' in e2e


def _chart(page: str, name: str) -> str:
    start = page.index(f'id="chart-{name}"')
    return page[start : page.index("</script>", start)]


def test_a_vllm_deployment_shows_no_batch_chart_data(admin_client, dialects):
    dep = Deployment.objects.get(name="chat")
    page = admin_client.get(f"/deployments/{dep.pk}/").content.decode()
    assert "Batch size" not in page  # no executions counted: no card at all


def test_dcgm_engine_activity_is_charted_on_the_gpu_page(admin_client, dialects):
    page = admin_client.get(f"/gpus/{Gpu.objects.get(uuid='a0').pk}/").content.decode()
    assert "Engine activity" in page and 'id="chart-gpu-activity"' in page
    other = admin_client.get(f"/gpus/{Gpu.objects.get(uuid='a1').pk}/").content.decode()
    assert "Engine activity" not in other  # NVML has no such reading: no card, no zeros
