"""Reads over profiling results, shared by the page, the API and (issue 9) recommendations."""

from collections.abc import Iterable, Sequence

from django.db.models import QuerySet

from profiling.choices import PointStatus
from profiling.models import ProfilingJob, ProfilingResult


def jobs_list(status: str = "", node_id: int | None = None) -> QuerySet[ProfilingJob]:
    jobs = ProfilingJob.objects.select_related("node")
    if status:
        jobs = jobs.filter(status=status)
    if node_id:
        jobs = jobs.filter(node_id=node_id)
    return jobs


def results_ok(results: Iterable[ProfilingResult]) -> list[ProfilingResult]:
    return [
        r
        for r in results
        if r.status == PointStatus.OK and r.itl_ms is not None and r.decode_tokens_per_s
    ]


def pareto_front(results: Iterable[ProfilingResult]) -> list[ProfilingResult]:
    """The settings no other setting beats on both decode throughput and inter-token
    latency, from the lowest latency to the highest throughput (the last one is the
    fastest): every other point is dominated by one of these."""
    front: list[ProfilingResult] = []
    best = -1.0
    for r in sorted(results_ok(results), key=lambda r: (r.itl_ms, -(r.decode_tokens_per_s or 0))):
        if (r.decode_tokens_per_s or 0) > best:
            front.append(r)
            best = r.decode_tokens_per_s or 0
    return front


def cheapest_meeting(
    results: Sequence[ProfilingResult],
    itl_ms: float | None = None,
    ttft_ms: float | None = None,
) -> ProfilingResult | None:
    """The cheapest setting whose median latencies meet the targets.

    Cheapest by $ per 1M tokens where the GPU is priced; unpriced (CPU, unknown
    GPU), the highest tokens/s over the whole request, which is the same order at
    any fixed price ($ per 1M tokens = price / tokens per second). A point without a
    TTFT never meets a TTFT target.
    """
    meeting = [
        r
        for r in results_ok(results)
        if (itl_ms is None or (r.itl_ms is not None and r.itl_ms <= itl_ms))
        and (ttft_ms is None or (r.ttft_ms is not None and r.ttft_ms <= ttft_ms))
    ]
    if not meeting:
        return None
    if all(r.usd_per_1m_tokens is not None for r in meeting):
        return min(meeting, key=lambda r: (r.usd_per_1m_tokens, r.index))
    return max(meeting, key=lambda r: (r.tokens_per_s or 0, -r.index))
