import pytest
from django.contrib.auth.models import User

from tests.builders.ingest import ingest_simulated

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_person_logs_in_and_sees_the_simulated_fleet(page, live_server):
    ingest_simulated()
    User.objects.create_user("dana", password="dana-password-1")

    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "dana")
    page.fill("#id_password", "dana-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")

    banner = page.locator(".simulated-banner")
    assert banner.is_visible()
    assert "Simulated data" in banner.inner_text()
    page.click("nav >> text=Nodes")
    page.wait_for_url(live_server.url + "/nodes/")
    assert page.locator("h2", has_text="sim-node-a").locator(".badge-simulated").is_visible()
    assert page.locator("td a", has_text="chat-llama-8b").first.is_visible()
    # The stylesheet came from our own static files.
    color = page.locator(".simulated-banner").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(255, 244, 214)"


def test_a_wrong_password_keeps_the_person_out(page, live_server):
    User.objects.create_user("erin", password="erin-password-1")
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "erin")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
