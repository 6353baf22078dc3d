"""Read queries shared by the costs page, the API and `cost_report`.

Costs are read from hourly CostRecords and volumes from hourly rollups, so a
report costs the same whatever raw data is kept. Periods are whole UTC hours.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Max, Sum

from collectors.models import Deployment, Gpu
from collectors.scope import deployment_labels
from costs.models import CostRecord, HourlySpend
from inferscope.lib.money import HOURS_PER_MONTH, micro
from telemetry.choices import Resolution
from telemetry.models import InferenceRollup

IDLE_KEY = "(idle)"
UNCOSTED_KEY = "(no GPU reported)"
GROUPINGS = ("deployment", "node", "gpu")
ZERO = Decimal(0)


class ReportError(ValueError):
    """A report was asked for with a bad period or grouping; the message says which."""


@dataclass
class CostRow:
    """Spend and volume of one group (a deployment, node, GPU or label value) over a period."""

    key: str
    period_hours: float
    gpu_hours: float = 0.0
    cost_usd: Decimal = ZERO
    idle_usd: Decimal = ZERO  # idle-held + truly idle
    idle_held_usd: Decimal = ZERO  # held by a deployment that served nothing
    idle_held_hours: float = 0.0
    truly_idle_hours: float = 0.0  # no deployment on the GPU
    requests: float = 0
    prompt_tokens: float = 0
    generation_tokens: float = 0
    energy_wh: float = 0.0

    @property
    def truly_idle_usd(self) -> Decimal:
        return self.idle_usd - self.idle_held_usd

    @property
    def active_usd(self) -> Decimal:
        return self.cost_usd - self.idle_usd

    @property
    def active_hours(self) -> float:
        return max(0.0, self.gpu_hours - self.idle_held_hours - self.truly_idle_hours)

    @property
    def tokens(self) -> float:
        return self.prompt_tokens + self.generation_tokens

    @property
    def usd_per_hour(self) -> float | None:
        return float(self.cost_usd) / self.period_hours if self.period_hours else None

    @property
    def usd_per_month(self) -> float | None:
        per_hour = self.usd_per_hour
        return None if per_hour is None else per_hour * HOURS_PER_MONTH

    @property
    def costed(self) -> bool:
        """Whether any GPU time was costed: traffic on GPUs nobody reported or priced has
        no unit cost (None, not a plausible-looking $0)."""
        return self.gpu_hours > 0 or self.cost_usd != 0

    @property
    def usd_per_request(self) -> float | None:
        if not self.costed or not self.requests:
            return None
        return float(self.cost_usd) / self.requests

    @property
    def usd_per_1m_tokens(self) -> float | None:
        return float(self.cost_usd) / self.tokens * 1e6 if self.costed and self.tokens else None

    def _weighted(self) -> float:
        return self.prompt_tokens + settings.COST_DECODE_TOKEN_WEIGHT * self.generation_tokens

    @property
    def usd_per_1m_prompt_tokens(self) -> float | None:
        """Prompt tokens' part of the cost, from the prompt/decode weighting, per 1M."""
        weighted = self._weighted()
        if not self.costed or not self.prompt_tokens or not weighted:
            return None
        return float(self.cost_usd) / weighted * 1e6

    @property
    def usd_per_1m_generated_tokens(self) -> float | None:
        weighted = self._weighted()
        if not self.costed or not self.generation_tokens or not weighted:
            return None
        return float(self.cost_usd) * settings.COST_DECODE_TOKEN_WEIGHT / weighted * 1e6

    @property
    def wh_per_1k_tokens(self) -> float | None:
        return self.energy_wh * settings.COST_PUE / self.tokens * 1e3 if self.tokens else None

    @property
    def gco2e_per_1m_tokens(self) -> float | None:
        intensity = settings.COST_GRID_GCO2_PER_KWH
        if intensity is None or not self.tokens:
            return None
        return self.energy_wh * settings.COST_PUE / 1000 * intensity / self.tokens * 1e6

    def add(self, other: "CostRow") -> None:
        self.gpu_hours += other.gpu_hours
        self.cost_usd += other.cost_usd
        self.idle_usd += other.idle_usd
        self.idle_held_usd += other.idle_held_usd
        self.idle_held_hours += other.idle_held_hours
        self.truly_idle_hours += other.truly_idle_hours
        self.energy_wh += other.energy_wh
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.generation_tokens += other.generation_tokens


