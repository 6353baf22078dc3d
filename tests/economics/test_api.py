"""/api/v1/economics/: the figures of tests/economics/fleet.py's two hours, as
tests/economics/test_hand_checked.py works them out, behind a login or a token."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from api.services import api_token_create
from collectors.models import Deployment, DeploymentSettings
from telemetry.capacity import capacity_estimates_update
from tests.economics.fleet import END, H, store

pytestmark = pytest.mark.django_db

API = "/api/v1/economics/"
LISTS = ["deployments", "idle/series", "idle/report", "capacity"]
PERIOD = {"start": H.isoformat(), "end": END.isoformat()}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def fleet() -> dict[str, int]:
    store()
    capacity_estimates_update(now=END)
    return {d.name: d.pk for d in Deployment.objects.all()}


@pytest.fixture
def reader(owner) -> Client:
    """A client with alice's read token."""
    _, token = api_token_create(owner, "grafana", "read")
    return Client(**bearer(token))


def body(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return response.json()


def errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def download(response: Any) -> str:
    assert response.status_code == 200, response.content
    content = getattr(response, "streaming_content", None)
    return b"".join(content).decode() if content is not None else response.content.decode()


def csv_rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(download(response))))


# -- who may read -------------------------------------------------------------------


@pytest.mark.parametrize("path", [*LISTS, "capacity/1"])
def test_every_endpoint_needs_a_person(path: str, agent_token) -> None:
    anonymous = Client().get(API + path)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "Authentication credentials were not provided."
    assert Client().get(API + path, **bearer(agent_token[1])).status_code == 401
    assert Client().get(API + path, **bearer("isk_unknown")).status_code == 401


@pytest.mark.parametrize("path", LISTS)
def test_a_read_token_and_a_teammates_session_read_them(path: str, reader, teammate) -> None:
    assert reader.get(API + path).status_code == 200
    session = Client()
    session.force_login(teammate)
    assert session.get(API + path).status_code == 200


@pytest.mark.parametrize("path", LISTS)
def test_they_are_read_only(path: str, owner) -> None:
    _, write = api_token_create(owner, "write", "write")
    assert Client().post(API + path, {}, **bearer(write)).status_code == 405


# -- deployments --------------------------------------------------------------------


