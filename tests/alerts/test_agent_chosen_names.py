"""Names an agent chooses reach Slack, email and webhooks: they stay text (issue 23,
findings 2 and 4)."""

import re
from datetime import UTC, datetime

import pytest

from alerts.choices import AlertState, ChannelKind, DeliveryStatus, EventKind
from alerts.delivery import attempt_delivery, claim_event
from alerts.models import Alert, AlertEvent, Channel, Rule
from collectors.models import Deployment, Node
from tests.alerts.receivers import HttpReceiver, SmtpServer

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
NOW = datetime(2026, 12, 5, 20, tzinfo=UTC)
LURE = "<!channel> <https://evil.example/login|Inferscope: re-authenticate here> & co"


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERTS_ALLOW_PRIVATE_ADDRESSES = True


def deliver(name: str, channel: Channel) -> int:
    """An alert on a deployment called `name`, as evaluation makes it, sent to `channel`."""
    node = Node.objects.create(name="node-1")
    deployment = Deployment.objects.create(name=name, node=node)
    rule = Rule.objects.create(name=f"slow {name}", kind="silence", value=5)
    rule.channels.add(channel)
    alert = Alert.objects.create(
        rule=rule,
        entity=f"deployment:{deployment.pk}",
        entity_label=str(deployment),
        state=AlertState.FIRING,
        summary=f"{deployment} has sent nothing for 5 minutes",
        started_at=NOW,
        fired_at=NOW,
    )
    event = AlertEvent.objects.create(alert=alert, kind=EventKind.FIRING, summary=alert.summary)
    [delivery_id] = claim_event(event.pk)
    attempt_delivery(delivery_id)
    return delivery_id


def test_slack_gets_the_names_escaped_so_they_ping_and_link_nothing(
    http_receiver: HttpReceiver,
) -> None:
    channel = Channel.objects.create(name="slack", kind=ChannelKind.SLACK, url=http_receiver.url)
    deliver(LURE, channel)
    body = http_receiver.requests[0].json
    escaped = (
        "&lt;!channel&gt; &lt;https://evil.example/login|Inferscope: re-authenticate here&gt;"
        " &amp; co"
    )
    mrkdwn = [body["text"]]
    for block in body["attachments"][0]["blocks"]:
        if block["type"] == "section":
            mrkdwn += [block["text"]["text"]] if "text" in block else []
            mrkdwn += [field["text"] for field in block.get("fields", [])]
    assert all(escaped in text for text in mrkdwn[:3]), mrkdwn
    for text in mrkdwn:
        assert "<!channel>" not in text and "<https://evil" not in text
        assert "& " not in text  # every & is &amp;
    # The header is plain_text: Slack shows it as it is and parses nothing in it.
    assert body["attachments"][0]["blocks"][0]["text"]["type"] == "plain_text"


def test_a_newline_in_a_stored_name_gives_a_one_line_subject_and_the_email_arrives(
    smtp_server: SmtpServer,
) -> None:
    channel = Channel.objects.create(name="mail", kind=ChannelKind.EMAIL, email_to="o@example.org")
    # Stored before ingest refused control characters in names.
    delivery_id = deliver("nl-dep\nBcc: victim@example.org", channel)
    [message] = smtp_server.inbox.messages
    # Long subjects are folded (RFC 5322: a line break before a space); unfolded, one line.
    subject = re.sub(r"\r?\n ", " ", message["Subject"])
    assert subject == (
        "[Firing] slow nl-dep Bcc: victim@example.org: nl-dep Bcc: victim@example.org on node-1"
    )
    assert message["Bcc"] is None
    assert smtp_server.inbox.envelopes[0][1] == ["o@example.org"]
    assert Channel.objects.get().enabled
    from alerts.models import Delivery

    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.SENT


def test_an_email_that_cannot_be_built_fails_once_with_the_reason(
    smtp_server: SmtpServer, settings
) -> None:  # type: ignore[no-untyped-def]
    from alerts.models import Delivery

    settings.DEFAULT_FROM_EMAIL = "alerts@example.org\nBcc: victim@example.org"
    channel = Channel.objects.create(name="mail", kind=ChannelKind.EMAIL, email_to="o@example.org")
    delivery = Delivery.objects.get(pk=deliver("dep", channel))
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_error.startswith("the email cannot be built: Header values can't")
    assert smtp_server.inbox.messages == []
    assert Channel.objects.get().enabled  # the channel is fine; this one message is not
