from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from collectors.models import Deployment
from costs.models import Budget, HostedAlternative
from costs.pipeline import rollup_pending
from tests.costs.fleet import DAY, set_prices, store_day

pytestmark = pytest.mark.django_db
PAGE = "/costs/"
PERIOD = "start=2026-11-02&end=2026-11-03"


@pytest.fixture
def costed_day() -> None:
    store_day()
    set_prices()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))


def test_the_costs_page_needs_a_login(client: Client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_costs_page_shows_the_report_with_total_and_idle(
    client: Client, teammate, costed_day: None
) -> None:
    client.force_login(teammate)
    response = client.get(f"{PAGE}?{PERIOD}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "chat on node-a" in page and "$48.00" in page
    assert '<tr class="total">' in page and "$120.36" in page
    assert '<tr class="idle">' in page and "$36.36" in page
    assert "14,400" in page  # chat's requests
    assert "gCO2e" not in page  # no grid intensity configured
    assert (
        "/api/v1/costs/report?start=2026-11-02T00%3A00&amp;end=2026-11-03T00%3A00&amp;by=deployment"
        in page
    )
    assert "format=csv" in page and "format=json" in page


def test_the_page_groups_by_a_label_found_on_deployments(
    client: Client, teammate, costed_day: None
) -> None:
    Deployment.objects.filter(name="chat").update(labels={"team": "search", "tier": "gold"})
    client.force_login(teammate)
    page = client.get(f"{PAGE}?{PERIOD}&by=label:team").content.decode()
    assert '<option value="label:tier">' in page
    assert page.count('<option value="label:team"') == 1
    assert '<option value="label:team" selected>' in page
    assert "search" in page and "$60.00" in page


def test_the_page_shows_grams_of_co2_when_the_grid_is_configured(
    client: Client, teammate, costed_day: None, settings
) -> None:
    settings.COST_GRID_GCO2_PER_KWH = 400.0
    client.force_login(teammate)
    assert "gCO2e / 1M tokens" in client.get(f"{PAGE}?{PERIOD}").content.decode()


def test_the_page_defaults_to_30_days_and_says_when_there_are_no_costs(
    client: Client, teammate
) -> None:
    client.force_login(teammate)
    response = client.get(PAGE)
    assert response.status_code == 200
    tr = response.context["tr"]
    assert tr.name == "30d" and (tr.end - tr.start).days == 30
    assert "No costs yet for this period" in response.content.decode()


def test_the_csv_link_downloads_the_same_rows_as_the_page(
    client: Client, teammate, costed_day: None
) -> None:
    client.force_login(teammate)
    page = client.get(f"{PAGE}?{PERIOD}")
    url = page.context["report_url"] + "&format=csv"
    body = client.get(url).content.decode()
    assert "chat on node-a,24,48" in body and body.count("\n") == len(page.context["rows"]) + 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-11-40&end=2026-11-03", "is not a date"),
        ("start=2026-11-03&end=2026-11-02", "The end must be after the start"),
        ("start=2026-11-02&end=2026-11-03&by=colour", "must be one of"),
        ("start=&end=2026-11-03", "Give a date"),
    ],
)
def test_bad_params_show_the_error_with_a_400(
    client: Client, teammate, query: str, message: str
) -> None:
    client.force_login(teammate)
    response = client.get(f"{PAGE}?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_budgets_say_when_they_will_be_exceeded(client: Client, teammate, costed_day: None) -> None:
    chat = Deployment.objects.get(name="chat")
    Budget.objects.create(name="chat budget", deployment=chat, monthly_usd=Decimal("1"))
    Budget.objects.create(
        name="ml budget", label_key="team", label_value="ml", monthly_usd=Decimal("1000000")
    )
    client.force_login(teammate)
    page = client.get(f"{PAGE}?{PERIOD}").content.decode()
    assert "chat budget" in page and "deployment chat on node-a" in page
    assert "label team=ml" in page and "On track" in page
    assert "$1,000,000.00" in page


def test_break_even_shows_which_side_is_cheaper(client: Client, teammate, costed_day: None) -> None:
    chat = Deployment.objects.get(name="chat")
    HostedAlternative.objects.create(
        deployment=chat,
        name="hosted-8b",
        usd_per_1m_input=Decimal("0.10"),
        usd_per_1m_output=Decimal("0.40"),
    )
    client.force_login(teammate)
    page = client.get(f"{PAGE}?{PERIOD}").content.decode()
    assert "Self-hosted vs hosted" in page and "hosted-8b" in page
    # chat: $48/day ~ $1,461/month for 65.7M tokens; hosted: $0.20/1M -> ~$13/month.
    assert "$1,461.00" in page and "65.7M" in page
    assert "<td>hosted</td>" in page


def test_no_break_even_section_without_hosted_alternatives(client: Client, teammate) -> None:
    client.force_login(teammate)
    assert "Self-hosted vs hosted" not in client.get(PAGE).content.decode()


def test_the_costs_page_query_count_does_not_grow_with_groups(
    client: Client, teammate, costed_day: None, django_assert_max_num_queries
) -> None:
    client.force_login(teammate)
    # Session, user, label keys and pairs, deployments, 3 for the charts, 4 for the
    # report, budgets (2), unpriced GPUs, alternatives, price book, node prices, badge;
    # the active/idle-held/truly idle steps (1) and every deployment's unit economics
    # (3: spend, rollups, SLO settings), which the report's phase split reuses.
    with django_assert_max_num_queries(21):
        assert client.get(f"{PAGE}?{PERIOD}&by=gpu").status_code == 200


def test_gpus_without_a_price_are_named_on_the_page(client: Client, teammate) -> None:
    from costs.models import PriceBookEntry

    store_day(hours=2)
    set_prices()
    PriceBookEntry.objects.filter(gpu_model="L4").delete()  # node-b's L4 is priced per node
    from collectors.models import Node
    from costs.models import NodePrice

    NodePrice.objects.filter(node=Node.objects.get(name="node-b")).delete()
    rollup_pending(now=DAY + timedelta(days=1, hours=1))
    client.force_login(teammate)
    page = client.get(f"{PAGE}?{PERIOD}").content.decode()
    assert "Some GPUs have no price" in page
    assert "node-b #0 NVIDIA L4: no on-demand price for &#x27;NVIDIA L4&#x27;" in page
