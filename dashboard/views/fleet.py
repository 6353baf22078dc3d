"""Overview, nodes and GPU pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from collectors.models import Gpu
from dashboard.selectors.fleet import gpu_page, nodes_page, overview_page
from dashboard.selectors.scope import context_of
from dashboard.views.common import page_range, render_ranged


def overview(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    return render_ranged(request, "dashboard/overview.html", pr, context_of(overview_page(pr)))


def nodes(request: HttpRequest) -> HttpResponse:
    pr = page_range(request)
    return render_ranged(request, "dashboard/nodes.html", pr, context_of(nodes_page(pr)))


def gpu_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gpu = get_object_or_404(Gpu.objects.select_related("node"), pk=pk)
    pr = page_range(request)
    return render_ranged(request, "dashboard/gpu.html", pr, context_of(gpu_page(gpu, pr.tr)))
