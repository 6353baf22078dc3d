"""Every other app's list: start/end on its time field, ?format=csv|json, auth kept."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client

from alerts.models import Alert, AlertEvent, Channel, Delivery, Rule, Silence
from anomaly.models import Anomaly
from costs.models import Budget, HostedAlternative, NodePrice, PriceBookEntry
from profiling.models import ProfilingJob
from recommendations.choices import Confidence
from recommendations.models import Recommendation
from tests.api.exports import as_cells, body_of, parse_csv
from tests.api.fleet import V1, errors, make_fleet

pytestmark = pytest.mark.django_db

OLD = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
NEW = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
MID = "2026-03-05T12:00:00"  # no offset: UTC


def _at(row: Model, field: str, when: datetime) -> Model:
    """Sets a time an auto_now_add field would not take."""
    type(row).objects.filter(pk=row.pk).update(**{field: when})
    return row


def _rule(i: int) -> Rule:
    return Rule.objects.create(name=f"rule-{i}", kind="silence", value=5)


def _channel(i: int) -> Channel:
    return Channel.objects.create(name=f"mail-{i}", kind="email", email_to="a@example.org")


def _alert(i: int, when: datetime) -> Alert:
    return Alert.objects.create(
        rule=_rule(i), entity=f"gpu:{i}", entity_label=f"gpu {i}", state="firing",
        summary="s", started_at=when,
    )  # fmt: skip


def _delivery(i: int, when: datetime) -> Model:
    event = AlertEvent.objects.create(alert=_alert(i, when), kind="firing", summary="s")
    return _at(Delivery.objects.create(event=event, channel=_channel(i)), "created_at", when)


def _recommendation(i: int, when: datetime) -> Recommendation:
    return Recommendation.objects.create(
        rule="idle_gpus", fingerprint=f"idle_gpus:{i}", title=f"r{i}", action="x",
        monthly_saving_usd=Decimal(10 + i), arithmetic="x", confidence=Confidence.HIGH,
        first_seen_at=when, last_seen_at=when,
    )  # fmt: skip


def _anomaly(i: int, when: datetime) -> Anomaly:
    return Anomaly.objects.create(
        metric="gpu.util", detector="seasonal", kind="spike", start=when, end=when, score=9.0,
        severity="warning", explanation="x",
    )  # fmt: skip


def _price(i: int, when: datetime) -> PriceBookEntry:
    if i == 0:
        PriceBookEntry.objects.all().delete()  # the book the migrations load
    return PriceBookEntry.objects.create(
        gpu_model="H100 SXM", kind="on_demand", usd_per_gpu_hour=Decimal("2.5"),
        valid_from=when.date(), source="list",
    )  # fmt: skip


Maker = Callable[[int, datetime, dict[str, Any]], Model]

# path → a row made at a given time (fleet: make_fleet's nodes and deployments)
LISTS: dict[str, Maker] = {
    "alerts/channels": lambda i, t, f: _at(_channel(i), "created_at", t),
    "alerts/rules": lambda i, t, f: _at(_rule(i), "created_at", t),
    "alerts/silences": lambda i, t, f: _at(
        Silence.objects.create(starts_at=t, ends_at=t + timedelta(hours=1)), "created_at", t
    ),
    "alerts/alerts": lambda i, t, f: _alert(i, t),
    "alerts/deliveries": lambda i, t, f: _delivery(i, t),
    "costs/prices": lambda i, t, f: _price(i, t),
    "costs/node-prices": lambda i, t, f: NodePrice.objects.create(
        node=f["nodes"][0], valid_from=t.date(), kind="custom", usd_per_gpu_hour=Decimal(2)
    ),
    "costs/budgets": lambda i, t, f: _at(
        Budget.objects.create(name=f"b{i}", label_key="team", label_value="x", monthly_usd=100),
        "created_at",
        t,
    ),
    "profiling/jobs": lambda i, t, f: _at(ProfilingJob.objects.create(spec={}), "created_at", t),
    "recommendations/": lambda i, t, f: _recommendation(i, t),
    "anomalies/": lambda i, t, f: _anomaly(i, t),
}
UNTIMED = {
    "costs/hosted-alternatives": lambda i, t, f: HostedAlternative.objects.create(
        deployment=f["deployments"][i], name=f"h{i}", usd_per_1m_input=1, usd_per_1m_output=2
    ),
}


@pytest.fixture
def reader(owner) -> Client:
    from api.services import api_token_create

    _, token = api_token_create(owner, "exports", "read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _rows(path: str) -> tuple[int, int]:
    make = {**LISTS, **UNTIMED}[path]
    fleet = make_fleet()
    return make(0, OLD, fleet).pk, make(1, NEW, fleet).pk


def _ids(client: Client, path: str, **params: str) -> list[int]:
    response = client.get(V1 + path, params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("path", LISTS)
def test_start_and_end_keep_the_rows_in_the_range(reader, path):
    old, new = _rows(path)
    assert sorted(_ids(reader, path)) == sorted([old, new])
    assert _ids(reader, path, start=MID) == [new]
    assert _ids(reader, path, end=MID) == [old]
    assert _ids(reader, path, start="2026-03-01T00:00:00+02:00", end="2026-03-11") != []
    assert _ids(reader, path, start="2026-03-11T00:00:00Z") == []


@pytest.mark.parametrize("path", [*LISTS, *UNTIMED])
def test_a_bad_time_range_or_format_is_a_400_naming_it(reader, path):
    assert "start" in errors(reader.get(V1 + path, {"start": "yesterday"}))
    assert "end" in errors(reader.get(V1 + path, {"start": MID, "end": MID}))
    assert "end" in errors(reader.get(V1 + path, {"start": MID, "end": "2026-03-01"}))
    assert "format" in errors(reader.get(V1 + path, {"format": "xml"}))


def test_a_list_without_a_time_refuses_a_range(reader):
    _rows("costs/hosted-alternatives")
    path = V1 + "costs/hosted-alternatives"
    assert errors(reader.get(path, {"start": MID})) == {
        "start": "This list has no time to filter by."
    }


@pytest.mark.parametrize("path", [*LISTS, *UNTIMED])
def test_csv_and_json_exports_are_the_rows_of_the_pages(reader, path):
    _rows(path)
    page = reader.get(V1 + path).json()["results"]
    assert len(page) == 2
    header, rows = parse_csv(reader.get(V1 + path, {"format": "csv"}))
    assert header == list(page[0])
    assert rows == [as_cells(row) for row in page]
    assert not {"url", "secret"} & set(header)  # write-only: a channel's secrets stay
    response = reader.get(V1 + path, {"format": "json"})
    assert response["Content-Type"] == "application/json"
    exported = json.loads(body_of(response))
    assert exported == {"count": 2, "next": None, "previous": None, "results": page}


@pytest.mark.parametrize("path", LISTS)
def test_an_export_keeps_the_range(reader, path):
    _, new = _rows(path)
    response = reader.get(V1 + path, {"format": "csv", "start": MID})
    header, rows = parse_csv(response)
    assert [int(row[header.index("id")]) for row in rows] == [new]
    assert response["Content-Disposition"].endswith('-20260305T1200Z.csv"')


@pytest.mark.parametrize("path", [*LISTS, *UNTIMED])
def test_a_list_and_its_export_still_need_a_login(db, path):
    assert Client().get(V1 + path).status_code == 401
    assert Client().get(V1 + path, {"format": "csv"}).status_code == 401
