"""A service: the deployments of one name and model across nodes, its replicas, with
every hour they reported in the window. Rules 2 (underused, cheaper_gpu) and 8
(troughs) size services from what one replica carries (capacity.py)."""

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.models import Deployment, Gpu, settings_for
from costs.gpu_models import canonical_model
from recommendations.context import Context
from recommendations.inputs.window import deployment_gpus
from telemetry.hourly import TrafficHour, hourly_traffic, tokens_per_s

HEADROOM = 0.3


def gpu_key(name: str) -> str:
    """GPUs compare by canonical model, or by the reported name where there is none."""
    return canonical_model(name) or name.strip()


def p95(values: Sequence[float]) -> float:
    """The p95 of a rule's own hourly sample, by nearest rank: of 168 hours the 160th
    quietest (the 9th busiest), of 3 breach hours the busiest.

    The one p95 every rule sizes replicas with. Nearest rank won over interpolating
    between ranks because the figure is always an hour that happened, so a finding
    can name it and draw it, and a few breach hours are sized for the worst of them
    rather than for a load between two hours that no hour carried. Latency
    percentiles of stored histograms are another figure: telemetry.hourly.latency_ms.
    """
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def replicas_needed(demand: float, per_replica: float, headroom: float = HEADROOM) -> int:
    return max(1, math.ceil(demand * (1 + headroom) / per_replica))


@dataclass
class Service:
    """One name and model's deployments, with every hour they reported in the window."""

    name: str
    model: str
    deployments: dict[int, Deployment]
    # The replicas running now: those that reported in the window's last day.
    replicas: list[Deployment]
    rows: list[TrafficHour]
    gpus: dict[int, list[Gpu]]

    @property
    def key(self) -> str:
        raw = f"{self.name}|{self.model}"
        if len(raw) > 120:  # the fingerprint column holds 200, rule name included
            raw = f"{self.name[:80]}|{hashlib.sha1(raw.encode()).hexdigest()[:16]}"
        return f"service:{raw}"

    def hourly(self) -> dict[datetime, float]:
        """The service's tokens/s in each hour: its replicas' sum."""
        out: dict[datetime, float] = defaultdict(float)
        for row in self.rows:
            out[row.bucket] += tokens_per_s(row)
        return dict(sorted(out.items()))

    def shape(self) -> tuple[str, int] | None:
        """(GPU model, GPUs per replica) when every replica has the same; None otherwise:
        fewer replicas only works out when any replica can stand in for another."""
        shapes = set()
        for dep in self.replicas:
            gpus = self.gpus.get(dep.pk, [])
            models = {gpu_key(g.model_name) for g in gpus}
            if len(models) != 1 or "" in models:
                return None
            shapes.add((models.pop(), len(gpus)))
        return shapes.pop() if len(shapes) == 1 else None

    def generated_share(self) -> float:
        prompt = sum(r.prompt_tokens for r in self.rows)
        generated = sum(r.generation_tokens for r in self.rows)
        return generated / (prompt + generated) if prompt + generated else 0.5

    def slo(self) -> tuple[float, float]:
        """p95 (ITL, TTFT) targets in ms, the tightest any replica sets."""
        settings = [settings_for(dep) for dep in self.replicas]
        return min(s.slo_itl_ms for s in settings), min(s.slo_ttft_ms for s in settings)


def load_services(ctx: Context) -> list[Service]:
    """Every service that reported in the window, by name then model."""
    traffic = {
        dep: present
        for dep, rows in hourly_traffic(ctx.start, ctx.end).items()
        if (present := [r for r in rows if r.present_s > 0])
    }
    if not traffic:
        return []
    gpus = deployment_gpus(list(traffic))
    groups: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for dep in Deployment.objects.filter(pk__in=list(traffic)).select_related("node", "settings"):
        groups[(dep.name, dep.model)].append(dep)
    recent = ctx.end - timedelta(days=1)
    services = []
    for (name, model), deps in sorted(groups.items()):
        deps.sort(key=lambda d: d.pk)
        services.append(
            Service(
                name=name,
                model=model,
                deployments={d.pk: d for d in deps},
                replicas=[d for d in deps if traffic[d.pk][-1].bucket >= recent],
                rows=[row for d in deps for row in traffic[d.pk]],
                gpus={d.pk: gpus.get(d.pk, []) for d in deps},
            )
        )
    return services
