"""The job queue through the API: people queue and read, agents poll, report and post."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from collectors.models import Node
from collectors.services import agent_create
from costs.models import NodePrice, PriceBookEntry
from profiling.choices import JobStatus
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.services import expire_stale_jobs, job_cancel
from tests.profiling.jobs import CAPABILITIES, JOBS, POLL, SPEC, bearer, poll, queue
from vocab.sweeps import path_inside

pytestmark = pytest.mark.django_db

H100 = {"type": "cuda", "name": "NVIDIA H100 80GB HBM3", "torch": "2.13.0"}


def point(index: int, batch: int, **fields) -> dict:
    base = {
        "index": index, "batch_size": batch, "prompt_len": 128, "gen_len": 33,
        "dtype": "bf16", "quant": "none", "attention": "auto", "compile": False,
        "status": "ok", "error": "", "ttft_ms": 20.0, "ttft_ms_min": 19.0, "ttft_ms_max": 22.0,
        "itl_ms": 10.0, "itl_ms_min": 9.5, "itl_ms_max": 10.5, "request_ms": 340.0,
        "prefill_tokens_per_s": batch * 128 / 0.02, "decode_tokens_per_s": batch * 100.0,
        "tokens_per_s": batch * 161 / 0.34, "peak_memory_bytes": 3 * 2**30, "repeats": 5,
    }  # fmt: skip
    base.update(fields)
    return base


def test_a_job_is_queued_claimed_once_reported_and_priced(client, owner, agent):
    PriceBookEntry.objects.create(
        gpu_model="H100 SXM", kind="on_demand", usd_per_gpu_hour=Decimal("3.6000"),
        valid_from=timezone.now().date(), source="test",
    )  # fmt: skip
    job = queue(client, owner, agent, name="tiny sweep")
    assert (job["status"], job["points_total"], job["node_name"]) == ("queued", 2, "gpu-1")
    claimed = poll(Client(), agent).json()["job"]
    assert claimed["id"] == job["id"] and claimed["spec"]["batch_sizes"] == [1, 8]
    assert poll(Client(), agent).json() == {"job": None}  # claimed once only
    report = f"/api/v1/profiling/agent/jobs/{job['id']}/report"
    start = {"total": 2, "device": H100, "model": {"name": "tiny", "params": 344_576}}
    answer = Client().post(report, start, content_type="application/json", **bearer(agent.token))
    assert answer.json() == {"status": "running", "points_done": 0}
    body = {"points": [point(0, 1)], "device": H100}
    for _ in range(2):  # a resent report replaces, never duplicates
        answer = Client().post(report, body, content_type="application/json", **bearer(agent.token))
    assert answer.json() == {"status": "running", "points_done": 1}
    oom = point(1, 8, status="oom", error="CUDA out of memory")
    for key in ("ttft_ms", "itl_ms", "request_ms", "decode_tokens_per_s", "peak_memory_bytes"):
        oom.pop(key)
    done = {"status": "done", "points": [oom]}
    answer = Client().post(report, done, content_type="application/json", **bearer(agent.token))
    assert answer.json() == {"status": "done", "points_done": 2}
    stored = ProfilingJob.objects.get()
    assert (stored.gpu_model, stored.usd_per_gpu_hour) == ("H100 SXM", Decimal("3.6000"))
    first = ProfilingResult.objects.get(index=0)
    # 0.34 s of a $3.60/h GPU = $0.00034 for 1 x (128 + 33) tokens.
    assert first.usd_per_1m_tokens == pytest.approx(0.00034 / 161 * 1e6)
    assert first.usd_per_1m_output_tokens == pytest.approx(0.00034 / 33 * 1e6)
    second = ProfilingResult.objects.get(index=1)
    assert (second.status, second.error, second.usd_per_1m_tokens) == (
        "oom",
        "CUDA out of memory",
        None,
    )
    detail = client.get(f"{JOBS}/{job['id']}").json()
    assert detail["status"] == "done" and len(detail["results"]) == 2
    assert detail["results"][0]["setting"] == "bf16 auto"


def test_on_premises_nodes_are_priced_with_the_measured_energy(client, owner, agent):
    NodePrice.objects.create(
        node=Node.objects.get(name="gpu-1"), valid_from=timezone.now().date(), kind="on_prem",
        purchase_usd_per_gpu=Decimal("8766"), amortize_years=Decimal("1"),
        usd_per_kwh=Decimal("0.10"), pue=Decimal("1.5"),
    )  # fmt: skip
    job = queue(client, owner, agent)
    poll(Client(), agent)
    body = {"device": H100, "points": [point(0, 1, energy_j_per_token=2.0)]}
    report = f"/api/v1/profiling/agent/jobs/{job['id']}/report"
    Client().post(report, body, content_type="application/json", **bearer(agent.token))
    # $8,766 over one year of 8,766 hours = $1/h; 0.34 s = $0.000094444; energy
    # 2 J x 161 tokens = 322 J = 0.0000894 kWh x $0.10 x 1.5.
    usd = 1.0 * 0.34 / 3600 + 322 / 3.6e6 * 0.10 * 1.5
    assert ProfilingResult.objects.get().usd_per_1m_tokens == pytest.approx(usd / 161 * 1e6)


def test_only_what_the_nodes_configuration_allows_can_be_queued(client, owner, agent):
    client.force_login(owner)
    node = Node.objects.get(name="gpu-1")
    response = client.post(JOBS, {"node": node.pk, "spec": SPEC}, content_type="application/json")
    assert response.status_code == 400
    assert "No agent on gpu-1 runs profiling jobs" in response.json()["errors"][0]["message"]
    poll(Client(), agent)
    cases = [
        ({"preset": "13b"}, "spec.preset", "gpu-1 allows presets: tiny, 1b."),
        ({"preset": "", "model_path": "/models/other/x.pt"}, "spec.model_path", "does not allow"),
        ({"preset": "", "model_path": "/models/approved/../x"}, "spec.model_path", "not allow"),
        ({"batch_sizes": [0]}, "spec.batch_sizes", "0 is outside 1 to 4096."),
    ]  # fmt: skip
    for change, field, message in cases:
        body = {"node": node.pk, "spec": {**SPEC, **change}}
        response = client.post(JOBS, body, content_type="application/json")
        assert response.status_code == 400, change
        errors = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert message in errors[field], errors
    body = {"node": node.pk, "spec": SPEC, "time_limit_s": 7200}
    response = client.post(JOBS, body, content_type="application/json")
    assert response.json()["errors"] == [
        {"field": "time_limit_s", "message": "gpu-1 allows at most 3600 s."}
    ]
    ok = {**SPEC, "preset": "", "model_path": "/models/approved/llama/model.pt"}
    response = client.post(JOBS, {"node": node.pk, "spec": ok}, content_type="application/json")
    assert response.status_code == 201
    assert ProfilingJob.objects.count() == 1


def test_model_paths_must_be_inside_an_allowed_path():
    assert path_inside("/models/a", ["/models/a"])
    assert path_inside("/models/a/b/c.pt", ["/models/a"])
    assert not path_inside("/models/ab", ["/models/a"])
    assert not path_inside("/models/a/../b", ["/models/a"])
    assert not path_inside("/models/a", [])


def test_reading_needs_a_login_and_queueing_the_add_permission(client, teammate, agent):
    # No login and no token: 401, with the header that says how to authenticate.
    assert client.get(JOBS).status_code == 401
    client.force_login(teammate)
    assert client.get(JOBS).status_code == 200
    poll(Client(), agent)
    node = Node.objects.get(name="gpu-1")
    body = {"node": node.pk, "spec": SPEC}
    assert client.post(JOBS, body, content_type="application/json").status_code == 403
    teammate.user_permissions.add(Permission.objects.get(codename="add_profilingjob"))
    client.force_login(teammate)
    assert client.post(JOBS, body, content_type="application/json").status_code == 201
    job = ProfilingJob.objects.get()
    assert client.post(f"{JOBS}/{job.pk}/cancel").status_code == 403
    assert job.created_by == teammate


def test_cancelling_tells_the_running_agent_to_stop(client, owner, agent):
    job = queue(client, owner, agent)
    poll(Client(), agent)
    assert client.post(f"{JOBS}/{job['id']}/cancel").json()["status"] == "cancelled"
    report = f"/api/v1/profiling/agent/jobs/{job['id']}/report"
    body = {"points": [point(0, 1)]}
    answer = Client().post(report, body, content_type="application/json", **bearer(agent.token))
    assert answer.json() == {"status": "cancelled", "points_done": 0}
    again = client.post(f"{JOBS}/{job['id']}/cancel")
    assert again.status_code == 400
    assert again.json()["errors"][0]["message"] == "The job is already cancelled."


def test_agents_see_only_their_own_nodes_and_jobs(client, owner, agent):
    job = queue(client, owner, agent)
    other, token = agent_create("intruder")
    other.token = token
    answer = poll(Client(), other)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["message"] == "This agent does not own node 'gpu-1'."
    report = f"/api/v1/profiling/agent/jobs/{job['id']}/report"
    answer = Client().post(report, {"points": []}, content_type="application/json", **bearer(token))
    assert answer.status_code == 400
    assert Client().post(POLL, {}, content_type="application/json").status_code == 401
    assert (
        Client().post(POLL, {}, content_type="application/json", **bearer("nope")).status_code
        == 401
    )


@pytest.mark.parametrize(
    "body",
    [
        {"points": [{"index": 0}]},
        {"points": [point(0, 1, ttft_ms=-1)]},
        {"points": [point(0, 1, ttft_ms="NaN")]},
        {"points": [point(0, 1, status="exploded")]},
        {"points": [point(5, 1)]},
        {"points": "lots"},
        {"status": "cancelled"},
        {"total": -1},
        {"device": {"type": "tpu"}},
        {"device": {"type": "cuda", "memory_bytes": "80GB"}},
        {"device": {"type": "cuda", "peak": {"gb_per_s": "fast"}}},
        {"model": {"params": "many"}},
    ],
)
def test_junk_reports_are_refused_with_field_errors_and_nothing_is_stored(
    client, owner, agent, body
):
    job = queue(client, owner, agent)
    poll(Client(), agent)
    report = f"/api/v1/profiling/agent/jobs/{job['id']}/report"
    answer = Client().post(report, body, content_type="application/json", **bearer(agent.token))
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"]
    assert not ProfilingResult.objects.exists()
    assert ProfilingJob.objects.get().status == JobStatus.RUNNING


def test_silent_agents_and_unclaimed_jobs_fail_with_a_reason(client, owner, agent):
    stuck = queue(client, owner, agent)
    poll(Client(), agent)
    waiting = queue(client, owner, agent)
    now = timezone.now()
    assert expire_stale_jobs(now) == 0
    ProfilingJob.objects.filter(pk=waiting["id"]).update(created_at=now - timedelta(days=2))
    ProfilingJob.objects.filter(pk=stuck["id"]).update(started_at=now - timedelta(hours=1))
    assert expire_stale_jobs(now) == 2
    jobs = {j.pk: j for j in ProfilingJob.objects.all()}
    assert jobs[stuck["id"]].error == "The node's agent stopped reporting on this job."
    assert "No agent picked this job up within a day" in jobs[waiting["id"]].error
    assert {j.status for j in jobs.values()} == {"failed"}
    assert not job_cancel(jobs[stuck["id"]])


def test_job_list_filters_say_what_is_wrong(client, teammate):
    client.force_login(teammate)
    for query, field in (("node=²", "node"), ("node=x", "node"), ("status=lost", "status")):
        response = client.get(f"{JOBS}?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["field"] == field


def test_junk_capabilities_are_refused(agent):
    junk = {**CAPABILITIES, "devices": [{"index": 0, "memory_bytes": "lots"}]}
    assert poll(Client(), agent, capabilities=junk).status_code == 400
    assert not ProfilingCapability.objects.exists()


def test_capabilities_follow_the_agents_configuration(agent):
    poll(Client(), agent)
    poll(Client(), agent, capabilities={"presets": ["tiny"]})
    capability = ProfilingCapability.objects.get()
    assert (capability.presets, capability.devices, capability.model_paths) == (["tiny"], [], [])
