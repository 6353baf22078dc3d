"""The economics on the pages: the idle taxonomy (overview, costs), unit economics and
capacity (deployment page, deployments list), on the hand-checked day of
tests/dashboard/conftest.py.

That day, per 24 hours: chat alone on a0 ($2/h) serves all day: $48 active. a1 ($2/h)
holds embed (20 GiB, no request all day: idle-held, $12), rerank (40 GiB, serving:
$24 active) and 20 GiB nobody holds ($12 truly idle). b0 runs nothing: $24.36 truly
idle. The bill: $72 active + $12 idle-held + $36.36 truly idle = $120.36.
"""

import html
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from collectors.models import Deployment, DeploymentSettings, Node
from telemetry.capacity import capacity_estimates_update
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup
from telemetry.models.capacity import CapacityEstimate
from tests.dashboard.pages import this_hour

pytestmark = pytest.mark.django_db


def text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def squash(page: str) -> str:
    """The page's text with tags dropped and runs of white space made one space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def dep(name: str) -> Deployment:
    return Deployment.objects.get(name=name)


@pytest.fixture
def signed_in(client: Client, teammate: User) -> Client:
    client.force_login(teammate)
    return client


KNEE = {
    "targets_s": {"ttft": 0.25, "itl": 0.1},
    "bins": [
        {"rps": 1.0, "chunks": 6, "ttft": 0.1, "itl": 0.02, "e2e": None},
        {"rps": 2.0, "chunks": 6, "ttft": 0.15, "itl": 0.03, "e2e": None},
        {"rps": 3.0, "chunks": 6, "ttft": 0.3, "itl": 0.05, "e2e": None},
    ],
    "per_metric": {
        "ttft": {"target_s": 0.25, "rps": 2.5, "basis": "observed", "fit": None},
        "itl": {
            "target_s": 0.1,
            "rps": 4.0,
            "basis": "extrapolated",
            "fit": {"a": 0.01, "b": 0.01, "c": 5.0},
        },
    },
    "busiest_rps": 3.0,
    "tokens_per_request": 150.0,
}


def estimate(deployment: Deployment, **fields) -> CapacityEstimate:  # type: ignore[no-untyped-def]
    end = this_hour()
    values = {
        "computed_at": timezone.now(),
        "window_start": end - timedelta(days=1),
        "window_end": end,
        "capacity_rps": 2.5,
        "capacity_tokens_s": 375.0,
        "basis": "observed",
        "binding_metric": "ttft",
        "current_rps": 1.0,
        "peak_rps": 3.0,
        "detail": KNEE,
        **fields,
    }
    return CapacityEstimate.objects.create(deployment=deployment, **values)


@pytest.mark.parametrize(
    "path", ["/", "/costs/", "/deployments/", "/deployments/1/", "/deployments/1/settings"]
)
def test_the_economics_pages_send_a_visitor_to_the_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_overview_leads_with_the_deployment_that_held_a_gpu_idle(
    signed_in: Client, fleet: datetime
) -> None:
    response = signed_in.get("/?range=24h")
    held = response.context["held"]
    assert [h.deployment.name for h in held] == ["embed"]
    page = text(response)
    tile = page.index('id="idle-held"')
    # Before anything else on the page: the range bar, the figures, the heatmap.
    assert tile < page.index('class="rangebar"') < page.index('class="kpis"')
    words = squash(page[tile : page.index("</section>", tile)])
    assert "embed on node-a held 6.0 GPU-hours without serving: $12.00 (100% of its cost)" in words
    assert f'href="/deployments/{dep("embed").pk}/?range=24h"' in page


def test_the_overview_splits_the_range_into_active_idle_held_and_truly_idle(
    signed_in: Client, fleet: datetime
) -> None:
    response = signed_in.get("/?range=24h")
    split = response.context["split"]
    assert (str(split.active_usd), str(split.idle_held_usd), str(split.truly_idle_usd)) == (
        "72.000000",
        "12.000000",
        "36.360000",
    )
    assert split.usd == response.context["range_spend"].usd  # to the cent: the whole bill
    # a0 and half of a1 served, a quarter of a1 was held, a quarter of a1 and b0 nobody's.
    assert (split.active_hours, split.idle_held_hours, split.truly_idle_hours) == pytest.approx(
        (36, 6, 30)
    )
    words = squash(text(response))
    assert "Active $72.00 36.0 GPU-hours · 59.8% of spend" in words
    assert "Idle-held $12.00 6.0 GPU-hours · 10.0% of spend" in words
    assert "Truly idle $36.36 30.0 GPU-hours · 30.2% of spend" in words


def test_a_label_filter_narrows_the_tile_and_the_split(signed_in: Client, fleet: datetime) -> None:
    # team=ml is rerank on a1: a1's unheld quarter is its truly idle time, embed is not ml's.
    response = signed_in.get("/?range=24h&label=team%3Dml")
    assert response.context["held"] == []
    assert 'id="idle-held"' not in response.content.decode()
    split = response.context["split"]
    assert (split.active_usd, split.idle_held_usd, split.truly_idle_usd) == (24, 0, 12)


def test_the_costs_page_splits_each_group_and_the_chart(signed_in: Client, fleet: datetime) -> None:
    response = signed_in.get("/costs/?range=24h")
    rows = {row["group"]: row for row in response.context["rows"]}
    embed, idle, total = rows["embed on node-a"], rows["(idle)"], rows["total"]
    assert (embed["active_usd"], embed["idle_held_usd"], embed["truly_idle_usd"]) == (
        "0.00",
        "12.00",
        "0.00",
    )
    assert embed["idle_held_hours"] == pytest.approx(6)
    assert idle["truly_idle_usd"] == "36.36" and idle["truly_idle_hours"] == pytest.approx(30)
    assert (total["active_usd"], total["idle_held_usd"], total["truly_idle_usd"]) == (
        "72.00",
        "12.00",
        "36.36",
    )
    page = text(response)
    assert 'id="chart-idle-split"' in page and 'id="chart-spend"' in page
    chart = page[page.index('id="chart-idle-split"') :]
    assert all(f'"{name}"' in chart for name in ("active", "idle-held", "truly idle"))
    table = squash(page[page.index("<th>Group</th>") : page.index("</table>", page.index("Group"))])
    assert "embed on node-a 6.0 $12.00 $0.00 0.0 h $12.00 6.0 h $0.00 0.0 h" in table
    kpis = squash(page[page.index('class="kpis"') : page.index("chart-grid")])
    assert "Idle-held $12.00 6.0 GPU-hours · 10.0% of spend" in kpis


def test_the_costs_page_lists_each_deployments_unit_economics(
    signed_in: Client, fleet: datetime
) -> None:
    DeploymentSettings.objects.create(deployment=dep("chat"), slo_ttft_ms=250)
    response = signed_in.get("/costs/?range=24h")
    units = {u.name: u.figures for u in response.context["units"]}
    assert list(units) == ["chat", "rerank", "embed"]  # the most expensive first
    chat = units["chat"]
    # No phase timings: a generated token weighs 4 prompt tokens. 1,000 prompt and 500
    # generated a minute: prefill is 1,000 / 3,000 of the $48.
    assert chat.basis == "model"
    assert chat.prefill_usd == pytest.approx(16) and chat.decode_usd == pytest.approx(32)
    assert chat.usd_per_1m_prompt == pytest.approx(16 / 1.44)
    assert chat.usd_per_1m_generated == pytest.approx(32 / 0.72)
    row = squash(text(response)).split("Unit economics by deployment", 1)[1]
    assert "chat node-a $48.00 $16.00 $32.00 $11.11 $44.44 modelled — $0.00 40.0%" in row


def test_the_deployment_page_shows_prompt_and_generated_cost_cache_and_goodput(
    signed_in: Client, fleet: datetime
) -> None:
    chat = dep("chat")
    DeploymentSettings.objects.create(deployment=chat, slo_ttft_ms=250)
    response = signed_in.get(f"/deployments/{chat.pk}/?range=24h")
    page = text(response)
    section = page[page.index('id="unit-economics"') : page.index('id="capacity"')]
    words = squash(section)
    assert "$ per 1M prompt tokens $11.11" in words
    assert "$ per 1M generated tokens $44.44" in words
    assert "Prefill $16.00 33% of cost" in words and "Decode $32.00 67% of cost" in words
    assert "modelled (a generated token weighs COST_DECODE_TOKEN_WEIGHT prompt tokens)" in words
    # chat's TTFT: 8 of 10 within 250 ms; its inter-token gaps (same buckets): 4 of 10
    # within 100 ms. Every request met both at most 40% of the time, at least 20%.
    assert "Met every p95 target 40.0% at least 20.0%" in words
    assert "Time to first token ≤ 250 ms 80.0%" in words
    assert "Inter-token latency ≤ 100 ms 40.0%" in words
    assert "End-to-end latency ≤ 30,000 ms —" in words  # no histogram reported
    # $48 over 14,400 requests, of which 5,760 were good.
    assert "$ per request $0.00333" in words and "$ per good request $0.00833" in words
    assert "Hit rate —" in words and "Net $0.00" in words
    assert 'id="chart-dep-goodput"' in section
    assert "No prefix cache hits or preemptions in this range." in section


def test_a_deployment_that_served_nothing_says_what_it_cost_held(
    signed_in: Client, fleet: datetime
) -> None:
    page = text(signed_in.get(f"/deployments/{dep('embed').pk}/?range=24h"))
    words = squash(page[page.index('id="unit-economics"') : page.index('id="capacity"')])
    assert (
        "Served no request in these hours: all of its $12.00 paid for GPUs it held idle." in words
    )
    assert "$ per good request —" in words


def test_the_cache_figures_and_their_chart(signed_in: Client, fleet: datetime) -> None:
    # Half the prompt tokens of every hour came from the cache, and one preemption an hour.
    hours = InferenceRollup.objects.filter(deployment=dep("chat"), resolution=Resolution.HOUR)
    assert hours.count() == 24
    hours.update(prefix_cache_queries=60_000, prefix_cache_hits=30_000, preemptions=1)
    page = text(signed_in.get(f"/deployments/{dep('chat').pk}/?range=24h"))
    words = squash(page[page.index('id="unit-economics"') : page.index('id="capacity"')])
    # Prefill: $0.667 an hour for 30,000 computed prompt tokens, so the 30,000 hits saved
    # $0.667 an hour: $16 a day. A preemption redoes 100 prompt + 25 generated tokens:
    # 125 / 30,000 of $0.667, $0.0667 a day.
    assert "Hit rate 50.0% 720k of 1.44M prompt tokens" in words
    assert "Saved by hits $16.00" in words
    assert "Recomputed after preemption $0.07 24 preemptions" in words
    assert "Net $15.93" in words
    assert 'id="chart-dep-cache"' in page


def test_the_deployment_page_shows_capacity_headroom_and_the_knee(
    signed_in: Client, fleet: datetime
) -> None:
    chat = dep("chat")
    estimate(chat)
    page = text(signed_in.get(f"/deployments/{chat.pk}/?range=24h"))
    section = page[page.index('id="capacity"') : page.index('id="served"')]
    words = squash(section)
    assert "Capacity within SLO 2.50 req/s 375 tokens/s" in words
    assert "Current load 1.00 req/s" in words and "Peak load 3.00 req/s" in words
    assert "Headroom 60% of capacity left at current load" in words
    assert "Replicas needed 1 / 2 like this one, now / at peak" in words
    assert "observed: the SLO was crossed in the window" in words
    assert "time to first token reaches its p95 target first" in words
    assert 'id="chart-knee"' in section
    # Plotly's JSON writes "/" as \u002f.
    assert "target 250 ms" in section and "capacity 2.50 req\\u002fs" in section


def test_the_deployments_list_shows_headroom(signed_in: Client, fleet: datetime) -> None:
    estimate(dep("chat"), current_rps=3.0)  # past its capacity
    estimate(dep("rerank"), basis="insufficient", capacity_rps=4.0, current_rps=1.0)
    page = text(signed_in.get("/deployments/?range=24h"))
    assert '<span class="headroom-over"' in page and ">-20%</span>" in page
    assert ">≥ 75%</span>" in page
    assert '<th rowspan="2" title="Share of the estimated capacity' in page


def test_the_real_job_on_steady_traffic_gives_a_lower_bound(
    signed_in: Client, fleet: datetime
) -> None:
    # chat's latency never moves with its steady 10 requests a minute: no knee in sight
    # (once its inter-token target is one its p95 of ~440 ms meets).
    chat = dep("chat")
    DeploymentSettings.objects.create(deployment=chat, slo_itl_ms=1000)
    assert capacity_estimates_update(now=this_hour()) == 3
    assert chat.capacity_estimate.basis == "insufficient"
    page = text(signed_in.get(f"/deployments/{chat.pk}/?range=24h"))
    words = squash(page[page.index('id="capacity"') : page.index('id="served"')])
    assert "Capacity within SLO ≥ 0.17 req/s" in words
    assert "not enough load: at least the busiest rate seen" in words
    assert 'id="chart-knee"' in page
    embed = text(signed_in.get(f"/deployments/{dep('embed').pk}/?range=24h"))
    assert "No traffic from" in embed and "no knee to find" in embed


def test_empty_states_render_without_data_or_an_estimate(signed_in: Client) -> None:
    node = Node.objects.create(name="n")
    quiet = Deployment.objects.create(node=node, name="quiet")
    page = text(signed_in.get(f"/deployments/{quiet.pk}/"))
    assert "No cost or traffic for this deployment in these hours yet" in page
    assert "No capacity estimate yet" in page
    costs = text(signed_in.get("/costs/"))
    assert "No deployment has cost or traffic in these hours yet." in costs
    assert "No costs in this range yet." in costs
    assert "—" in text(signed_in.get("/deployments/"))


def test_an_estimate_with_odd_stored_detail_still_renders(
    signed_in: Client, fleet: datetime
) -> None:
    chat = dep("chat")
    odd = {
        "targets_s": {"ttft": "fast", "itl": None},
        "bins": [{"rps": "1", "ttft": True}, "bin", {"rps": -1.0, "ttft": 0.2}],
        "per_metric": {"ttft": {"fit": {"a": 1, "b": "x", "c": -1}}},
    }
    details: list[object] = [
        odd,
        [],
        "x",
        {"bins": [{"rps": 1.0, "ttft": 0.1}], "per_metric": []},
        {"bins": [{"rps": 1e300, "ttft": 0.1}], "per_metric": {"ttft": {"fit": {"c": 5e-324}}}},
        {
            "bins": [{"rps": 0.0, "ttft": 0.0}],
            "per_metric": {"ttft": {"fit": {"a": 0, "b": 1e11, "c": 1e-9}}},
        },
    ]
    for detail in details:
        CapacityEstimate.objects.filter(deployment=chat).delete()
        estimate(chat, detail=detail, capacity_rps=None, basis="extrapolated")
        response = signed_in.get(f"/deployments/{chat.pk}/?range=24h")
        assert response.status_code == 200, detail
    list_page = signed_in.get("/deployments/")
    assert list_page.status_code == 200


def test_a_past_range_and_a_range_inside_an_hour_render(signed_in: Client, fleet: datetime) -> None:
    chat = dep("chat").pk
    for query in (
        "range=1h",
        f"range=custom&start={fleet:%Y-%m-%dT%H:%M}&end={fleet:%Y-%m-%dT%H}:30",
    ):
        for path in ("/", "/costs/", f"/deployments/{chat}/", "/deployments/"):
            assert signed_in.get(f"{path}?{query}").status_code == 200, (path, query)
