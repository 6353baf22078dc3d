"""Deployments list and one deployment's page."""

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from collectors.models import Deployment
from costs import usage
from costs.spend import deployment_cost_steps, spend_totals
from dashboard.charts.lines import line_chart
from dashboard.charts.spend import spend_chart
from dashboard.views.common import page_range, render_ranged
from dashboard.views.fleet import step_label

LATENCIES = (
    ("ttft_hist", "Time to first token"),
    ("itl_hist", "Inter-token latency"),
    ("e2e_hist", "End-to-end latency"),
)


def deployments(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    tr = pr.tr
    rows = Deployment.objects.select_related("node").order_by("name", "node__name")
    if pr.deployment_ids is not None:
        rows = rows.filter(pk__in=pr.deployment_ids)
    figures = usage.deployment_totals(tr, pr.deployment_ids)
    spend = spend_totals(tr.start, tr.end, pr.cost_scope).by_deployment
    table = []
    for dep in rows:
        fig = figures.get(dep.pk)
        usd = spend.get(dep.pk)
        tokens = (fig.prompt_tokens + fig.generation_tokens) if fig else 0
        table.append(
            {
                "deployment": dep,
                "figures": fig,
                "usd": usd,
                "usd_per_1m": float(usd) / tokens * 1e6 if usd is not None and tokens else None,
            }
        )
    return render_ranged(request, "dashboard/deployments.html", pr, {"rows": table})


def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dep = get_object_or_404(Deployment.objects.select_related("node"), pk=pk)
    pr = page_range(request)
    tr = pr.tr
    times, points = usage.deployment_series(tr, dep.pk)
    totals = usage.deployment_totals(tr, [dep.pk]).get(dep.pk)
    charts: dict[str, str | None] = {}
    chart = partial(line_chart, x_range=(tr.start, tr.end))
    if points:

        def col(get) -> list:  # type: ignore[no-untyped-def]
            return [get(p) for p in points]

        charts["Requests"] = chart(
            "dep-requests",
            times,
            {
                "requests/s": col(lambda p: p.requests_per_s),
                "errors/s": col(lambda p: p.errors / p.present_s if p.present_s else None),
            },
            "per second",
        )
        charts["Tokens"] = chart(
            "dep-tokens",
            times,
            {
                "prompt tokens/s": col(
                    lambda p: p.prompt_tokens / p.present_s if p.present_s else None
                ),
                "generated tokens/s": col(lambda p: p.generated_per_s),
            },
            "tokens per second",
        )
        for hist, title in LATENCIES:
            charts[title] = chart(
                f"dep-{hist.removesuffix('_hist')}",
                times,
                {
                    f"p{round(q * 100)}": col(lambda p, q=q, h=hist: _ms(p.p(h, q)))
                    for q in usage.QUANTILES
                },
                "ms",
            )
        charts["Queue"] = chart(
            "dep-queue",
            times,
            {
                "running (peak)": col(lambda p: p.running_max),
                "waiting (peak)": col(lambda p: p.waiting_max),
            },
            "requests",
        )
        charts["KV cache"] = chart(
            "dep-kv",
            times,
            {"KV cache used %": col(lambda p: None if p.kv_cache is None else p.kv_cache * 100)},
            "%",
            (0, 100),
        )
    cost_times, cost, per_1m, usd = deployment_cost_steps(tr, dep.pk)
    if cost_times:
        label = step_label(max(tr.step, 3600))
        charts["Cost"] = spend_chart(
            "dep-cost", cost_times, {dep.name: cost}, label, (tr.start, tr.end)
        )
        charts["$ per 1M tokens"] = chart(
            "dep-usd-per-1m", cost_times, {"$ / 1M tokens": per_1m}, "$"
        )
    tokens_total = (totals.prompt_tokens + totals.generation_tokens) if totals else 0
    context = {
        "deployment": dep,
        "gpus": dep.gpus.select_related("node").order_by("node__name", "index"),
        "totals": totals,
        "usd": usd,
        "usd_per_1m": float(usd) / tokens_total * 1e6 if tokens_total else None,
        "charts": charts,
        "latencies": LATENCIES,
    }
    return render_ranged(request, "dashboard/deployment.html", pr, context)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000
