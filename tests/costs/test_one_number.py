"""One figure, one number: on random fleets, the money a page shows, the API's JSON, its
CSV export, the chargeback report and /metrics agree for the same window and filter.

Each door is read as a user reads it (pages and the API over HTTP, /metrics parsed with
prometheus_client), so a second computation of a figure anywhere makes this fail."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import msgspec
import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from api.services import api_token_create
from collectors.ingest import ingest_batch
from collectors.models import Agent, Deployment, Node, SampleSpan
from collectors.scope import deployment_labels
from collectors.services import agent_create
from costs.models import HourlySpend, PriceBookEntry
from costs.pipeline import rollup_pending

START = datetime(2026, 10, 5, tzinfo=UTC)
# The clock when the doors are read: /metrics then covers the hour START + 2 h, and
# $ per 1M tokens the 24 hours to START + 3 h.
NOW = START + timedelta(hours=3, minutes=5)
HOUR = START + timedelta(hours=2)
LABELS = [{}, {"team": "a"}, {"team": "b"}]
V1 = "/api/v1/"

gpu_plan = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["NVIDIA H100 80GB HBM3", "NVIDIA L4"]),
        "minutes": st.integers(60, 180),
        "every": st.sampled_from([30, 60]),
    }
)
deployment_plan = st.fixed_dictionaries(
    {
        "gpus": st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True),
        "requests": st.integers(0, 40),
        "minutes": st.integers(30, 180),
        "labels": st.sampled_from(LABELS),
    }
)


def _body(
    gpus: list[dict[str, Any]], deployments: list[dict[str, Any]], node_labels: list[dict]
) -> dict[str, Any]:
    inventory: dict[str, Any] = {
        "nodes": [{"name": f"n{i}", "labels": node_labels[i]} for i in range(2)],
        "gpus": [
            {"uuid": f"g{i}", "node": f"n{i % 2}", "index": i, "model": g["model"]}
            for i, g in enumerate(gpus)
        ],
        "deployments": [],
    }
    gpu_samples, inference_samples = [], []
    for i, gpu in enumerate(gpus):
        for second in range(0, gpu["minutes"] * 60, gpu["every"]):
            ts = START + timedelta(seconds=second)
            gpu_samples.append({"gpu": f"g{i}", "ts": ts.isoformat(), "power_w": 300.0})
    for d, dep in enumerate(deployments):
        node = d % 2
        uuids = [f"g{i}" for i in dep["gpus"] if i < len(gpus) and i % 2 == node]
        inventory["deployments"].append(
            {"name": f"d{d}", "node": f"n{node}", "gpus": uuids, "labels": dep["labels"]}
        )
        for minute in range(dep["minutes"]):
            busy = minute % 3 != 0
            inference_samples.append(
                {
                    "deployment": f"d{d}",
                    "ts": (START + timedelta(minutes=minute)).isoformat(),
                    "interval_s": 60.0,
                    "requests_ok": dep["requests"] if busy else 0,
                    "prompt_tokens": dep["requests"] * 300 if busy else 0,
                    "generation_tokens": dep["requests"] * 50 if busy else 0,
                    # Time to first token: some requests within any SLO, some far past it.
                    "ttft_hist": {
                        "bounds": [0.05, 0.5, 5.0],
                        "counts": [dep["requests"], dep["requests"] // 2, minute % 4, 0],
                        "sum": 1.0,
                    },
                }
            )
    return {
        "schema_version": 1,
        "batch_id": "one-number",
        "inventory": inventory,
        "gpu_samples": gpu_samples,
        "inference_samples": inference_samples,
    }


def _fresh_fleet(
    gpus: list[dict[str, Any]], deployments: list[dict[str, Any]], node_labels: list[dict]
) -> None:
    # Hypothesis runs every example in the one test transaction: start each empty.
    Node.objects.all().delete()
    Agent.objects.all().delete()
    SampleSpan.objects.all().delete()
    HourlySpend.objects.all().delete()
    agent = agent_create(f"one-number-{datetime.now().timestamp()}")[0]
    body = _body(gpus, deployments, node_labels)
    body["batch_id"] = agent.name
    ingest_batch(agent, msgspec.json.encode(body), now=NOW)
    rollup_pending(now=NOW)


def _usd(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"))


def _cents(value: Any) -> Decimal:
    """The chargeback report states dollars to the cent."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _records(api: Client, start: datetime, end: datetime, **filters: str) -> list[Decimal]:
    """$ of the cost records a filter leaves: (JSON export, CSV export)."""
    query = {"start": start.isoformat(), "end": end.isoformat(), **filters}
    as_json = api.get(V1 + "cost-records", {**query, "format": "json"})
    as_csv = api.get(V1 + "cost-records", {**query, "format": "csv"})
    assert as_json.status_code == as_csv.status_code == 200
    exported = json.loads(b"".join(as_json.streaming_content))
    rows = exported["results"] if isinstance(exported, dict) else exported
    table = list(csv.DictReader(io.StringIO(b"".join(as_csv.streaming_content).decode())))
    return [
        sum((_usd(r["usd"]) for r in rows), Decimal(0)),
        sum((_usd(r["usd"]) for r in table), Decimal(0)),
    ]


def _report(api: Client, start: datetime, end: datetime, by: str) -> dict[str, dict]:
    response = api.get(
        V1 + "costs/report", {"start": start.isoformat(), "end": end.isoformat(), "by": by}
    )
    assert response.status_code == 200, response.content
    return {row["group"]: row for row in response.json()["rows"]}


