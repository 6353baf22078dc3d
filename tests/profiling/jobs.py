"""The profiling job API as its tests drive it: URLs, a sweep spec, an agent's poll,
a queued job."""

from django.test import Client

from collectors.models import Node

JOBS = "/api/v1/profiling/jobs"
POLL = "/api/v1/profiling/agent/poll"
SPEC = {"preset": "tiny", "batch_sizes": [1, 8], "prompt_lens": [128], "gen_lens": [33]}
CAPABILITIES = {
    "presets": ["tiny", "1b"],
    "model_paths": ["/models/approved"],
    "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * 2**30}],
    "torch_version": "2.13.0",
    "max_time_limit_s": 3600,
}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def poll(client: Client, agent, node: str = "gpu-1", capabilities=None):
    body = {"node": node, "capabilities": capabilities or CAPABILITIES}
    return client.post(POLL, body, content_type="application/json", **bearer(agent.token))


def queue(client: Client, owner, agent, **changes) -> dict:
    client.force_login(owner)
    poll(Client(), agent)
    node = Node.objects.get(name="gpu-1")
    body = {"node": node.pk, "spec": SPEC, **changes}
    response = client.post(JOBS, body, content_type="application/json")
    assert response.status_code == 201, response.json()
    return response.json()
