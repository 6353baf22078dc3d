"""Each channel against a real receiver: what arrives, signed, masked, retried, refused."""

import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_retry
from django.test import Client

from alerts.choices import ChannelKind, DeliveryStatus
from alerts.constants import SIGNATURE_HEADER, TIMESTAMP_HEADER
from alerts.delivery import RetryLater, attempt_delivery
from alerts.models import Channel, Delivery
from alerts.services import channel_send_test
from alerts.tasks import send_delivery_task
from tests.alerts.receivers import HttpReceiver, SmtpServer

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SECRET = "a-signing-key-of-32-characters!!"


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True


def test_email_arrives_as_text_and_html_with_a_link(smtp_server: SmtpServer) -> None:
    channel = Channel.objects.create(
        name="on-call", kind=ChannelKind.EMAIL, email_to="ops@example.org, sre@example.org"
    )
    delivery = channel_send_test(channel)
    assert delivery.status == DeliveryStatus.SENT
    [message] = smtp_server.inbox.messages
    assert message["Subject"] == "[Test] Inferscope alerts reach on-call"
    assert smtp_server.inbox.envelopes[0][1] == ["ops@example.org", "sre@example.org"]
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert "alerts of the rules that use this channel" in parts["text/plain"]
    assert '<a href="http://localhost:8000/admin/alerts/channel/' in parts["text/html"]


