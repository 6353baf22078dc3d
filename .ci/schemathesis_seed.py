"""Seeds the schemathesis run's database with a small fleet: the simulated agent's
last hour (as `make run`'s local agent would send it), rolled up, with capacity
estimates, a budget, an email channel and a queued profiling job, so detail
endpoints have rows to find.

Run with the server's environment (DATABASE_URL …) from the repository root.
"""

import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inferscope.settings")

import django  # noqa: E402

django.setup()

import msgspec  # noqa: E402

from alerts.models import Channel  # noqa: E402
from collectors.agent.simulated import batch_body  # noqa: E402
from collectors.ingest import ingest_batch  # noqa: E402
from collectors.models import Deployment, Node  # noqa: E402
from collectors.services import agent_create  # noqa: E402
from costs.models import Budget  # noqa: E402
from costs.pipeline import rollup_pending  # noqa: E402
from profiling.choices import JobSource  # noqa: E402
from profiling.services import capability_report, job_create  # noqa: E402
from telemetry.capacity import capacity_estimates_update  # noqa: E402

HOUR = 3600
BATCH = 900  # 90 intervals of 8 GPUs: well under the per-batch sample limit

agent, _ = agent_create("simulated-agent")
end = time.time() // 10 * 10
for start in range(int(end - HOUR), int(end), BATCH):
    body = batch_body(start, start + BATCH, 10.0)
    ingest_batch(agent, msgspec.json.encode(body))

# The capacity job reads minute rollups: roll up first (runjobs does it again, a no-op).
rollup_pending()
estimated = capacity_estimates_update()

deployment = Deployment.objects.order_by("pk").first()
Budget.objects.create(name="fleet", monthly_usd=Decimal("50000"))
Budget.objects.create(name="first deployment", deployment=deployment, monthly_usd=Decimal("900"))
Channel.objects.create(name="ops mail", kind="email", email_to="ops@example.org")
node = Node.objects.order_by("pk").first()
assert node is not None
# As the agent's first poll would: the node runs the tiny preset.
capability_report(agent, node.name, {"presets": ["tiny"], "torch_version": "2.13.0"})
job_create(
    node=node,
    spec={"preset": "tiny", "batch_sizes": [1], "prompt_lens": [16], "gen_lens": [8]},
    name="seeded",
    source=JobSource.CLI,
)
sys.stdout.write(
    f"seeded: {Node.objects.count()} nodes, {Deployment.objects.count()} deployments,"
    f" {estimated} capacity estimates\n"
)