def test_each_deployments_figures_by_hand(reader, fleet) -> None:
    page = body(reader.get(API + "deployments", PERIOD))
    assert (page["start"], page["end"]) == ("2026-11-03T10:00:00Z", "2026-11-03T12:00:00Z")
    assert page["count"] == 2 and page["next"] is None
    chat, embed = page["results"]  # both $4.00; then by name
    assert (chat["deployment"], chat["deployment_name"], chat["node_name"]) == (
        fleet["chat"],
        "chat",
        "node-e",
    )
    assert chat["labels"] == {"team": "a"}
    # chat served 45 minutes of hour H on its $2/h GPU, then nothing in H+1.
    assert (chat["cost_usd"], chat["active_usd"], chat["idle_held_usd"]) == (
        "4.000000",
        "1.500000",
        "2.500000",
    )
    # Hour H: prefill's share of the GPU time is 1,350 / (1,350 + 4,050 / 2) = 0.4;
    # the idle hour H+1 is split alike: $0.80 + $0.80 of prefill, $2.40 of decode.
    assert (chat["prefill_usd"], chat["decode_usd"], chat["phase_basis"]) == (
        "1.600000",
        "2.400000",
        "request",
    )
    assert chat["usd_per_1m_prompt"] == pytest.approx(1.60 / 45_000 * 1e6)  # 35.56
    assert chat["usd_per_1m_generated"] == pytest.approx(2.40 / 22_500 * 1e6)  # 106.67
    assert (chat["requests"], chat["prompt_tokens"], chat["generation_tokens"]) == (
        450,
        45_000,
        22_500,
    )
    assert (chat["cache_hits"], chat["cache_queries"], chat["hit_rate"]) == (
        18_000,
        45_000,
        pytest.approx(0.4),
    )
    # 18,000 hits at $0.80 / 27,000 computed prompt tokens; one preemption redoes 125.
    assert chat["preemptions"] == 1
    # Priced from the active dollars only: $0.60 of prefill for 27,000 computed tokens.
    assert chat["cache_saved_usd"] == "0.400000"
    assert chat["recompute_usd"] == "0.002778"
    assert chat["cache_net_usd"] == "0.397222"
    # TTFT within 2 s: 9.333 of every 10 requests; 480 of 500 tokens within 100 ms.
    assert chat["ttft_met_share"] == pytest.approx(0.93333, rel=1e-4)
    assert chat["itl_met_share"] == pytest.approx(0.96)
    assert chat["e2e_met_share"] == pytest.approx(1.0)
    assert chat["good_requests"] == pytest.approx(420.0)
    assert chat["good_requests_min"] == pytest.approx(450 * (1 - 0.066667 - 0.04), rel=1e-4)
    assert chat["goodput"] == pytest.approx(0.93333, rel=1e-4)
    assert chat["goodput_min"] == pytest.approx(1 - 0.066667 - 0.04, rel=1e-4)
    assert (chat["slo_ttft_ms"], chat["slo_itl_ms"], chat["slo_e2e_ms"]) == (2000, 100, 30000)
    assert chat["usd_per_good_request"] == pytest.approx(4.00 / 420, rel=1e-4)
    assert chat["usd_per_request"] == pytest.approx(4.00 / 450)
    # embed (TGI) only ran prefill batches: all $4.00 is prefill, over 240,000 prompt tokens.
    assert (embed["prefill_usd"], embed["decode_usd"], embed["phase_basis"]) == (
        "4.000000",
        "0.000000",
        "forward",
    )
    assert embed["usd_per_1m_prompt"] == pytest.approx(4.00 / 240_000 * 1e6)
    assert embed["usd_per_1m_generated"] is None
    assert embed["hit_rate"] is None and embed["ttft_met_share"] is None
    assert embed["goodput"] == pytest.approx(1.0)


def test_deployments_follow_their_edited_targets(reader, fleet) -> None:
    DeploymentSettings.objects.create(
        deployment_id=fleet["chat"], slo_ttft_ms=1000, slo_itl_ms=50, slo_e2e_ms=10_000
    )
    [chat] = body(reader.get(API + "deployments", {**PERIOD, "deployment": "chat"}))["results"]
    assert (chat["slo_ttft_ms"], chat["slo_itl_ms"], chat["slo_e2e_ms"]) == (1000, 50, 10_000)
    assert chat["goodput"] == pytest.approx(0.8)
    assert chat["goodput_min"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"deployment": "embed"}, ["embed"]),
        ({"deployment": ["chat", "embed"]}, ["chat", "embed"]),
        ({"label": "team:a"}, ["chat"]),
        ({"label": "team=b"}, ["embed"]),
        ({"node": "node-e"}, ["chat", "embed"]),
        ({"gpu": "e1"}, ["embed"]),
        ({"node": "elsewhere"}, []),
    ],
)
def test_deployments_filter(reader, fleet, params: dict[str, Any], names: list[str]) -> None:
    results = body(reader.get(API + "deployments", {**PERIOD, **params}))["results"]
    assert [row["deployment_name"] for row in results] == names


def test_deployments_filter_by_id(reader, fleet) -> None:
    results = body(reader.get(API + "deployments", {**PERIOD, "deployment": fleet["embed"]}))
    assert [row["deployment_name"] for row in results["results"]] == ["embed"]


def test_a_period_is_whole_hours(reader, fleet) -> None:
    # 10:20 to 10:40 is the hour from 10:00: chat's hour H.
    period = {"start": "2026-11-03T10:20:00Z", "end": "2026-11-03T10:40:00+00:00"}
    page = body(reader.get(API + "deployments", {**period, "deployment": "chat"}))
    assert (page["start"], page["end"]) == ("2026-11-03T10:00:00Z", "2026-11-03T11:00:00Z")
    assert page["results"][0]["cost_usd"] == "2.000000"
    assert page["results"][0]["prefill_usd"] == "0.800000"