def test_slack_gets_block_kit_and_its_url_is_never_shown(
    http_receiver: HttpReceiver,
    owner,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    channel = Channel.objects.create(
        name="slack", kind=ChannelKind.SLACK, url=http_receiver.url + "/T000/B000/XXXXsecretXXXX"
    )
    caplog.set_level(logging.INFO)
    assert channel_send_test(channel).status == DeliveryStatus.SENT
    [request] = http_receiver.requests
    body = request.json
    assert body["text"].startswith("[Test]")
    blocks = body["attachments"][0]["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[-1]["elements"][0]["url"].startswith(
        "http://localhost:8000/admin/alerts/channel/"
    )
    client = Client()
    client.force_login(owner)
    for page in ("/admin/alerts/channel/", f"/admin/alerts/channel/{channel.pk}/change/"):
        html = client.get(page).content.decode()
        assert "XXXXsecretXXXX" not in html
    assert "XXXXsecretXXXX" not in caplog.text


def test_a_webhook_is_signed_over_timestamp_and_body(http_receiver: HttpReceiver) -> None:
    channel = Channel.objects.create(
        name="hook", kind=ChannelKind.WEBHOOK, url=http_receiver.url, secret=SECRET
    )
    channel_send_test(channel)
    [request] = http_receiver.requests
    timestamp = request.headers[TIMESTAMP_HEADER]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers[SIGNATURE_HEADER] == f"sha256={expected.hexdigest()}"
    assert request.json["event"] == "test"


def test_three_500s_then_a_200_deliver_exactly_one_message(http_receiver: HttpReceiver) -> None:
    channel = Channel.objects.create(
        name="hook", kind=ChannelKind.WEBHOOK, url=http_receiver.url, secret=SECRET
    )
    delivery = Delivery.objects.create(channel=channel)  # as for an event, retried
    http_receiver.statuses = [500, 500, 500]
    retries = 0
    while True:
        try:
            assert attempt_delivery(delivery.pk)
            break
        except RetryLater:
            retries += 1
    delivery.refresh_from_db()
    assert retries == 3 and delivery.status == DeliveryStatus.SENT and delivery.attempts == 4
    assert [a.ok for a in delivery.attempt_log.all()] == [False, False, False, True]
    assert "HTTP 500" in delivery.attempt_log.first().error  # type: ignore[union-attr]
    assert len(http_receiver.requests) == 4
    assert attempt_delivery(delivery.pk)  # already sent: nothing goes out again
    assert len(http_receiver.requests) == 4


@pytest.fixture
def retry_waits() -> Iterator[list[float]]:
    """The wait Celery puts before each retry of a delivery task (its task_retry signal)."""
    waits: list[float] = []

    def record(sender: Any, reason: Any, **kwargs: Any) -> None:
        if sender.name == send_delivery_task.name:
            waits.append(reason.when)

    task_retry.connect(record, weak=False)
    yield waits
    task_retry.disconnect(record)


def webhook_delivery(receiver: HttpReceiver) -> Delivery:
    channel = Channel.objects.create(
        name="hook", kind=ChannelKind.WEBHOOK, url=receiver.url, secret=SECRET
    )
    return Delivery.objects.create(channel=channel)  # as claim_event makes it for an event


def test_the_task_retries_a_temporary_failure_with_growing_waits(
    http_receiver: HttpReceiver, retry_waits: list[float]
) -> None:
    delivery = webhook_delivery(http_receiver)
    http_receiver.statuses = [500, 503, 500]
    # apply(): the task and each of its retries run here, one after the other, through
    # Celery's own retry path (only the waits are skipped; the signal says what they were).
    result = send_delivery_task.apply(args=(delivery.pk,))
    assert result.get() == f"delivery {delivery.pk}: sent"
    assert retry_waits == [10, 20, 40]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 4
    assert [a.ok for a in delivery.attempt_log.all()] == [False, False, False, True]
    assert len(http_receiver.requests) == 4
    assert Channel.objects.get().enabled


def test_the_task_gives_up_after_the_last_retry_and_keeps_the_channel(
    http_receiver: HttpReceiver, retry_waits: list[float]
) -> None:
    delivery = webhook_delivery(http_receiver)
    http_receiver.statuses = [500] * 10
    assert send_delivery_task.apply(args=(delivery.pk,)).get() == (
        f"delivery {delivery.pk}: failed"
    )
    assert retry_waits == [10, 20, 40, 80, 160, 320]  # 10 s doubling, at most 600 s, 6 retries
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 7
    assert delivery.attempt_log.count() == 7 and len(http_receiver.requests) == 7
    assert Channel.objects.get().enabled  # temporary: the channel is not to blame


def test_the_task_does_not_retry_a_permanent_failure_and_disables_the_channel(
    http_receiver: HttpReceiver, retry_waits: list[float]
) -> None:
    delivery = webhook_delivery(http_receiver)
    http_receiver.statuses = [404]
    assert send_delivery_task.apply(args=(delivery.pk,)).get() == (
        f"delivery {delivery.pk}: failed"
    )
    assert retry_waits == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.attempt_log.count() == 1 and len(http_receiver.requests) == 1
    channel = Channel.objects.get()
    assert not channel.enabled and "HTTP 404" in channel.disabled_reason


def test_loopback_and_private_addresses_are_refused_by_default(
    http_receiver: HttpReceiver,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = False
    for url in (
        http_receiver.url,
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
    ):
        channel = Channel.objects.create(name=url, kind=ChannelKind.SLACK, url=url)
        delivery = Delivery.objects.create(channel=channel)
        assert attempt_delivery(delivery.pk) is False
        delivery.refresh_from_db()
        channel.refresh_from_db()
        assert (
            delivery.status == DeliveryStatus.FAILED and "non-public address" in delivery.last_error
        )
        # Permanent: the channel stops, and says why.
        assert not channel.enabled and "non-public address" in channel.disabled_reason
    assert http_receiver.requests == []


def test_a_broken_channel_fails_alone(http_receiver: HttpReceiver) -> None:
    broken = Channel.objects.create(
        name="gone", kind=ChannelKind.SLACK, url="http://127.0.0.1:9/hook"
    )
    working = Channel.objects.create(
        name="hook", kind=ChannelKind.WEBHOOK, url=http_receiver.url, secret=SECRET
    )
    first = Delivery.objects.create(channel=broken)
    second = Delivery.objects.create(channel=working)
    with pytest.raises(RetryLater):
        attempt_delivery(first.pk)  # connection refused: retried later
    assert attempt_delivery(second.pk)
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_recognised_however_they_are_written(address: str) -> None:
    from alerts.http import _public

    assert not _public(address)


def test_public_addresses_pass() -> None:
    from alerts.http import _public

    assert _public("8.8.8.8") and _public("2606:4700:4700::1111") and _public("64:ff9b::808:808")


def test_a_masked_url_shows_no_credentials_path_or_query() -> None:
    from alerts.models.channels import mask

    assert mask("https://user:pass@hooks.example.com/services/T0/B0/abcd?token=SECRET") == (
        "https://hooks.example.com/…CRET"
    )
    assert "SECRET" not in mask("https://api.example.com?token=SECRET")[:-4]


def test_a_url_with_spaces_is_refused_without_quoting_it(http_receiver: HttpReceiver) -> None:
    channel = Channel.objects.create(
        name="bad", kind=ChannelKind.SLACK, url=http_receiver.url + "/T0/B0 SECRETPART"
    )
    delivery = Delivery.objects.create(channel=channel)
    assert attempt_delivery(delivery.pk) is False
    delivery.refresh_from_db()
    assert "SECRETPART" not in delivery.last_error
    with pytest.raises(Exception, match="valid"):
        channel.full_clean()
