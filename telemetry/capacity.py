"""The hourly capacity job: every deployment's knee from its last day of minute rollups."""

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from collectors.models import Deployment, settings_for
from telemetry import headroom
from telemetry.choices import Resolution
from telemetry.knee_types import knee_json
from telemetry.models import InferenceRollup
from telemetry.models.capacity import CapacityEstimate
from telemetry.reader import InferenceBucket, combine, inference_buckets

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
HOUR = timedelta(hours=1)
_METRICS = (
    ("ttft", "ttft_hist", "slo_ttft_ms"),
    ("itl", "itl_hist", "slo_itl_ms"),
    ("e2e", "e2e_hist", "slo_e2e_ms"),
)
_COLUMNS = (
    "present_s",
    "requests_ok",
    "requests_error",
    "requests_aborted",
    "prompt_tokens",
    "generation_tokens",
)


def capacity_estimates_update(now: datetime | None = None, window: timedelta = WINDOW) -> int:
    """Re-estimate every deployment that reported in the window; returns how many."""
    end = (now or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    start = end - window
    ids = list(
        InferenceRollup.objects.filter(
            resolution=Resolution.MINUTE, bucket__gte=start, bucket__lt=end
        )
        .values_list("deployment_id", flat=True)
        .distinct()
    )
    # A deployment that stopped reporting keeps no knee: its old one would read as live.
    CapacityEstimate.objects.exclude(deployment_id__in=ids).update(
        computed_at=timezone.now(),
        window_start=start,
        window_end=end,
        capacity_rps=None,
        capacity_tokens_s=None,
        basis=headroom.NO_TRAFFIC,
        binding_metric="",
        current_rps=0.0,
        peak_rps=0.0,
        detail={},
    )
    written = 0
    for deployment in Deployment.objects.filter(pk__in=ids).select_related("settings"):
        try:
            with transaction.atomic():
                capacity_estimate_update(deployment, start, end)
                written += 1
        except Exception:
            # One deployment's odd data must not stop the others' estimates.
            logger.exception("capacity estimate failed for deployment %s", deployment.pk)
    return written


def capacity_estimate_update(
    deployment: Deployment, start: datetime, end: datetime
) -> CapacityEstimate:
    chunks, minutes = _chunks(deployment.pk, start, end)
    slo = settings_for(deployment)
    present = {m for c in chunks for m, h in c.hists.items() if h}
    targets = {m: getattr(slo, target) / 1000 for m, _, target in _METRICS if m in present}
    knee = headroom.estimate(chunks, targets)
    current = _rate([(r, s) for at, r, s in minutes if at >= end - HOUR])
    peak = _busiest_hour(minutes)
    estimate, _ = CapacityEstimate.objects.update_or_create(
        deployment=deployment,
        defaults={
            "computed_at": timezone.now(),
            "window_start": start,
            "window_end": end,
            "capacity_rps": knee.capacity_rps,
            "capacity_tokens_s": knee.capacity_tokens_s,
            "basis": knee.basis,
            "binding_metric": knee.binding,
            "current_rps": current,
            "peak_rps": peak,
            "detail": knee_json(
                {
                    "targets_s": targets,
                    "bins": [b.as_json() for b in knee.bins],
                    "per_metric": knee.per_metric,
                    "busiest_rps": knee.busiest_rps,
                    "tokens_per_request": knee.tokens_per_request,
                }
            ),
        },
    )
    return estimate


def _rate(minutes: list[tuple[int, float]]) -> float:
    """Requests/s over (requests, seconds reported) pairs: minutes not yet rolled
    up or not reported count neither way."""
    seconds = sum(s for _, s in minutes)
    return sum(r for r, _ in minutes) / seconds if seconds else 0.0


def _busiest_hour(minutes: list[tuple[datetime, int, float]]) -> float:
    """The highest rate over any 60 minutes of the window (sliding, not clock hours),
    among windows with at least half an hour reported."""
    best, first, requests, seconds = 0.0, 0, 0, 0.0
    for at, r, s in minutes:
        requests, seconds = requests + r, seconds + s
        while minutes[first][0] <= at - HOUR:
            requests -= minutes[first][1]
            seconds -= minutes[first][2]
            first += 1
        if seconds >= HOUR.total_seconds() / 2:
            best = max(best, requests / seconds)
    return best


def _chunks(
    deployment_id: int, start: datetime, end: datetime
) -> tuple[list[headroom.Chunk], list[tuple[datetime, int, float]]]:
    """5-minute chunks for the knee, and (minute, requests, seconds) for the load."""
    rows = inference_buckets(
        Resolution.MINUTE,
        start,
        end,
        [deployment_id],
        columns=_COLUMNS,
        histograms=[hist for _, hist, _ in _METRICS],
    )
    parts: dict[datetime, list[InferenceBucket]] = defaultdict(list)
    for row in rows:
        epoch = int(row.bucket.timestamp())
        parts[datetime.fromtimestamp(epoch - epoch % headroom.CHUNK_S, UTC)].append(row)
    chunks = []
    for at, part in sorted(parts.items()):
        merged = combine(part, at)
        chunks.append(
            headroom.Chunk(
                requests=merged.requests,
                seconds=merged["present_s"],
                tokens=merged["prompt_tokens"] + merged["generation_tokens"],
                hists={name: merged[hist] for name, hist, _ in _METRICS},
            )
        )
    minutes = [(r.bucket, r.requests, r["present_s"]) for r in rows]
    return chunks, minutes
