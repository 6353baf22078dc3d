import pytest
from django.test import Client

from tests.builders.ingest import ingest_simulated

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_an_unreachable_broker(client: Client):
    from inferscope.celery import app

    keys = ("broker_url", "broker_write_url")
    original = {key: app.conf[key] for key in keys}
    # A real connection attempt to a closed port, not a mock.
    app.conf.update(dict.fromkeys(keys, "redis://127.0.0.1:1/0"))
    try:
        response = client.get("/healthz")
    finally:
        app.conf.update(original)
    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert response.json()["database"] == "ok"


@pytest.mark.parametrize("url", ["/", "/admin/"])
def test_pages_need_a_login(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_login_page_is_open_and_logs_in(client: Client, teammate):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "bob", "password": "bob-password-1"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused(client: Client, teammate):
    response = client.post("/accounts/login/", {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_the_fleet_page_labels_the_simulated_fleet(client: Client, teammate):
    ingest_simulated()
    client.force_login(teammate)
    page = client.get("/nodes/").content.decode()
    assert "Simulated data" in page
    assert page.count('class="badge-simulated">simulated</span>') >= 3  # banner + 2 nodes
    assert "chat-llama-8b" in page and "GPU-sim-a-0" in page
    assert "Simulated data" in client.get("/").content.decode()


def test_the_fleet_page_has_no_simulated_banner_for_real_nodes(
    client: Client, teammate, post_batch
):
    from tests.builders.ingest import batch

    assert post_batch(batch()).status_code == 200
    client.force_login(teammate)
    page = client.get("/nodes/").content.decode()
    assert "node-1" in page and "Simulated data" not in page


def test_the_fleet_page_query_count_does_not_grow_with_the_fleet(
    client: Client, teammate, post_batch, django_assert_max_num_queries
):
    from tests.builders.ingest import batch, inventory

    body = batch()
    body["inventory"] = inventory(gpus=12)
    assert post_batch(body).status_code == 200
    client.force_login(teammate)
    # Session, user, 3 tiles of rollups, GPUs with latest figures, their deployments,
    # nodes, label choices, simulated badge.
    with django_assert_max_num_queries(10):
        assert client.get("/nodes/").status_code == 200


def test_static_files_are_served_locally(client: Client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200


def test_healthz_answers_head_for_load_balancers(client: Client):
    assert client.head("/healthz").status_code == 200


def test_the_data_folder_and_generated_key_are_private(settings):
    assert settings.DATA_DIR.stat().st_mode & 0o077 == 0
    key = settings.DATA_DIR / "secret_key"
    assert key.exists() and key.stat().st_mode & 0o077 == 0
