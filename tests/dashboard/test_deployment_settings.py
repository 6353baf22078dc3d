"""What people tell us about a deployment: its settings form on the deployment page,
and the deployment a profiling sweep stands for (form, API, job page)."""

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client

from collectors.models import Deployment, DeploymentSettings
from profiling.models import ProfilingJob
from tests.dashboard.profiling_data import FORM, profiling_node
from tests.dashboard.recommendation_data import small_fleet

pytestmark = pytest.mark.django_db

GOOD = {
    "dtype": "bf16",
    "quant": "none",
    "attention": "flash",
    "compiled": "false",
    "max_batch": "256",
    "prefix_caching": "true",
    "shared_prefix_tokens": "1200",
    "interruptible": "on",
    "slo_ttft_ms": "1500",
    "slo_itl_ms": "80",
    "slo_e2e_ms": "20000",
}


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


@pytest.fixture
def dep() -> Deployment:
    return small_fleet()[2]


def url(dep: Deployment) -> str:
    return f"/deployments/{dep.pk}/settings"


def test_the_page_shows_the_defaults_until_someone_saves(
    client: Client, owner: User, dep: Deployment
) -> None:
    client.force_login(owner)
    page = text(client.get(f"/deployments/{dep.pk}/"))
    assert "How it is served" in page and "(defaults)" in page
    assert "TTFT 2,000 ms · inter-token 100.0 ms · end to end 30,000 ms" in page
    assert 'id="settings-form"' in page
    assert not DeploymentSettings.objects.exists()  # showing the page creates nothing


def test_the_form_saves_the_settings_and_the_page_shows_them(
    client: Client, owner: User, dep: Deployment
) -> None:
    client.force_login(owner)
    response = client.post(url(dep), GOOD, follow=True)
    assert response.redirect_chain == [(f"/deployments/{dep.pk}/", 302)]
    st = DeploymentSettings.objects.get(deployment=dep)
    assert (st.dtype, st.quant, st.attention, st.compiled) == ("bf16", "none", "flash", False)
    assert (st.max_batch, st.prefix_caching, st.shared_prefix_tokens) == (256, True, 1200)
    assert st.interruptible is True
    assert (st.slo_ttft_ms, st.slo_itl_ms, st.slo_e2e_ms) == (1500.0, 80.0, 20000.0)
    page = text(response)
    assert "Saved the settings of chat." in page
    assert "TTFT 1,500 ms · inter-token 80.0 ms" in page and "(defaults)" not in page
    # Saved again, with unknowns: no second row, and unknown is stored as unknown.
    again = {**GOOD, "compiled": "unknown", "prefix_caching": "unknown", "max_batch": ""}
    assert client.post(url(dep), again).status_code == 302
    st = DeploymentSettings.objects.get(deployment=dep)
    assert (st.compiled, st.prefix_caching, st.max_batch) == (None, None, None)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("max_batch", "0", "greater than or equal to 1"),
        ("max_batch", "lots", "Enter a whole number"),
        ("max_batch", "999999999", "less than or equal to 65536"),
        ("slo_itl_ms", "0", "greater than or equal to 0.1"),
        ("slo_ttft_ms", "nan", "Enter a number"),
        ("slo_e2e_ms", "", "This field is required"),
        ("dtype", "fp8", "Select a valid choice"),
        ("attention", "sdpa-magic", "Select a valid choice"),
        ("shared_prefix_tokens", "-5", "greater than or equal to 0"),
    ],
)
def test_bad_input_answers_400_with_the_field_error_and_saves_nothing(
    client: Client, owner: User, dep: Deployment, field: str, value: str, message: str
) -> None:
    client.force_login(owner)
    response = client.post(url(dep), {**GOOD, field: value})
    assert response.status_code == 400
    assert message in text(response)
    assert response.context["settings_form"].errors[field]
    assert not DeploymentSettings.objects.exists()
    # The table above the form still shows what is stored, not the refused input.
    assert "(defaults)" in text(response)


def test_only_people_who_may_change_settings_see_the_form_or_post_it(
    client: Client, teammate: User, dep: Deployment
) -> None:
    client.force_login(teammate)
    page = text(client.get(f"/deployments/{dep.pk}/"))
    assert "How it is served" in page and 'id="settings-form"' not in page
    assert client.post(url(dep), GOOD).status_code == 403
    assert not DeploymentSettings.objects.exists()


def test_the_range_bar_of_a_refused_form_leads_back_to_the_deployment(
    client: Client, owner: User, dep: Deployment
) -> None:
    client.force_login(owner)
    refused = client.post(url(dep), {**GOOD, "max_batch": "0"})
    assert 'href="?range=7d' in refused.content.decode()  # relative: to .../settings?range=7d
    response = client.get(f"{url(dep)}?range=7d")
    assert response.status_code == 302
    assert response["Location"] == f"/deployments/{dep.pk}/?range=7d"
    assert client.get(url(dep))["Location"] == f"/deployments/{dep.pk}/"


def test_a_visitor_goes_to_the_login(client: Client, dep: Deployment) -> None:
    response = client.post(url(dep), GOOD)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_unknown_deployment_is_a_404(client: Client, owner: User) -> None:
    client.force_login(owner)
    assert client.post("/deployments/99999/settings", GOOD).status_code == 404


def test_a_sweep_queued_from_the_form_stands_for_a_deployment(
    client: Client, owner: User, dep: Deployment
) -> None:
    node = profiling_node()
    client.force_login(owner)
    listed = client.get("/profiling/")
    choices = dict(listed.context["form"].fields["deployment"].choices)
    assert "chat on gpu-node-1" in choices.values()
    response = client.post("/profiling/new", {**FORM, "node": node.pk, "deployment": dep.pk})
    assert response.status_code == 302
    job = ProfilingJob.objects.get()
    assert job.deployment == dep
    page = text(client.get(response["Location"]))
    assert f'href="/deployments/{dep.pk}/">chat on gpu-node-1</a>' in page
    # None chosen: the job stands for no deployment.
    client.post("/profiling/new", {**FORM, "node": node.pk, "deployment": ""})
    assert ProfilingJob.objects.order_by("-pk").first().deployment is None  # type: ignore[union-attr]


def test_the_form_refuses_an_unknown_deployment(
    client: Client, owner: User, dep: Deployment
) -> None:
    node = profiling_node()
    client.force_login(owner)
    response = client.post("/profiling/new", {**FORM, "node": node.pk, "deployment": "99999"})
    assert response.status_code == 400
    assert response.context["form"].errors["deployment"]
    assert "Select a valid choice" in text(response)
    assert not ProfilingJob.objects.exists()