def parse_grouping(by: str) -> tuple[str, str]:
    """'deployment', 'node', 'gpu' or 'label:KEY' -> (kind, label key)."""
    if by in GROUPINGS:
        return by, ""
    if by.startswith("label:") and by[6:].strip():
        return "label", by[6:].strip()
    raise ReportError(f"'by' must be one of {', '.join(GROUPINGS)} or label:KEY, not {by!r}")


def check_period(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ReportError("The end must be after the start")


def cost_by(start: datetime, end: datetime, by: str = "deployment") -> list[CostRow]:
    """One row per group over [start, end), then a total row; every figure is additive."""
    kind, label_key = parse_grouping(by)
    check_period(start, end)
    period_hours = (end - start).total_seconds() / 3600
    shares = _shares(start, end)
    volumes = _volumes(start, end)
    seen = {s[1] for s in shares if s[1]} | set(volumes)
    deployments = {
        d["id"]: d
        for d in Deployment.objects.filter(pk__in=seen).values(
            "id", "name", "node__name", "labels", "node__labels"
        )
    }
    gpus = {
        g["id"]: g
        for g in Gpu.objects.filter(pk__in={s[0] for s in shares}).values(
            "id", "uuid", "index", "model_name", "node__name"
        )
    }
    totals: dict[int, list[Any]] = defaultdict(lambda: [ZERO, 0.0])
    for (_, dep_id), (usd, gpu_hours, *_) in shares.items():
        if dep_id:
            totals[dep_id][0] += usd
            totals[dep_id][1] += gpu_hours
    # A deployment with neither cost nor GPU time anywhere keeps its traffic below.
    costed = {dep_id for dep_id, (cost, hours) in totals.items() if cost or hours}
    # Keyed by (idle?, name): a label value that reads "(idle)" stays its own row.
    rows: dict[tuple[bool, str], CostRow] = {}
    for (gpu_id, dep_id), (usd, gpu_hours, energy, held_usd, held_hours) in shares.items():
        dep = deployments[dep_id] if dep_id else None
        key = group_key(kind, label_key, gpus[gpu_id], dep)
        idle_row = dep_id is None and kind in ("deployment", "label")
        row = rows.setdefault((idle_row, key), CostRow(key, period_hours))
        row.gpu_hours += gpu_hours
        row.cost_usd += usd
        row.energy_wh += energy
        if dep_id is None:
            row.idle_usd += usd
            row.truly_idle_hours += gpu_hours
        else:
            row.idle_usd += held_usd
            row.idle_held_usd += held_usd
            row.idle_held_hours += held_hours
        if dep_id in costed and dep_id in volumes:
            # A deployment's volume follows its cost onto each GPU (and hour kind) it ran on.
            cost, hours = totals[dep_id]
            weight = float(usd / cost) if cost else (gpu_hours / hours if hours else 0.0)
            requests, prompt, generated = volumes[dep_id]
            row.requests += requests * weight
            row.prompt_tokens += prompt * weight
            row.generation_tokens += generated * weight
    # Traffic on GPUs nobody reported (or priced) still counts in the volumes.
    for dep_id in set(volumes) - costed:
        key = group_key(kind, label_key, None, deployments[dep_id])
        row = rows.setdefault((False, key), CostRow(key, period_hours))
        requests, prompt, generated = volumes[dep_id]
        row.requests += requests
        row.prompt_tokens += prompt
        row.generation_tokens += generated
    ordered = sorted(rows.values(), key=lambda r: (r.key == IDLE_KEY, -r.cost_usd, r.key))
    total = CostRow("total", period_hours)
    for row in ordered:
        total.add(row)
    return [*ordered, total]


def group_key(
    kind: str, label_key: str, gpu: Mapping[str, Any] | None, dep: Mapping[str, Any] | None
) -> str:
    """The row a share belongs to; `gpu` is None for traffic on GPUs nobody reported."""
    if kind == "gpu":
        if gpu is None:
            return UNCOSTED_KEY
        return f"{gpu['node__name']} #{gpu['index']} {gpu['model_name']} ({gpu['uuid']})"
    if kind == "node":
        return str((gpu or dep or {})["node__name"])
    if dep is None:
        return IDLE_KEY
    if kind == "deployment":
        return f"{dep['name']} on {dep['node__name']}"
    value = deployment_labels(dep["labels"], dep.get("node__labels")).get(label_key)
    return value if value is not None else f"(no {label_key})"


def _shares(
    start: datetime, end: datetime
) -> dict[tuple[int, int | None], tuple[Decimal, float, float, Decimal, float]]:
    """(GPU, deployment or None) -> ($, GPU-hours, Wh, idle-held $, idle-held GPU-hours)."""
    records = CostRecord.objects.filter(hour__gte=start, hour__lt=end)
    rows = records.values("gpu_id", "deployment_id").annotate(
        usd=Sum("usd"),
        gpu_hours=Sum("gpu_hours"),
        energy=Sum("energy_wh"),
        held_usd=Sum("idle_held_usd"),
        held_hours=Sum("idle_held_hours"),
    )
    return {
        (r["gpu_id"], r["deployment_id"]): (
            micro(r["usd"]),
            r["gpu_hours"] or 0.0,
            r["energy"] or 0.0,
            micro(r["held_usd"]),
            r["held_hours"] or 0.0,
        )
        for r in rows
    }


def _volumes(start: datetime, end: datetime) -> dict[int, tuple[int, int, int]]:
    rows = (
        InferenceRollup.objects.filter(
            resolution=Resolution.HOUR, bucket__gte=start, bucket__lt=end
        )
        .values("deployment_id")
        .annotate(
            ok=Sum("requests_ok"),
            error=Sum("requests_error"),
            aborted=Sum("requests_aborted"),
            prompt=Sum("prompt_tokens"),
            generated=Sum("generation_tokens"),
        )
    )
    return {
        r["deployment_id"]: (r["ok"] + r["error"] + r["aborted"], r["prompt"], r["generated"])
        for r in rows
    }


def unpriced_gpus(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """GPUs costed at $0 in the period because no price applied, with the reason."""
    return list(
        CostRecord.objects.filter(hour__gte=start, hour__lt=end, priced=False)
        .values("gpu__node__name", "gpu__index", "gpu__model_name", "pricing")
        .annotate(gpu_hours=Sum("gpu_hours"))
        .order_by("gpu__node__name", "gpu__index")
    )


def spend_by_hour(
    start: datetime, end: datetime, deployment_ids: list[int] | None
) -> list[tuple[datetime, Decimal]]:
    """Total $ per hour over [start, end), for all deployments or the given ones (no idle)."""
    records = HourlySpend.objects.filter(hour__gte=start, hour__lt=end)
    if deployment_ids is not None:
        records = records.filter(deployment_id__in=deployment_ids)
    rows = records.values("hour").annotate(usd=Sum("usd")).order_by("hour")
    return [(r["hour"], Decimal(r["usd"] or 0)) for r in rows]


def hours_with_costs(start: datetime, end: datetime) -> set[datetime]:
    """The hours in which the fleet was costed at all (anything reported)."""
    return set(
        HourlySpend.objects.filter(hour__gte=start, hour__lt=end)
        .values_list("hour", flat=True)
        .distinct()
    )


def newest_costed_hour(before: datetime) -> datetime | None:
    """The newest hour before `before` that has been costed, or None."""
    newest = HourlySpend.objects.filter(hour__lt=before).aggregate(newest=Max("hour"))
    return newest["newest"]


def entity_usd(
    start: datetime,
    end: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
    gpu_id: int | None = None,
    node_id: int | None = None,
) -> Decimal:
    """$ over [start, end) of some deployments' shares, or everything one GPU or one
    node's GPUs cost (shares and idle): exactly one of the three."""
    records = CostRecord.objects.filter(hour__gte=start, hour__lt=end)
    if deployment_ids is not None:
        records = records.filter(deployment_id__in=deployment_ids)
    elif gpu_id is not None:
        records = records.filter(gpu_id=gpu_id)
    elif node_id is not None:
        records = records.filter(gpu__node_id=node_id)
    else:
        raise ValueError("entity_usd needs deployments, a GPU or a node")
    return micro(records.aggregate(usd=Sum("usd"))["usd"])
