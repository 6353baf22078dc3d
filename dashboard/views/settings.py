"""Settings: agents (create, revoke, last seen) and users."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from collectors.models import Agent
from collectors.services import agent_create, agent_revoke

STALE_AFTER_S = 120


class AgentForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="usually the node's hostname")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if Agent.objects.filter(name=name).exists():
            raise forms.ValidationError(f"An agent named {name!r} exists already.")
        return name


def _context(request: HttpRequest, form: AgentForm | None = None) -> dict:
    user = request.user
    can_see_users = user.has_perm("auth.view_user")
    return {
        "agents": Agent.objects.prefetch_related("nodes"),
        "now": timezone.now(),
        "stale_after_s": STALE_AFTER_S,
        "form": form or AgentForm(),
        "can_add": user.has_perm("collectors.add_agent"),
        "can_revoke": user.has_perm("collectors.change_agent"),
        "users": get_user_model().objects.order_by("username") if can_see_users else None,
    }


def settings_page(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/settings.html", _context(request))


@require_POST
def agent_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("collectors.add_agent"):
        raise PermissionDenied
    form = AgentForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/settings.html", _context(request, form), status=400)
    agent, token = agent_create(form.cleaned_data["name"])
    context = {**_context(request), "new_agent": agent, "token": token}
    response = render(request, "dashboard/settings.html", context)
    # The token is shown once: never from a cache or the browser's back button.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def agent_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("collectors.change_agent"):
        raise PermissionDenied
    agent = get_object_or_404(Agent, pk=pk)
    if agent_revoke(agent):
        messages.success(request, f"Revoked {agent.name}'s token: its posts are now refused.")
    else:
        messages.info(request, f"{agent.name} was revoked already.")
    return redirect("dashboard:settings")