def test_without_a_period_the_last_30_days(reader, fleet) -> None:
    page = body(reader.get(API + "deployments"))
    start = datetime.fromisoformat(page["start"])
    end = datetime.fromisoformat(page["end"])
    assert end - start in (timedelta(days=30), timedelta(days=30, hours=1))
    assert end >= datetime.now(UTC) and end.minute == 0
    # Only the end given: the 30 days before it.
    page = body(reader.get(API + "deployments", {"end": END.isoformat()}))
    assert page["start"] == (END - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert [row["cost_usd"] for row in page["results"]] == ["4.000000", "4.000000"]


def test_deployments_come_in_pages(reader, fleet) -> None:
    first = body(reader.get(API + "deployments", {**PERIOD, "page_size": 1}))
    assert first["count"] == 2 and [r["deployment_name"] for r in first["results"]] == ["chat"]
    second = body(reader.get(first["next"]))
    assert [r["deployment_name"] for r in second["results"]] == ["embed"]
    assert second["start"] == first["start"]


def test_deployments_download_as_csv_and_json(reader, fleet) -> None:
    response = reader.get(API + "deployments", {**PERIOD, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert (
        'filename="economics-deployments-20261103T1000Z-20261103T1200Z.csv"'
        in response["Content-Disposition"]
    )
    rows = {row["deployment_name"]: row for row in csv_rows(response)}
    assert rows["chat"]["prefill_usd"] == "1.600000"
    assert rows["chat"]["idle_held_usd"] == "2.500000"
    assert json.loads(rows["chat"]["labels"]) == {"team": "a"}
    assert rows["embed"]["usd_per_1m_generated"] == ""  # null
    page = body(reader.get(API + "deployments", PERIOD))
    exported = json.loads(download(reader.get(API + "deployments", {**PERIOD, "format": "json"})))
    assert exported == {**page, "next": None, "previous": None}


# -- idle time ----------------------------------------------------------------------


def test_the_idle_series_by_hand(reader, fleet) -> None:
    series = body(reader.get(API + "idle/series", PERIOD))
    assert series["step"] == "hour"
    first, second = series["results"]
    # Hour H: chat served 45 minutes ($1.50 active, $0.50 held), embed all of it ($2.00),
    # nobody was on the third GPU ($2.00 truly idle). Hour H+1: chat served nothing.
    assert first == {
        "at": "2026-11-03T10:00:00Z",
        "usd": "6.000000",
        "active_usd": "3.500000",
        "idle_held_usd": "0.500000",
        "truly_idle_usd": "2.000000",
        "active_hours": pytest.approx(1.75),
        "idle_held_hours": pytest.approx(0.25),
        "truly_idle_hours": pytest.approx(1.0),
    }
    assert (second["active_usd"], second["idle_held_usd"], second["truly_idle_usd"]) == (
        "2.000000",
        "2.000000",
        "2.000000",
    )
    # The three add up to the bill: 3 GPUs x 2 h x $2.
    totals = series["totals"]
    assert (totals["active_usd"], totals["idle_held_usd"], totals["truly_idle_usd"]) == (
        "5.500000",
        "2.500000",
        "4.000000",
    )
    assert totals["usd"] == "12.000000"
    assert (totals["active_hours"], totals["idle_held_hours"], totals["truly_idle_hours"]) == (
        pytest.approx(2.75),
        pytest.approx(1.25),
        pytest.approx(2.0),
    )


def test_the_idle_series_by_day(reader, fleet) -> None:
    series = body(reader.get(API + "idle/series", {**PERIOD, "step": "day"}))
    [day] = series["results"]
    assert day["at"] == "2026-11-03T00:00:00Z" and day["usd"] == "12.000000"


@pytest.mark.parametrize(
    ("params", "split"),
    [
        # A label keeps its deployments' shares and its GPUs' idle time (none on e0).
        ({"label": "team:a"}, ("1.500000", "2.500000", "0.000000")),
        ({"deployment": "embed"}, ("4.000000", "0.000000", "0.000000")),
        # A node keeps its GPUs' truly idle time too: the whole bill here.
        ({"node": "node-e"}, ("5.500000", "2.500000", "4.000000")),
    ],
)
def test_the_idle_series_filters(reader, fleet, params: dict[str, str], split: tuple) -> None:
    totals = body(reader.get(API + "idle/series", {**PERIOD, **params}))["totals"]
    assert (totals["active_usd"], totals["idle_held_usd"], totals["truly_idle_usd"]) == split


def test_the_idle_series_downloads_as_csv(reader, fleet) -> None:
    response = reader.get(API + "idle/series", {**PERIOD, "format": "csv"})
    assert (
        "economics-idle-20261103T1000Z-20261103T1200Z-hour.csv" in (response["Content-Disposition"])
    )
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "at",
        "usd",
        "active_usd",
        "idle_held_usd",
        "truly_idle_usd",
        "active_hours",
        "idle_held_hours",
        "truly_idle_hours",
    ]
    assert [(r["at"], r["idle_held_usd"]) for r in rows] == [
        ("2026-11-03T10:00:00Z", "0.500000"),
        ("2026-11-03T11:00:00Z", "2.000000"),
    ]
    as_json = reader.get(API + "idle/series", {**PERIOD, "format": "json"})
    assert "attachment" in as_json["Content-Disposition"]
    assert as_json.json() == body(reader.get(API + "idle/series", PERIOD))


def test_the_idle_report_by_deployment(reader, fleet) -> None:
    report = body(reader.get(API + "idle/report", PERIOD))
    assert report["by"] == "deployment"
    rows = {row["group"]: row for row in report["rows"]}
    assert list(rows) == ["chat on node-e", "embed on node-e", "(idle)"]
    chat = rows["chat on node-e"]
    assert (chat["usd"], chat["active_usd"], chat["idle_held_usd"], chat["truly_idle_usd"]) == (
        "4.000000",
        "1.500000",
        "2.500000",
        "0.000000",
    )
    assert chat["idle_held_share"] == pytest.approx(2.5 / 4)
    assert (chat["gpu_hours"], chat["idle_held_hours"]) == (pytest.approx(2.0), 1.25)
    assert rows["(idle)"]["truly_idle_usd"] == "4.000000"
    total = report["total"]
    assert total["group"] == "total" and total["usd"] == "12.000000"
    assert (total["active_usd"], total["idle_held_usd"], total["truly_idle_usd"]) == (
        "5.500000",
        "2.500000",
        "4.000000",
    )


@pytest.mark.parametrize(
    ("by", "group", "split"),
    [
        ("node", "node-e", ("5.500000", "2.500000", "4.000000")),
        ("label:team", "a", ("1.500000", "2.500000", "0.000000")),
        ("gpu", "node-e #2 NVIDIA H100 80GB HBM3 (e2)", ("0.000000", "0.000000", "4.000000")),
    ],
)
def test_the_idle_report_groups(reader, fleet, by: str, group: str, split: tuple) -> None:
    report = body(reader.get(API + "idle/report", {**PERIOD, "by": by}))
    row = {r["group"]: r for r in report["rows"]}[group]
    assert (row["active_usd"], row["idle_held_usd"], row["truly_idle_usd"]) == split
    assert report["total"]["usd"] == "12.000000"


def test_the_idle_report_downloads_as_csv_with_the_total_last(reader, fleet) -> None:
    rows = csv_rows(reader.get(API + "idle/report", {**PERIOD, "format": "csv", "by": "node"}))
    assert [r["group"] for r in rows] == ["node-e", "total"]
    assert rows[-1]["truly_idle_usd"] == "4.000000"


# -- capacity -----------------------------------------------------------------------


def test_capacity_estimates_by_hand(reader, fleet) -> None:
    page = body(reader.get(API + "capacity"))
    chat, embed = page["results"]
    # chat: 50 requests in each busy 5 minutes (1/6 per second), nine such chunks: too few
    # to find a knee, so at least the busiest rate. Its window's last hour served nothing;
    # its busiest 60 minutes are the first 45 it reported, all serving: 1/6 per second.
    assert chat["deployment"] == fleet["chat"] and chat["deployment_name"] == "chat"
    assert chat["basis"] == "insufficient" and chat["is_lower_bound"] is True
    assert chat["binding_metric"] == ""
    assert chat["capacity_rps"] == pytest.approx(1 / 6)
    assert chat["capacity_tokens_s"] == pytest.approx(150 / 6)  # 150 tokens a request
    assert (chat["current_rps"], chat["peak_rps"]) == (0.0, pytest.approx(1 / 6))
    assert chat["headroom"] == pytest.approx(1.0)
    assert (chat["replicas_needed"], chat["replicas_needed_peak"]) == (0, 1)
    assert (chat["window_start"], chat["window_end"]) == (
        "2026-11-02T12:00:00Z",
        "2026-11-03T12:00:00Z",
    )
    assert "detail" not in chat
    # embed: a steady 1/3 per second, every bin alike and far inside its targets.
    assert embed["capacity_rps"] == pytest.approx(1 / 3)
    assert embed["headroom"] == pytest.approx(0.0, abs=1e-9)
    assert (embed["replicas_needed"], embed["replicas_needed_peak"]) == (1, 1)


def test_a_capacity_estimate_in_detail(reader, fleet) -> None:
    detail = body(reader.get(API + f"capacity/{fleet['chat']}"))
    assert detail["capacity_rps"] == pytest.approx(1 / 6)
    assert detail["detail"]["busiest_rps"] == pytest.approx(1 / 6)
    assert detail["detail"]["tokens_per_request"] == pytest.approx(150)


@pytest.mark.parametrize("ref", ["999999", "x", "-1", "99999999999999999999999"])
def test_an_unknown_capacity_estimate_is_404(reader, fleet, ref: str) -> None:
    response = reader.get(API + f"capacity/{ref}")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_capacity_filters_and_downloads(reader, fleet) -> None:
    results = body(reader.get(API + "capacity", {"label": "team:b"}))["results"]
    assert [r["deployment_name"] for r in results] == ["embed"]
    rows = csv_rows(reader.get(API + "capacity", {"format": "csv"}))
    assert [(r["deployment_name"], r["replicas_needed_peak"]) for r in rows] == [
        ("chat", "1"),
        ("embed", "1"),
    ]
    assert "capacity.csv" in reader.get(API + "capacity", {"format": "csv"})["Content-Disposition"]


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("deployments", {"start": "yesterday"}, "start"),
        ("deployments", {"start": "2026-11-03T12:00Z", "end": "2026-11-03T10:00Z"}, "end"),
        ("deployments", {"start": "2024-01-01", "end": "2026-01-01"}, "start"),
        ("deployments", {"start": "1999-12-31T00:00Z"}, "start"),
        ("deployments", {"label": "team"}, "label"),
        ("deployments", {"format": "xml"}, "format"),
        ("deployments", {"page": 9}, "page"),
        ("deployments", {"page": "x"}, "page"),
        ("idle/series", {"step": "week"}, "step"),
        ("idle/series", {"end": "not a time"}, "end"),
        ("idle/report", {"by": "colour"}, "by"),
        ("idle/report", {"by": "label:"}, "by"),
        ("idle/report", {"format": "pdf"}, "format"),
        ("capacity", {"label": "=x"}, "label"),
        ("capacity", {"page": 2}, "page"),
        # Filters these two do not take are refused, not dropped for the whole bill.
        ("idle/series", {"gpu": "e0"}, "gpu"),
        ("idle/report", {"label": "team:a"}, "label"),
        ("idle/report", {"node": "node-e"}, "node"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    reader, fleet, path: str, params: dict[str, Any], field: str
) -> None:
    assert field in errors(reader.get(API + path, params))
