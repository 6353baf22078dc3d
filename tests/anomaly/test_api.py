"""The anomalies API: filtered pages newest first, one anomaly, and status changes
under the same permission as the anomaly page's buttons."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from anomaly.models import Anomaly, DetectorTuning
from api.services import api_token_create
from collectors.models import Deployment, Gpu, Node

pytestmark = pytest.mark.django_db

API = "/api/v1/anomalies/"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make(hours: float, **fields) -> Anomaly:
    start = T0 + timedelta(hours=hours)
    values = {
        "metric": "gpu.util", "detector": "seasonal", "kind": "spike", "start": start,
        "end": start + timedelta(minutes=30), "score": 9.0, "severity": "warning",
        "explanation": "GPU utilization far above its usual level", **fields,
    }  # fmt: skip
    return Anomaly.objects.create(**values)


@pytest.fixture
def fleet() -> dict[str, object]:
    n1, n2 = Node.objects.create(name="n1"), Node.objects.create(name="n2")
    g1 = Gpu.objects.create(node=n1, uuid="GPU-1", index=0, model_name="H100")
    g2 = Gpu.objects.create(node=n2, uuid="GPU-2", index=0, model_name="H100")
    d1 = Deployment.objects.create(node=n1, name="chat")
    return {"n1": n1, "n2": n2, "g1": g1, "g2": g2, "d1": d1}


@pytest.fixture
def rows(fleet) -> dict[str, Anomaly]:
    return {
        "gpu1": make(0, gpu=fleet["g1"]),
        "gpu2": make(1, gpu=fleet["g2"], severity="critical", kind="dip"),
        "dep": make(2, deployment=fleet["d1"], metric="deployment.ttft_p95", status="resolved"),
        "node2": make(3, node=fleet["n2"], metric="node.presence", kind="missing"),
        "fleet": make(4, metric="fleet.cost", severity="info"),
    }


@pytest.fixture
def logged_in(teammate) -> Client:
    client = Client()
    client.force_login(teammate)
    return client


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_anonymous_and_agent_tokens_get_401(client, agent_token, rows):
    assert client.get(API).status_code == 401
    assert client.get(API, **bearer(agent_token[1])).status_code == 401
    assert client.get(f"{API}{rows['gpu1'].pk}").status_code == 401
    response = client.post(f"{API}{rows['gpu1'].pk}/status", {"status": "resolved"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided.",
                               "errors": []}  # fmt: skip


def test_it_lists_newest_first_with_the_entity(client, owner, rows):
    _, token = api_token_create(owner, "grafana", "read")
    response = client.get(API, **bearer(token))
    order = ["fleet", "node2", "dep", "gpu2", "gpu1"]
    assert ids(response) == [rows[key].pk for key in order]
    body = response.json()
    assert body["count"] == 5 and body["next"] is None
    gpu1 = body["results"][-1]
    assert gpu1["entity"] == f"gpu:{rows['gpu1'].gpu_id}"
    assert gpu1["entity_label"] == "n1 #0 H100"
    assert gpu1["status"] == "open" and gpu1["status_changed_by"] is None
    assert gpu1["start"] == "2026-11-20T12:00:00Z"


def test_it_filters(logged_in, fleet, rows):
    def listed(query: str) -> set[str]:
        found = set(ids(logged_in.get(f"{API}?{query}")))
        return {key for key, row in rows.items() if row.pk in found}

    assert listed("status=open") == {"gpu1", "gpu2", "node2", "fleet"}
    assert listed("status=resolved&severity=warning") == {"dep"}
    assert listed("severity=critical") == {"gpu2"}
    assert listed("kind=missing") == {"node2"}
    assert listed("metric=deployment.ttft_p95") == {"dep"}
    assert listed("status=&severity=") == set(rows)  # empty means any
    assert listed(f"gpu={fleet['g1'].pk}") == {"gpu1"}
    assert listed(f"gpu={fleet['g1'].pk}&gpu={fleet['g2'].pk}") == {"gpu1", "gpu2"}
    assert listed(f"deployment={fleet['d1'].pk}") == {"dep"}
    # A node's own anomalies and those of its GPUs and deployments.
    assert listed(f"node={fleet['n1'].pk}") == {"gpu1", "dep"}
    assert listed(f"node={fleet['n2'].pk}") == {"gpu2", "node2"}
    assert listed(f"gpu={fleet['g1'].pk}&deployment={fleet['d1'].pk}&status=open") == {"gpu1"}
    # Those that overlap [start, end): gpu1 ends 12:30, node2 starts 15:00.
    assert listed("start=2026-11-20T12:20:00Z&end=2026-11-20T15:00:00Z") == {
        "gpu1", "gpu2", "dep",
    }  # fmt: skip
    assert listed("start=2026-11-20T15:15:00%2B01:00") == {"dep", "node2", "fleet"}
    assert listed("end=2026-11-20T12:00:01Z") == {"gpu1"}
    assert listed("gpu=999999") == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=nope", "status"),
        ("severity=loud", "severity"),
        ("kind=x", "kind"),
        ("metric=gpu.nope", "metric"),
        ("start=yesterday", "start"),
        ("end=2026-13-40", "end"),
        ("start=2026-11-21T00:00:00Z&end=2026-11-20T00:00:00Z", "end"),
        ("start=2026-11-20T00:00:00Z&end=2026-11-20T00:00:00Z", "end"),
        ("gpu=abc", "gpu"),
        ("node=0", "node"),
        ("deployment=99999999999999999999999", "deployment"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("page_size=501", "page_size"),
        ("page_size=0", "page_size"),
    ],
)
def test_bad_parameters_are_400_field_errors(logged_in, query, field):
    response = logged_in.get(f"{API}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid request."
    assert [e["field"] for e in body["errors"]] == [field]


def test_too_many_ids_is_a_400(logged_in):
    query = "&".join(f"gpu={i}" for i in range(1, 102))
    assert logged_in.get(f"{API}?{query}").status_code == 400


def test_pages_are_bounded(logged_in):
    Anomaly.objects.bulk_create(
        Anomaly(metric="gpu.util", detector="zscore", kind="spike", start=T0, end=T0,
                score=4.0, severity="info", explanation="x")
        for _ in range(520)
    )  # fmt: skip
    first = logged_in.get(API).json()
    assert first["count"] == 520 and len(first["results"]) == 50
    big = logged_in.get(f"{API}?page_size=500&page=2").json()
    assert len(big["results"]) == 20 and big["next"] is None
    everything = ids(logged_in.get(f"{API}?page_size=500")) + big_ids(logged_in)
    # Same start everywhere: the id breaks the tie, so the pages neither repeat nor skip.
    assert everything == sorted(everything, reverse=True) and len(set(everything)) == 520
    past = logged_in.get(f"{API}?page=99")
    assert past.status_code == 400
    assert past.json()["errors"] == [{"field": "page", "message": "There is no such page."}]


def big_ids(client: Client) -> list[int]:
    return ids(client.get(f"{API}?page_size=500&page=2"))


def test_detail_and_404(logged_in, rows):
    response = logged_in.get(f"{API}{rows['dep'].pk}")
    assert response.status_code == 200
    assert response.json()["entity_label"] == "chat on n1"
    assert response.json()["metric"] == "deployment.ttft_p95"
    missing = logged_in.get(f"{API}999999")
    assert missing.status_code == 404 and missing.json()["errors"] == []
    assert logged_in.get(f"{API}99999999999999999999999").status_code == 404


def test_a_status_change_needs_the_permission(client, teammate, rows):
    url = f"{API}{rows['gpu1'].pk}/status"
    _, token = api_token_create(teammate, "bob's", "write")
    refused = client.post(url, {"status": "resolved"}, "application/json", **bearer(token))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "You may not change anomalies.", "errors": []}
    rows["gpu1"].refresh_from_db()
    assert rows["gpu1"].status == "open"
    teammate.user_permissions.add(Permission.objects.get(codename="change_anomaly"))
    allowed = client.post(url, {"status": "acknowledged"}, "application/json", **bearer(token))
    assert allowed.status_code == 200
    assert allowed.json()["status"] == "acknowledged"
    assert allowed.json()["status_changed_by"] == "bob"


def test_a_read_token_cannot_change_a_status(client, owner, rows):
    _, token = api_token_create(owner, "grafana", "read")
    url = f"{API}{rows['gpu1'].pk}/status"
    response = client.post(url, {"status": "resolved"}, "application/json", **bearer(token))
    assert response.status_code == 403
    assert response.json()["detail"] == "This token's scope is read: it cannot change data."


def test_a_false_positive_lowers_the_detectors_sensitivity(owner, rows):
    client = Client(enforce_csrf_checks=True)
    _, token = api_token_create(owner, "ops", "write")
    anomaly = rows["gpu2"]
    url = f"{API}{anomaly.pk}/status"
    response = client.post(url, {"status": "false_positive"}, "application/json", **bearer(token))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "false_positive" and body["status_changed_by"] == "alice"
    assert body["status_changed_at"] is not None
    tuning = DetectorTuning.objects.get(metric="gpu.util", entity=anomaly.entity_key)
    assert tuning.false_positives == 1 and tuning.sensitivity == pytest.approx(0.8)


def test_status_input_errors(client, owner, rows):
    client.force_login(owner)
    url = f"{API}{rows['gpu1'].pk}/status"
    bad = client.post(url, {"status": "gone"}, "application/json")
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["status"]
    assert client.post(url, {}, "application/json").status_code == 400
    assert client.post(url, "[1]", "application/json").status_code == 400
    assert client.post(url, "{not json", "application/json").status_code == 400
    assert client.post(f"{API}999999/status", {"status": "resolved"}, "application/json"
                       ).status_code == 404  # fmt: skip
    assert client.get(url).status_code == 405


def test_a_session_post_needs_csrf(owner, rows):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = f"{API}{rows['gpu1'].pk}/status"
    assert client.post(url, {"status": "resolved"}, "application/json").status_code == 403
