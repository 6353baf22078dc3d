"""Every page: login required, renders empty and seeded, at every range, never a 500."""

from datetime import datetime, timedelta

import pytest
from django.test import Client

from collectors.models import Deployment, Gpu, Node
from tests.dashboard.pages import LIST_PAGES, entity_urls

pytestmark = pytest.mark.django_db
RANGES = ["range=1h", "range=24h", "range=7d", "range=30d", "range=custom&start={day}&end={end}"]


def all_pages() -> list[str]:
    return [*LIST_PAGES, *entity_urls().values()]


@pytest.mark.parametrize("path", [*LIST_PAGES, "/gpus/1/", "/deployments/1/", "/anomalies/1/"])
def test_every_page_sends_a_visitor_to_the_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_every_page_renders_for_an_empty_database(client: Client, teammate) -> None:
    client.force_login(teammate)
    for path in LIST_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
    assert "No agent has reported yet" in client.get("/").content.decode()
    assert "inferscope-agent --server-url" in client.get("/nodes/").content.decode()
    # A GPU and a deployment that never reported still have pages, saying so.
    node = Node.objects.create(name="n")
    gpu = Gpu.objects.create(node=node, uuid="g", index=0)
    dep = Deployment.objects.create(node=node, name="d")
    assert "No samples from this GPU" in client.get(f"/gpus/{gpu.pk}/").content.decode()
    assert (
        "No samples from this deployment" in client.get(f"/deployments/{dep.pk}/").content.decode()
    )


def test_every_page_renders_a_seeded_fleet_at_every_range(
    client: Client, teammate, fleet: datetime
) -> None:
    client.force_login(teammate)
    day, end = fleet.strftime("%Y-%m-%dT%H:%M"), fleet.strftime("%Y-%m-%dT23:59")
    for path in all_pages():
        for query in RANGES:
            response = client.get(f"{path}?{query.format(day=day, end=end)}")
            assert response.status_code == 200, (path, query)


def test_chart_pages_draw_their_charts(client: Client, teammate, fleet: datetime) -> None:
    client.force_login(teammate)
    urls = entity_urls()
    expectations = {
        "/?range=24h": ["chart-gpu-heatmap", "chart-spend"],
        f"{urls['gpu']}?range=24h": [
            "chart-gpu-util",
            "chart-gpu-memory",
            "chart-gpu-power",
            "chart-gpu-temp",
            "chart-gpu-clock",
            "chart-gpu-throttle",
        ],
        f"{urls['deployment']}?range=24h": [
            "chart-dep-requests",
            "chart-dep-tokens",
            "chart-dep-ttft",
            "chart-dep-queue",
            "chart-dep-kv",
            "chart-dep-cost",
            "chart-dep-usd-per-1m",
        ],
        "/costs/?range=7d": ["chart-spend", "chart-usd-per-1m"],
    }
    for path, charts in expectations.items():
        page = client.get(path).content.decode()
        assert "plotly/plotly.min.js" in page, path
        for chart in charts:
            assert f'id="{chart}"' in page, (path, chart)
    assert "cdn" not in client.get("/").content.decode().lower()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("range=2w", "range"),
        ("range=custom&start=yesterday&end=2026-11-03", "start"),
        ("range=custom&start=2026-11-03&end=2026-11-02", "end"),
        ("range=custom&start=2020-01-01&end=2026-11-02", "start"),
        ("label=nokey", "label"),
        ("range=custom&start=2026-11-02T10:00&end=2026-11-02T10:01", "end"),
    ],
)
def test_a_bad_range_answers_400_with_the_field(
    client: Client, teammate, query: str, field: str
) -> None:
    client.force_login(teammate)
    for path in ["/", "/nodes/", "/deployments/", "/costs/"]:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert f'<p class="error">{field}: ' in response.content.decode()


