import json

from alerts.channels.base import Message, Transport, raise_for_status
from alerts.http import post

COLOURS = {"critical": "#d7263d", "warning": "#f4a259", "info": "#3e8ed0", "resolved": "#2e933c"}


def escape(text: str) -> str:
    """Slack's three control characters, as its formatting rules ask: an agent-chosen
    name such as `<!channel>` or `<https://…|re-authenticate>` must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(text: str, limit: int) -> str:
    """Escaped, then cut to Slack's length limit without splitting an `&lt;`."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp >= len(cut) - 4 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def blocks(message: Message) -> dict[str, object]:
    """Block Kit: a title, the sentence, the figures, and a button to the page.

    Every mrkdwn text and the notification `text` are escaped; plain_text (the
    header) is shown as it is, unparsed.
    """
    body: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _fit(message.text, 3000)}},
    ]
    if message.fields:
        body.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _fit(f"*{name}*\n{value}", 2000)}
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
    return {"text": _fit(message.title, 3000), "attachments": [{"color": colour, "blocks": body}]}


class SlackTransport(Transport):
    """A Slack incoming webhook. 404 and 410 mean the webhook was removed: permanent."""

    kind = "slack"

    def send(self, message: Message) -> None:
        body = json.dumps(blocks(message)).encode()
        status, text = post(self.channel.url, body, {"Content-Type": "application/json"})
        raise_for_status(status, text, permanent=(403, 404, 410))
