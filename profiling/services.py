"""Writes of the profiling queue: create, claim, report, import, cancel, expire."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from collectors.models import Agent, Deployment, Node
from costs.pricing import PriceList
from inferscope.lib.stored import RecordError, dump
from profiling.choices import FINISHED, JobSource, JobStatus
from profiling.constants import DEFAULT_TIME_LIMIT_S, QUEUE_TTL_S, REPORT_GRACE_S
from profiling.models import ProfilingCapability, ProfilingJob, ProfilingResult
from profiling.records import Capability, DeviceRecord, ModelRecord
from vocab.gpus import canonical_model
from vocab.sweep_cost import usd_per_1m
from vocab.sweeps import SpecError, SweepSpec, path_inside

RESULT_FIELDS = tuple(
    f.name for f in ProfilingResult._meta.concrete_fields if f.name not in ("id", "job")
)


class ProfilingError(Exception):
    """[{"field", "message"}]: the API answers 400 with them, the form shows them."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def _node_of(agent: Agent, name: str) -> Node:
    node = Node.objects.filter(name=name).first()
    if node is None or node.agent_id != agent.pk:
        raise ProfilingError(
            [{"field": "node", "message": f"This agent does not own node {name!r}."}]
        )
    return node


def capability_report(agent: Agent, node_name: str, data: dict[str, Any]) -> ProfilingCapability:
    """Store what the node allows; called on every poll, so it follows config changes."""
    node = _node_of(agent, node_name)
    allowed = _checked(
        {k: data.get(k, []) for k in ("presets", "model_paths", "devices")},
        Capability,
        "capabilities",
    )
    capability, _ = ProfilingCapability.objects.update_or_create(
        node=node,
        defaults={
            **allowed,
            "torch_version": data.get("torch_version", ""),
            "max_time_limit_s": data.get("max_time_limit_s", DEFAULT_TIME_LIMIT_S),
            "memory_limit_bytes": data.get("memory_limit_bytes"),
            "reported_at": timezone.now(),
        },
    )
    return capability


def _checked(value: Any, kind: type[Any], field: str) -> Any:
    """`value` as the JSON of its record, or the API's 400 naming the field."""
    try:
        return dump(value, kind, field)
    except RecordError as exc:
        raise ProfilingError([{"field": exc.field, "message": exc.message}]) from None


def job_create(
    *,
    node: Node | None,
    spec: Any,
    name: str = "",
    user: Any = None,
    source: str = JobSource.API,
    time_limit_s: int | None = None,
    deployment: Deployment | None = None,
) -> ProfilingJob:
    """Validate the sweep against the spec's rules and the node's configuration, queue it.
    `deployment`: the served deployment the sweep stands for (any node's: a sweep may
    run on a spare GPU of the same model)."""
    try:
        sweep = SweepSpec.from_dict(spec)
    except SpecError as exc:
        raise ProfilingError(
            [{**e, "field": f"spec.{e['field']}".rstrip(".")} for e in exc.errors]
        ) from None
    errors: list[dict[str, str]] = []
    capability = ProfilingCapability.objects.filter(node=node).first() if node else None
    if node is None:
        errors.append({"field": "node", "message": "Choose a node."})
    elif capability is None:
        errors.append(
            {
                "field": "node",
                "message": f"No agent on {node.name} runs profiling jobs: start it with"
                " --profiling-preset (and torch installed).",
            }
        )
    else:
        # An older row that cannot be read refuses the job; the next poll rewrites it.
        reported = capability.allowed() or Capability()
        presets, paths = reported.presets, reported.model_paths
        if sweep.preset and sweep.preset not in presets:
            allowed = ", ".join(presets) or "none"
            errors.append(
                {"field": "spec.preset", "message": f"{node.name} allows presets: {allowed}."}
            )
        if sweep.model_path and not path_inside(sweep.model_path, paths):
            errors.append(
                {"field": "spec.model_path", "message": f"{node.name} does not allow this path."}
            )
        if sweep.device == "cuda" and not reported.devices:
            errors.append({"field": "spec.device", "message": f"{node.name} reported no GPU."})
        limit = time_limit_s or min(DEFAULT_TIME_LIMIT_S, capability.max_time_limit_s)
        if limit > capability.max_time_limit_s:
            errors.append(
                {
                    "field": "time_limit_s",
                    "message": f"{node.name} allows at most {capability.max_time_limit_s} s.",
                }
            )
    if errors:
        raise ProfilingError(errors)
    assert capability is not None
    return ProfilingJob.objects.create(
        name=name or f"{sweep.model_name} on {node.name if node else '?'}",
        node=node,
        deployment=deployment,
        spec=sweep.to_dict(),
        source=source,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        time_limit_s=time_limit_s or min(DEFAULT_TIME_LIMIT_S, capability.max_time_limit_s),
        points_total=len(sweep.settings()),
    )


def job_claim(agent: Agent, node_name: str) -> ProfilingJob | None:
    """The oldest queued job for the node, now running for this agent; None if none.

    SKIP LOCKED: two polls at once (two agent processes by mistake) never get the
    same job.
    """
    node = _node_of(agent, node_name)
    with transaction.atomic():
        job = (
            ProfilingJob.objects.select_for_update(skip_locked=True)
            .filter(node=node, status=JobStatus.QUEUED)
            .order_by("created_at", "id")
            .first()
        )
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.agent = agent
        job.started_at = timezone.now()
        job.save(update_fields=["status", "agent", "started_at", "updated_at"])
    return job