def test_odd_input_never_fails_a_page(client: Client, teammate, fleet: datetime) -> None:
    client.force_login(teammate)
    odd = [
        "range=\x00",
        "range=custom&start=9999-12-31&end=9999-12-31T23:59",
        "range=custom&start=0001-01-01&end=0001-01-02",
        "label=%s" % ("k=" + "v" * 500),
        "label==",
        "by=label:",
        "start=2026-11-02",
    ]
    for path in all_pages():
        for query in odd:
            assert client.get(f"{path}?{query}").status_code in (200, 400), (path, query)


def test_live_ranges_reload_themselves_and_fixed_ones_do_not(client: Client, teammate) -> None:
    client.force_login(teammate)
    assert 'data-refresh="30"' in client.get("/?range=1h").content.decode()
    assert 'data-refresh="60"' in client.get("/nodes/?range=24h").content.decode()
    fixed = client.get("/?range=custom&start=2026-11-02&end=2026-11-03").content.decode()
    assert "data-refresh" not in fixed
    # The picker keeps the label filter in its links, so a filtered view can be shared.
    page = client.get("/deployments/?range=24h&label=team%3Dml").content.decode()
    assert 'href="?range=7d&amp;label=team%3Dml"' in page


def test_anomalies_follow_the_range_and_label_and_draw_a_timeline(
    client: Client, teammate, fleet: datetime
) -> None:
    client.force_login(teammate)
    page = client.get("/anomalies/?range=24h").content.decode()
    assert "GPU utilization 99%" in page and 'id="chart-anomaly-timeline"' in page
    before = (fleet - timedelta(days=3)).strftime("%Y-%m-%d")
    after = (fleet - timedelta(days=2)).strftime("%Y-%m-%d")
    earlier = client.get(f"/anomalies/?range=custom&start={before}&end={after}").content.decode()
    assert "No anomalies match" in earlier
    # The anomaly is on a0, chat's GPU: team=search has it, team=ml does not.
    assert (
        "GPU utilization 99%"
        in client.get("/anomalies/?range=24h&label=team%3Dsearch").content.decode()
    )
    assert (
        "No anomalies match" in client.get("/anomalies/?range=24h&label=team%3Dml").content.decode()
    )
    # The range links keep the page's own filters.
    filtered = client.get("/anomalies/?range=24h&status=open&severity=critical").content.decode()
    assert 'href="?range=7d&amp;status=open&amp;severity=critical"' in filtered


def test_a_parameter_named_like_python_internals_is_just_ignored(client: Client, teammate) -> None:
    client.force_login(teammate)
    for path in ["/", "/costs/", "/anomalies/"]:
        assert client.get(f"{path}?self=1&changes=2&tr=3").status_code == 200, path


def test_the_chargeback_download_covers_the_hours_the_table_shows(
    client: Client, teammate, fleet: datetime
) -> None:
    client.force_login(teammate)
    # Ending half way through an hour with costs: the table counts that hour whole.
    start = fleet.strftime("%Y-%m-%dT%H:%M")
    end = (fleet + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M")
    page = client.get(f"/costs/?range=custom&start={start}&end={end}")
    url = page.context["report_url"]
    assert url.endswith("by=deployment") and "T" in url
    body = client.get(url + "&format=json").json()
    table = {row["group"]: row["cost_usd"] for row in page.context["rows"]}
    download = {row["group"]: row["cost_usd"] for row in body["rows"]}
    assert download == table
    assert float(table["total"]) == pytest.approx(120.36 / 4)  # hours 0 to 5 of the day


def test_dollars_per_token_set_whole_hours_of_cost_against_the_same_hours_of_tokens(
    client: Client, teammate, fleet: datetime
) -> None:
    client.force_login(teammate)
    # The fleet costs $120.36 a day for 5.04M tokens, the same every hour: any range
    # that starts inside an hour must still give the day's rate, not more.
    overview = client.get("/?range=1h").context
    assert overview["usd_per_1m"] == pytest.approx(120.36 / 5.04, rel=1e-3)
    chat = Deployment.objects.get(name="chat").pk
    page = client.get(f"/deployments/{chat}/?range=1h").context
    assert page["usd_per_1m"] == pytest.approx(48 / 2.16, rel=1e-3)
