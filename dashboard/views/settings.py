"""Settings: agents (create, revoke, last seen), personal API tokens, and users."""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from api.models import ApiToken
from api.services import TokenError, api_token_create, api_token_revoke
from collectors.models import Agent
from collectors.services import agent_create, agent_revoke
from dashboard.forms import ApiTokenForm
from dashboard.selectors.scope import context_of
from dashboard.selectors.settings import settings_rows


class AgentForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="usually the node's hostname")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if Agent.objects.filter(name=name).exists():
            raise forms.ValidationError(f"An agent named {name!r} exists already.")
        return name


def _me(request: HttpRequest) -> User:
    # LoginRequiredMiddleware ran first: never an AnonymousUser here.
    return cast(User, request.user)


def _context(
    request: HttpRequest, form: AgentForm | None = None, token_form: ApiTokenForm | None = None
) -> dict[str, Any]:
    user = _me(request)
    return {
        **context_of(settings_rows(user, timezone.now())),
        "form": form or AgentForm(),
        "can_add": user.has_perm("collectors.add_agent"),
        "can_revoke": user.has_perm("collectors.change_agent"),
        "token_form": token_form or ApiTokenForm(),
    }


def _render_once(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The page with a token in it: rendered in this response only, never put in the
    session, and never kept by a cache or the browser's back button."""
    response = render(request, "dashboard/settings.html", context)
    response["Cache-Control"] = "no-store"
    return response


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
    return _render_once(request, {**_context(request), "new_agent": agent, "token": token})


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


@require_POST
def api_token_new(request: HttpRequest) -> HttpResponse:
    # Anyone logged in: a token acts as its user, so it never gives more than they have.
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            row, token = api_token_create(
                _me(request), form.cleaned_data["name"], form.cleaned_data["scope"]
            )
        except TokenError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return _render_once(
                request, {**_context(request), "new_api_token": row, "api_token": token}
            )
    context = _context(request, token_form=form)
    return render(request, "dashboard/settings.html", context, status=400)


def _api_token_for_user(request: HttpRequest, pk: int) -> ApiToken:
    """One's own token; a superuser's reach is everyone's. Another's is a 404, not a 403,
    so ids do not tell whether a token exists."""
    tokens = ApiToken.objects.select_related("user")
    me = _me(request)
    if not me.is_superuser:
        tokens = tokens.filter(user=me)
    return get_object_or_404(tokens, pk=pk)


@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    row = _api_token_for_user(request, pk)
    whose = "" if row.user_id == request.user.pk else f"{row.user.username}'s "
    if api_token_revoke(row):
        messages.success(
            request, f"Revoked {whose}API token {row}: requests with it are now refused."
        )
    else:
        messages.info(request, f"{whose}API token {row} was revoked already.")
    return redirect("dashboard:settings")
