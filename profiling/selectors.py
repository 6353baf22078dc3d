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


Shape = tuple[int, int]  # (prompt_len, gen_len): the workload a setting is measured on


def request_shapes(results: Iterable[ProfilingResult]) -> dict[Shape, int]:
    """Each request shape of a sweep in the sweep's order, with how many of its points
    measured a latency (a shape whose every point ran out of memory counts 0)."""
    rows = sorted(results, key=lambda r: r.index)
    measured = {id(r) for r in results_ok(rows)}
    shapes: dict[Shape, int] = {}
    for r in rows:
        key = (r.prompt_len, r.gen_len)
        shapes[key] = shapes.get(key, 0) + (id(r) in measured)
    return shapes


def cheapest_meeting(
    results: Sequence[ProfilingResult],
    itl_ms: float | None = None,
    ttft_ms: float | None = None,
    shape: Shape | None = None,
) -> ProfilingResult | None:
    """The cheapest setting whose median latencies meet the targets, at one request
    shape when `shape` (prompt_len, gen_len) is given.

    Only points of one shape compare: $ per 1M tokens counts prompt and generated
    tokens alike, and a prefilled token costs far less than a generated one, so across
    shapes the longest prompt with the shortest generation wins whatever the setting.
    Give `shape` for a sweep of several; None takes every point.

    Cheapest by $ per 1M tokens where the GPU is priced; unpriced (CPU, unknown
    GPU), the highest tokens/s over the whole request, which is the same order at
    any fixed price ($ per 1M tokens = price / tokens per second). A point without a
    TTFT never meets a TTFT target.
    """
    meeting = [
        r
        for r in results_ok(results)
        if (shape is None or (r.prompt_len, r.gen_len) == shape)
        and (itl_ms is None or (r.itl_ms is not None and r.itl_ms <= itl_ms))
        and (ttft_ms is None or (r.ttft_ms is not None and r.ttft_ms <= ttft_ms))
    ]
    if not meeting:
        return None
    if all(r.usd_per_1m_tokens is not None for r in meeting):
        return min(meeting, key=lambda r: (r.usd_per_1m_tokens, r.index))
    return max(meeting, key=lambda r: (r.tokens_per_s or 0, -r.index))