def _price(job: ProfilingJob) -> tuple[float | None, float, float]:
    """$ per GPU-hour (None when unpriced), $ per kWh and PUE for the job's GPU; sets
    the job's gpu_model and price fields to say which price that was."""
    device = job.device_record() or DeviceRecord()
    name = device.name
    if device.type != "cuda" or not name:
        return None, 0.0, 1.0
    rate = PriceList().rate(job.node_id or 0, name, timezone.now().date())
    job.gpu_model = canonical_model(name) or ""
    if not rate.priced:
        job.price_description = rate.description
        return None, 0.0, 1.0
    job.usd_per_gpu_hour = rate.usd_per_hour.quantize(Decimal("0.0001"))
    job.price_description = rate.description
    return float(rate.usd_per_hour), float(rate.usd_per_kwh), float(rate.pue)


def _store_points(
    job: ProfilingJob, points: list[dict[str, Any]], price: tuple[float | None, float, float]
) -> None:
    usd_per_hour, usd_per_kwh, pue = price
    rows = []
    for point in points:
        values = {k: point.get(k) for k in RESULT_FIELDS if k in point}
        values["compiled"] = bool(point.get("compile", point.get("compiled", False)))
        values["error"] = (point.get("error") or "")[:500]
        cost = usd_per_1m(point, usd_per_hour, usd_per_kwh, pue) if usd_per_hour else None
        values["usd_per_1m_tokens"], values["usd_per_1m_output_tokens"] = cost or (None, None)
        rows.append(ProfilingResult(job=job, **values))
    # A resent report (the agent retries after a timeout) replaces, never duplicates.
    ProfilingResult.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["job", "index"],
        update_fields=[f for f in RESULT_FIELDS if f != "index"],
    )


@transaction.atomic
def job_report(agent: Agent, job_id: int, data: dict[str, Any]) -> ProfilingJob:
    """Progress and points from the agent running the job (validated by the API)."""
    job = ProfilingJob.objects.select_for_update().filter(pk=job_id, agent=agent).first()
    if job is None:
        raise ProfilingError([{"field": "job", "message": "No such job running for this agent."}])
    if job.finished:
        return job  # cancelled (or expired) meanwhile: the agent stops the runner
    if data.get("device"):
        job.device = _checked(data["device"], DeviceRecord, "device")
    if data.get("model"):
        job.model_info = _checked(data["model"], ModelRecord, "model")
    if data.get("total") is not None:
        job.points_total = data["total"]
    points = data.get("points") or []
    if any(p["index"] >= job.points_total for p in points):
        raise ProfilingError([{"field": "points", "message": "A point index is past the total."}])
    _store_points(job, points, _price(job))
    job.points_done = job.results.count()
    status = data.get("status", JobStatus.RUNNING)
    if status in (JobStatus.DONE, JobStatus.FAILED):
        job.status = status
        job.error = (data.get("error") or "")[:2000]
        job.finished_at = timezone.now()
    job.save()
    return job


@transaction.atomic
def run_import(agent: Agent, node_name: str, run: dict[str, Any]) -> ProfilingJob:
    """A whole run posted by `inferscope-profile --post`: stored as a finished job."""
    node = _node_of(agent, node_name) if node_name else None
    try:
        sweep = SweepSpec.from_dict(run.get("spec"))
    except SpecError as exc:
        raise ProfilingError(
            [{**e, "field": f"run.spec.{e['field']}".rstrip(".")} for e in exc.errors]
        ) from None
    points = run.get("points") or []
    total = len(sweep.settings())
    if len(points) != total or sorted(p["index"] for p in points) != list(range(total)):
        raise ProfilingError(
            [{"field": "run.points", "message": f"Expected the {total} points of the spec."}]
        )
    now = timezone.now()
    job = ProfilingJob(
        name=f"{sweep.model_name} (command line)",
        node=node,
        spec=sweep.to_dict(),
        status=JobStatus.DONE,
        source=JobSource.CLI,
        agent=agent,
        points_total=total,
        points_done=total,
        device=_checked(run.get("device") or {}, DeviceRecord, "run.device"),
        model_info=_checked(run.get("model") or {}, ModelRecord, "run.model"),
        started_at=now,
        finished_at=now,
    )
    price = _price(job)
    job.save()
    _store_points(job, points, price)
    return job


def job_cancel(job: ProfilingJob) -> bool:
    """Cancel a queued or running job; the agent stops the runner at its next report."""
    changed = (
        ProfilingJob.objects.filter(pk=job.pk)
        .exclude(status__in=FINISHED)
        .update(status=JobStatus.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now())
    )
    job.refresh_from_db()
    return bool(changed)


def expire_stale_jobs(now: datetime | None = None) -> int:
    """Fail running jobs whose agent went silent past the time limit, and queued jobs
    that no agent picked up within a day. Returns how many failed."""
    now = now or timezone.now()
    failed = 0
    grace = timedelta(seconds=REPORT_GRACE_S)
    # The agent kills the runner at the time limit and reports; past that and a
    # grace period, nobody is left to report.
    for job in ProfilingJob.objects.filter(status=JobStatus.RUNNING):
        started = job.started_at or job.created_at
        if started + timedelta(seconds=job.time_limit_s) + grace < now:
            failed += ProfilingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED,
                error="The node's agent stopped reporting on this job.",
                finished_at=now,
            )
    failed += ProfilingJob.objects.filter(
        Q(status=JobStatus.QUEUED), created_at__lt=now - timedelta(seconds=QUEUE_TTL_S)
    ).update(
        status=JobStatus.FAILED,
        error="No agent picked this job up within a day: is the node's agent running?",
        finished_at=now,
    )
    return failed
