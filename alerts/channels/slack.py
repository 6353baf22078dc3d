import json

from alerts.channels.base import Message, Transport, raise_for_status
from alerts.http import post

COLOURS = {"critical": "#d7263d", "warning": "#f4a259", "info": "#3e8ed0", "resolved": "#2e933c"}


def blocks(message: Message) -> dict[str, object]:
    """Block Kit: a title, the sentence, the figures, and a button to the page."""
    body: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:3000]}},
    ]
    if message.fields:
        body.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
                    for name, value in message.fields[:10]
                ],
            }
        )
    if message.link:
        body.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Inferscope"},
                        "url": message.link,
                    }
                ],
            }
        )
    colour = COLOURS.get(message.severity, COLOURS["info"])
    return {"text": message.title, "attachments": [{"color": colour, "blocks": body}]}


class SlackTransport(Transport):
    """A Slack incoming webhook. 404 and 410 mean the webhook was removed: permanent."""

    kind = "slack"

    def send(self, message: Message) -> None:
        body = json.dumps(blocks(message)).encode()
        status, text = post(self.channel.url, body, {"Content-Type": "application/json"})
        raise_for_status(status, text, permanent=(403, 404, 410))
