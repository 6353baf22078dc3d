"""/metrics: Prometheus text (written by prometheus_client) that parses back to the
figures the dashboard shows and the database holds, behind a token, in a number of
queries that does not grow with the fleet."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from anomaly.models import Anomaly
from api.metrics import label_name
from api.services import api_token_create
from collectors.models import Agent, Deployment, Node
from collectors.services import agent_create
from costs.budgets import budget_status
from costs.models import Budget, HourlySpend
from recommendations.choices import Confidence, RecommendationStatus
from recommendations.models import Recommendation
from telemetry.capacity import capacity_estimates_update
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup
from telemetry.models.capacity import CapacityEstimate
from tests.economics.fleet import END, store

pytestmark = pytest.mark.django_db

URL = "/metrics"
NOW = datetime(2026, 11, 23, 10, 20, tzinfo=UTC)
HOUR = datetime(2026, 11, 23, 9, tzinfo=UTC)  # the last complete hour at NOW
ODD_VALUE = 'say "hi"\\now\nnext'


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def read_token(owner) -> str:
    return api_token_create(owner, "grafana", "read")[1]


def scrape(client: Client, token: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get(URL, **bearer(token))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        family.name: [(s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(response.content.decode())
    }


def spend(hour: datetime, usd: str, deployment: Deployment | None, held: str = "0") -> None:
    HourlySpend.objects.create(
        hour=hour, deployment=deployment, usd=Decimal(usd), idle_held_usd=Decimal(held),
        gpu_hours=1.0,
    )  # fmt: skip


def tokens(deployment: Deployment, bucket: datetime, prompt: int, generated: int, **kw) -> None:
    InferenceRollup.objects.create(
        deployment=deployment, resolution=kw.get("resolution", Resolution.HOUR), bucket=bucket,
        samples=360, present_s=3600, prompt_tokens=prompt, generation_tokens=generated,
    )  # fmt: skip


def anomaly(severity: str, status: str = "open") -> Anomaly:
    return Anomaly.objects.create(
        metric="gpu.util", detector="seasonal", kind="spike", start=NOW, end=NOW, score=9.0,
        severity=severity, explanation="x", status=status,
    )  # fmt: skip


def recommendation(key: str, usd: str, status: str = RecommendationStatus.OPEN) -> None:
    Recommendation.objects.create(
        rule="idle_gpus", fingerprint=f"idle_gpus:{key}", title=key, action=key,
        monthly_saving_usd=Decimal(usd), arithmetic="x", confidence=Confidence.HIGH,
        first_seen_at=NOW, last_seen_at=NOW, status=status,
    )  # fmt: skip


@pytest.fixture
def fleet(clock: datetime) -> dict[str, Deployment]:
    node = Node.objects.create(name="node-1")
    chat = Deployment.objects.create(
        node=node, name="chat", labels={"team": "search", "app.kubernetes.io/name": ODD_VALUE}
    )
    embed = Deployment.objects.create(node=node, name="embed", labels={"team": "ads"})
    spend(HOUR, "3.5", chat, held="0.5")
    spend(HOUR, "1.25", embed)
    spend(HOUR, "2", None)
    spend(HOUR - timedelta(hours=1), "3", chat)
    spend(HOUR - timedelta(hours=1), "7", None)  # idle, but not in the last hour
    spend(HOUR - timedelta(hours=23), "0.75", embed)  # the window's first hour
    spend(HOUR - timedelta(hours=24), "100", chat)  # a day back: outside the window
    tokens(chat, HOUR, 1_000_000, 300_000)
    tokens(chat, HOUR - timedelta(hours=24), 5_000_000, 0)  # outside the window
    tokens(chat, HOUR, 9_000_000, 0, resolution=Resolution.MINUTE)  # minutes are not read
    return {"chat": chat, "embed": embed}


def test_it_exposes_the_hand_computed_figures(client, fleet, read_token):
    for severity in ("warning", "warning", "critical"):
        anomaly(severity)
    anomaly("critical", status="resolved")
    seen, _ = agent_create("seen")
    Agent.objects.filter(pk=seen.pk).update(last_seen_at=NOW - timedelta(seconds=30))
    revoked, _ = agent_create("revoked")
    Agent.objects.filter(pk=revoked.pk).update(last_seen_at=NOW, revoked_at=NOW)
    agent_create("never-seen")
    recommendation("a", "10.00")
    recommendation("b", "5.50")
    recommendation("c", "99", status=RecommendationStatus.DISMISSED)
    budget = Budget.objects.create(
        name="search", label_key="team", label_value="search", monthly_usd=Decimal("200")
    )

    metrics = scrape(client, read_token)

    chat = {
        "deployment": "chat", "node": "node-1", "label_team": "search",
        "label_app_kubernetes_io_name": ODD_VALUE,
    }  # fmt: skip
    embed = {"deployment": "embed", "node": "node-1", "label_team": "ads"}
    assert metrics["inferscope_deployment_cost_usd_per_hour"] == [(chat, 3.5), (embed, 1.25)]
    assert metrics["inferscope_idle_cost_usd_per_hour"] == [
        ({"kind": "unallocated"}, 2.0),
        ({"kind": "held"}, 0.5),
    ]
    # chat: (3.5 + 3) $ over 1.3M tokens; embed served no tokens, so it has no rate.
    assert metrics["inferscope_deployment_usd_per_1m_tokens"] == [(chat, pytest.approx(5.0))]
    assert metrics["inferscope_deployment_idle_held_usd_per_hour"] == [(chat, 0.5), (embed, 0.0)]
    # The hour's $6.75: 3.5 + 1.25 held by deployments, of which 0.5 serving nothing, and 2 idle.
    assert metrics["inferscope_cost_usd_per_hour"] == [
        ({"kind": "active"}, 4.25),
        ({"kind": "idle_held"}, 0.5),
        ({"kind": "truly_idle"}, 2.0),
    ]
    # No latency histograms, no cache queries, no capacity estimate: no such series.
    for name in ("goodput_ratio", "cache_net_savings_usd", "capacity_rps", "replicas_needed"):
        assert metrics[f"inferscope_deployment_{name}"] == []
    assert metrics["inferscope_cost_hour_timestamp_seconds"] == [({}, HOUR.timestamp())]
    scope = {"budget": "search", "scope": "label team=search"}
    # November so far for team=search: 100 + 3 + 3.5.
    assert metrics["inferscope_budget_used_ratio"] == [(scope, pytest.approx(106.5 / 200))]
    forecast = float(budget_status(budget, NOW).forecast) / 200
    assert forecast > 106.5 / 200
    assert metrics["inferscope_budget_forecast_ratio"] == [(scope, pytest.approx(forecast))]
    assert metrics["inferscope_budget_monthly_usd"] == [(scope, 200.0)]
    assert metrics["inferscope_anomalies_open"] == [
        ({"severity": "info"}, 0.0),
        ({"severity": "warning"}, 2.0),
        ({"severity": "critical"}, 1.0),
    ]
    assert metrics["inferscope_agent_last_seen_age_seconds"] == [({"agent": "seen"}, 30.0)]
    assert metrics["inferscope_recommendations_open"] == [({}, 2.0)]
    assert metrics["inferscope_recommendations_open_monthly_saving_usd"] == [({}, 15.5)]


def test_every_figure_parses_back_to_what_the_database_holds(client, fleet, read_token):
    """The page read with prometheus_client's own parser, against aggregates of the rows
    themselves (not the selectors the page is built from)."""
    for severity in ("info", "critical", "critical"):
        anomaly(severity)
    anomaly("warning", status="resolved")
    for i, age in enumerate((5, 3600)):
        agent, _ = agent_create(f"a{i}")
        Agent.objects.filter(pk=agent.pk).update(last_seen_at=NOW - timedelta(seconds=age))
    recommendation("x", "12.25")
    recommendation("y", "0.75", status=RecommendationStatus.DISMISSED)
    Budget.objects.create(name="ads", label_key="team", label_value="ads", monthly_usd=50)

    families = {
        family.name: family
        for family in text_string_to_metric_families(
            client.get(URL, **bearer(read_token)).content.decode()
        )
    }

    def series(name: str) -> dict[str, float]:
        family = families[f"inferscope_{name}"]
        assert family.type == "gauge"
        return {s.labels.get("deployment", ""): s.value for s in family.samples}

    hour = HourlySpend.objects.filter(hour=HOUR)
    per_deployment = {
        row["deployment__name"]: row
        for row in hour.exclude(deployment=None)
        .values("deployment__name")
        .annotate(usd=Sum("usd"), held=Sum("idle_held_usd"))
    }
    assert series("deployment_cost_usd_per_hour") == {
        name: float(row["usd"]) for name, row in per_deployment.items()
    }
    assert series("deployment_idle_held_usd_per_hour") == {
        name: float(row["held"]) for name, row in per_deployment.items()
    }
    unallocated = float(hour.filter(deployment=None).aggregate(usd=Sum("usd"))["usd"])
    held = sum(float(row["held"]) for row in per_deployment.values())
    active = sum(float(row["usd"]) for row in per_deployment.values()) - held
    kinds = {s.labels["kind"]: s.value for s in families["inferscope_cost_usd_per_hour"].samples}
    assert kinds == {"active": pytest.approx(active), "idle_held": held, "truly_idle": unallocated}
    # The 24 hours to the end of HOUR: their $ over their hourly rollups' tokens.
    start = HOUR - timedelta(hours=23)
    window_usd = HourlySpend.objects.filter(
        hour__gte=start, hour__lte=HOUR, deployment__name="chat"
    )
    window_tokens = InferenceRollup.objects.filter(
        resolution=Resolution.HOUR, bucket__gte=start, bucket__lte=HOUR, deployment__name="chat"
    ).aggregate(p=Sum("prompt_tokens"), g=Sum("generation_tokens"))
    rate = float(window_usd.aggregate(usd=Sum("usd"))["usd"]) * 1e6
    rate /= window_tokens["p"] + window_tokens["g"]
    assert series("deployment_usd_per_1m_tokens") == {"chat": pytest.approx(rate)}

    open_counts = dict(
        Anomaly.objects.filter(status="open").values_list("severity").annotate(n=Count("id"))
    )
    assert {
        s.labels["severity"]: s.value for s in families["inferscope_anomalies_open"].samples
    } == {
        severity: float(open_counts.get(severity, 0))
        for severity in ("info", "warning", "critical")
    }
    ages = {
        name: (NOW - seen).total_seconds()
        for name, seen in Agent.objects.filter(revoked_at=None)
        .exclude(last_seen_at=None)
        .values_list("name", "last_seen_at")
    }
    assert {
        s.labels["agent"]: s.value
        for s in families["inferscope_agent_last_seen_age_seconds"].samples
    } == ages
    opened = Recommendation.objects.filter(status=RecommendationStatus.OPEN)
    assert [s.value for s in families["inferscope_recommendations_open"].samples] == [
        float(opened.count())
    ]
    assert [
        s.value for s in families["inferscope_recommendations_open_monthly_saving_usd"].samples
    ] == [float(opened.aggregate(usd=Sum("monthly_saving_usd"))["usd"])]
    assert {
        s.labels["budget"]: s.value for s in families["inferscope_budget_monthly_usd"].samples
    } == {name: float(usd) for name, usd in Budget.objects.values_list("name", "monthly_usd")}
    assert families["inferscope_cost_hour_timestamp_seconds"].samples[0].value == HOUR.timestamp()


def test_every_series_has_help_and_type_lines(client, fleet, read_token):
    text = client.get(URL, **bearer(read_token)).content.decode()
    names = {line.split()[0].split("{")[0] for line in text.splitlines() if line[:1] != "#"}
    for name in names:
        assert name.startswith("inferscope_")
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge\n" in text


def test_an_empty_install_still_scrapes(client, clock, read_token):
    metrics = scrape(client, read_token)
    assert metrics["inferscope_deployment_cost_usd_per_hour"] == []
    assert metrics["inferscope_idle_cost_usd_per_hour"] == [
        ({"kind": "unallocated"}, 0.0),
        ({"kind": "held"}, 0.0),
    ]
    assert metrics["inferscope_recommendations_open"] == [({}, 0.0)]


def test_label_names_are_sanitized():
    assert label_name("app.kubernetes.io/name") == "label_app_kubernetes_io_name"
    assert label_name("9lives") == "label_9lives"


def test_agent_chosen_names_are_escaped_by_the_library_and_parse_back(client, clock, read_token):
    node = Node.objects.create(name='rack "7"\\a')
    dep = Deployment.objects.create(node=node, name=ODD_VALUE, labels={"why": "a\nb\\"})
    spend(HOUR, "1", dep)
    seen, _ = agent_create("seen")
    Agent.objects.filter(pk=seen.pk).update(name=ODD_VALUE, last_seen_at=NOW)

    text = client.get(URL, **bearer(read_token)).content.decode()

    # As the text format says: \\ for a backslash, \" for a quote, \n for a line break.
    escaped = 'say \\"hi\\"\\\\now\\nnext'
    assert f'inferscope_agent_last_seen_age_seconds{{agent="{escaped}"}} 0.0\n' in text
    assert (
        f'inferscope_deployment_cost_usd_per_hour{{deployment="{escaped}",label_why="a\\nb\\\\",'
        'node="rack \\"7\\"\\\\a"} 1.0\n'
    ) in text
    assert "\nnext" not in text  # no raw line break inside a series
    metrics = scrape(client, read_token)
    assert metrics["inferscope_deployment_cost_usd_per_hour"] == [
        ({"deployment": ODD_VALUE, "node": 'rack "7"\\a', "label_why": "a\nb\\"}, 1.0)
    ]
    assert metrics["inferscope_agent_last_seen_age_seconds"] == [({"agent": ODD_VALUE}, 0.0)]


def test_keys_that_sanitize_alike_do_not_repeat_a_label(client, clock, read_token):
    node = Node.objects.create(name="n")
    dep = Deployment.objects.create(node=node, name="d", labels={"a.b": "1", "a-b": "2"})
    spend(HOUR, "1", dep)
    [(labels, _)] = scrape(client, read_token)["inferscope_deployment_cost_usd_per_hour"]
    assert labels == {"deployment": "d", "node": "n", "label_a_b": "2"}  # "a-b" sorts first


def test_anonymous_and_agent_tokens_get_401(client, agent_token):
    anonymous = client.get(URL)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="inferscope"'
    assert anonymous.content.decode() == "Authentication credentials were not provided.\n"
    assert client.get(URL, **bearer(agent_token[1])).status_code == 401
    unknown = client.get(URL, **bearer("isk_not-a-token"))
    assert unknown.status_code == 401
    assert unknown.content.decode() == "Unknown or revoked API token.\n"


def test_a_write_token_and_a_session_read_it(client, owner, teammate, clock):
    _, token = api_token_create(owner, "ops", "write")
    assert client.get(URL, **bearer(token)).status_code == 200
    client.force_login(teammate)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.content.startswith(b"# HELP inferscope_")


def test_it_answers_text_whatever_the_accept_header(client, clock, read_token):
    prometheus = (
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
    )
    for accept in ("application/json", prometheus):
        response = client.get(URL, HTTP_ACCEPT=accept, **bearer(read_token))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_only_get_is_allowed(client, owner, clock):
    _, token = api_token_create(owner, "ops", "write")
    assert client.post(URL, **bearer(token)).status_code == 405


def _fleet_of(size: int) -> None:
    node = Node.objects.create(name=f"node-{size}")
    for i in range(size):
        dep = Deployment.objects.create(node=node, name=f"d{i}", labels={"team": f"t{i % 3}"})
        spend(HOUR, "1", dep, held="0.1")
        spend(HOUR - timedelta(hours=3), "2", dep)
        tokens(dep, HOUR, 1000, 1000)
        CapacityEstimate.objects.create(
            deployment=dep, computed_at=NOW, window_start=NOW - timedelta(days=1),
            window_end=NOW, capacity_rps=2.0, basis="observed", current_rps=1.0, peak_rps=3.0,
        )  # fmt: skip
        agent, _ = agent_create(f"agent-{size}-{i}")
        Agent.objects.filter(pk=agent.pk).update(last_seen_at=NOW)
        anomaly("warning")


def _queries(client: Client, token: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL, **bearer(token)).status_code == 200
    return len(queries)


def test_the_query_count_does_not_grow_with_the_fleet(client, clock, read_token):
    Budget.objects.create(name="t0", label_key="team", label_value="t0", monthly_usd=100)
    client.get(URL, **bearer(read_token))  # the token's last-use write happens once
    _fleet_of(2)
    small = _queries(client, read_token)
    _fleet_of(20)
    large = _queries(client, read_token)
    # Cost, economics (spend, rollups, deployments), capacity, labels, budgets, anomalies,
    # agents, recommendations, the token: none of them per deployment.
    assert small == large <= 14
    text = client.get(URL, **bearer(read_token)).content.decode()
    assert text.count("inferscope_deployment_cost_usd_per_hour{") == 22
    assert text.count("inferscope_deployment_replicas_needed{") == 44


def test_it_exposes_goodput_cache_savings_and_capacity_by_hand(client, read_token, monkeypatch):
    """tests/economics/fleet.py's two hours, scraped 20 minutes after them; every
    figure as tests/economics/test_hand_checked.py works it out."""
    monkeypatch.setattr(timezone, "now", lambda: END + timedelta(minutes=20))
    store()
    capacity_estimates_update(now=END)

    metrics = scrape(client, read_token)

    chat = {"deployment": "chat", "node": "node-e", "label_team": "a"}
    embed = {"deployment": "embed", "node": "node-e", "label_team": "b"}
    # The last complete hour, H+1: chat held its GPU serving nothing, embed served,
    # and the third GPU had no deployment: $2 each.
    assert metrics["inferscope_cost_usd_per_hour"] == [
        ({"kind": "active"}, 2.0),
        ({"kind": "idle_held"}, 2.0),
        ({"kind": "truly_idle"}, 2.0),
    ]
    assert metrics["inferscope_deployment_idle_held_usd_per_hour"] == [(chat, 2.0), (embed, 0.0)]
    # Over the 24 hours to the end of H+1: chat's two hours cost $4.00 for 420 requests of
    # 450 within every target (TTFT, the worst metric, 93.3%); embed's 2,400 all within.
    assert metrics["inferscope_deployment_goodput_ratio"] == [
        (chat, pytest.approx(420 / 450, rel=1e-4)),
        (embed, 1.0),
    ]
    assert metrics["inferscope_deployment_usd_per_good_request"] == [
        (chat, pytest.approx(4.00 / 420, rel=1e-4)),
        (embed, pytest.approx(4.00 / 2400)),
    ]
    # 18,000 cached prompt tokens at $0.80 / 27,000 computed ones, less one preempted
    # request's 125 tokens redone; embed reports no cache.
    assert metrics["inferscope_deployment_cache_net_savings_usd"] == [
        (chat, pytest.approx((18_000 - 125) * 0.60 / 27_000)),
    ]
    # chat: 50 requests per busy 5 minutes (1/6 per second), too few chunks to find a
    # knee: at least that; nothing ran in the window's last hour, 450 in 3,600 s at peak.
    # embed: a steady 1/3 per second, far from its targets: at least that, and all used.
    assert metrics["inferscope_deployment_capacity_rps"] == [
        (chat, pytest.approx(1 / 6)),
        (embed, pytest.approx(1 / 3)),
    ]
    assert metrics["inferscope_deployment_capacity_is_lower_bound"] == [(chat, 1.0), (embed, 1.0)]
    assert metrics["inferscope_deployment_headroom_ratio"] == [
        (chat, 1.0),
        (embed, pytest.approx(0.0, abs=1e-9)),
    ]
    assert metrics["inferscope_deployment_replicas_needed"] == [
        ({**chat, "load": "current"}, 0.0),
        ({**chat, "load": "peak"}, 1.0),
        ({**embed, "load": "current"}, 1.0),
        ({**embed, "load": "peak"}, 1.0),
    ]
