from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from collectors.selectors import fleet_nodes


def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/overview.html", {"nodes": fleet_nodes()})