def _page_totals(browser: Client, start: datetime, end: datetime, label: str = "") -> Any:
    fmt = "%Y-%m-%dT%H:%M"
    query = {"start": start.strftime(fmt), "end": end.strftime(fmt)}
    if label:
        query["label"] = label
    response = browser.get("/costs/", query)
    assert response.status_code == 200
    return response.context["totals"]


def _same(a: float | None, b: float | None, places: int | None = None) -> bool:
    """Both absent, or the same number; the report rounds $ per 1M to `places`."""
    if a is None or b is None:
        return a is None and b is None
    return round(a, places) == b if places is not None else b == pytest.approx(a, rel=1e-9)


def _series(dep: Deployment) -> tuple[tuple[str, str], ...]:
    """The labels of a deployment's series on /metrics."""
    labels = deployment_labels(dep.labels, dep.node.labels)
    named = {f"label_{key}": value for key, value in labels.items()}
    return tuple(sorted({"deployment": dep.name, "node": dep.node.name, **named}.items()))


def _metrics(api: Client) -> dict[tuple[str, tuple], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.mark.django_db
@settings(
    max_examples=12,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    # The owner is only read: one per test is right for every example.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    gpus=st.lists(gpu_plan, min_size=1, max_size=4),
    deployments=st.lists(deployment_plan, min_size=1, max_size=3),
    node_labels=st.lists(st.sampled_from(LABELS), min_size=2, max_size=2),
    label=st.sampled_from(["", "team:a", "team:b"]),
)
def test_every_door_shows_the_same_money(
    gpus: list[dict[str, Any]],
    deployments: list[dict[str, Any]],
    node_labels: list[dict],
    label: str,
    owner: Any,
) -> None:
    PriceBookEntry.objects.update_or_create(
        gpu_model="H100 SXM",
        kind="on_demand",
        valid_from=START.date(),
        defaults={"usd_per_gpu_hour": Decimal("3.5"), "source": "test"},
    )
    _fresh_fleet(gpus, deployments, node_labels)
    _, token = api_token_create(owner, f"t{datetime.now().timestamp()}", "read")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    browser = Client()
    browser.force_login(owner)
    window_end = START + timedelta(hours=3)

    with mock.patch("django.utils.timezone.now", return_value=NOW):
        metrics = _metrics(api)
        hour_report = _report(api, HOUR, HOUR + timedelta(hours=1), "deployment")
        hour_page = _page_totals(browser, HOUR, HOUR + timedelta(hours=1))
        # The last complete hour, deployment by deployment.
        for dep in Deployment.objects.select_related("node"):
            shown = metrics.get(("inferscope_deployment_cost_usd_per_hour", _series(dep)))
            records = _records(
                api, HOUR, HOUR + timedelta(hours=1), deployment=dep.name, idle="false"
            )
            report = hour_report.get(f"{dep.name} on {dep.node.name}")
            page = hour_page.by_deployment.get(dep.pk)
            if shown is None:
                # Not costed in the hour: no series, and $0 wherever it is listed.
                assert records == [0, 0] and page in (None, 0)
                assert report is None or _cents(report["cost_usd"]) == 0
                continue
            assert _usd(shown) == records[0] == records[1] == page
            assert _cents(report["cost_usd"]) == _cents(page)
        # The whole bill of that hour: three kinds of GPU time add up to it everywhere.
        kinds = sum(
            value for (name, _), value in metrics.items() if name == "inferscope_cost_usd_per_hour"
        )
        total = _records(api, HOUR, HOUR + timedelta(hours=1))
        assert _usd(kinds) == total[0] == total[1] == hour_page.usd
        assert _cents(hour_report["total"]["cost_usd"]) == _cents(hour_page.usd)

        # Unit costs over the 24 hours /metrics covers: one definition everywhere.
        day_start, day_end = window_end - timedelta(hours=24), window_end
        day_report = _report(api, day_start, day_end, "deployment")
        economics = {
            row["deployment_name"]: row
            for row in api.get(
                V1 + "economics/deployments",
                {"start": day_start.isoformat(), "end": day_end.isoformat(), "page_size": 100},
            ).json()["results"]
        }
        for dep in Deployment.objects.select_related("node"):
            row = day_report.get(f"{dep.name} on {dep.node.name}")
            shown = metrics.get(("inferscope_deployment_usd_per_1m_tokens", _series(dep)))
            assert _same(shown, (row or {}).get("usd_per_1m_tokens"), 4), dep.name
            prompt = economics.get(dep.name, {}).get("usd_per_1m_prompt")
            assert _same(prompt, (row or {}).get("usd_per_1m_prompt_tokens"), 4), dep.name
            # Latency: the share of requests within the SLO, and $ per such request.
            figures = economics.get(dep.name, {})
            for metric, field in (
                ("inferscope_deployment_goodput_ratio", "goodput"),
                ("inferscope_deployment_usd_per_good_request", "usd_per_good_request"),
            ):
                shown = metrics.get((metric, _series(dep)))
                assert _same(shown, figures.get(field)), (dep.name, field)

        # A label filter over the whole window: the page and the API keep the same rows.
        page = _page_totals(browser, START, window_end, label)
        filters = {"label": label} if label else {}
        assert _records(api, START, window_end, **filters) == [page.usd, page.usd]
        if label:
            # Grouped by the label, its row holds its deployments' shares (no idle).
            key, value = label.split(":")
            grouped = _report(api, START, window_end, f"label:{key}")
            shares = sum(page.by_deployment.values(), Decimal(0))
            assert _cents(grouped[value]["cost_usd"] if value in grouped else 0) == _cents(shares)
