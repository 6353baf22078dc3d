"""Every string an agent chooses (a node's or a deployment's name, a label) reaches
pages, email, Slack, webhooks, CSV and /metrics escaped for each (issue 23)."""

import csv
import html
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import msgspec
import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from alerts.channels.slack import blocks
from alerts.choices import AlertState, EventKind
from alerts.messages import event_message
from alerts.models import Alert, AlertEvent, Rule
from api.services import api_token_create
from collectors.ingest import ingest_batch
from collectors.models import Deployment
from collectors.services import agent_create
from costs.models import HourlySpend
from tests.examples import examples

pytestmark = pytest.mark.django_db
NOW = datetime.now(UTC).replace(microsecond=0)
_counter = itertools.count(1)
# What ingest takes for a name: one line of anything, the characters that mean
# something to HTML, Slack, CSV or Prometheus among them.
names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
    | st.sampled_from(list("<>&\"'`*_~|!@=+-\\{}$ ")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() == s and s)
STRINGS = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def store(name: str) -> Deployment:
    n = next(_counter)
    node = f"node-{n}"
    body = {
        "schema_version": 1,
        "batch_id": f"strings-{n}",
        "inventory": {
            "nodes": [{"name": node, "labels": {"team": name}}],
            "deployments": [{"name": name, "node": node, "labels": {"project": name}}],
        },
        "inference_samples": [
            {"deployment": name, "node": node, "ts": NOW.isoformat(), "interval_s": 10.0}
        ],
    }
    agent = agent_create(f"agent-{n}")[0]
    ingest_batch(agent, msgspec.json.encode(body), now=NOW + timedelta(seconds=1))
    return Deployment.objects.get(node__name=node)


def outside_scripts(page: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", page, flags=re.S | re.I)


@STRINGS
@given(name=names)
def test_an_agent_chosen_name_is_text_on_every_surface(owner, name):
    name = f"zq{name}qz"  # markers: the name's own characters are found, not the page's
    deployment = store(name)
    label = str(deployment)

    # A page: HTML-escaped wherever it is shown, and no element of its own.
    client = Client()
    client.force_login(owner)
    page = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert html.escape(name) in page.replace("&#39;", "&#x27;")
    if any(c in name for c in "<>&\"'"):
        # Raw only inside scripts (chart data, JSON-encoded); a "</script>" in the name
        # would end its script early and show up here.
        assert name not in outside_scripts(page)

    # An alert about it, as each channel renders it.
    rule = Rule.objects.create(name=f"quiet {deployment.pk}", kind="silence", value=5)
    alert = Alert.objects.create(
        rule=rule,
        entity=f"deployment:{deployment.pk}",
        entity_label=label,
        state=AlertState.FIRING,
        summary=f"{label} has sent nothing for 5 minutes",
        started_at=NOW,
        fired_at=NOW,
    )
    event = AlertEvent.objects.create(alert=alert, kind=EventKind.FIRING, summary=alert.summary)
    message = event_message(event)
    slack = blocks(message)
    mrkdwn = [slack["text"]]
    for block in slack["attachments"][0]["blocks"]:
        if block["type"] == "section":
            mrkdwn += [block["text"]["text"]] if "text" in block else []
            mrkdwn += [field["text"] for field in block.get("fields", [])]
    for text in mrkdwn:
        assert "<" not in text and ">" not in text, text
        assert "&" not in re.sub(r"&(amp|lt|gt);", "", text), text
    assert "\n" not in message.title and "\r" not in message.title
    email_html = render_to_string("alerts/email.html", {"message": message})
    assert html.escape(label, quote=False) in email_html.replace("&#x27;", "'").replace(
        "&quot;", '"'
    )
    webhook = json.loads(json.dumps(message.data))
    assert webhook["entity"]["label"] == label

    # The CSV export: the same text back, a formula kept as text.
    _, token = api_token_create(owner, f"csv-{deployment.pk}", "read")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(
        "/api/v1/deployments", {"format": "csv", "node": deployment.node.name}
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    [row] = rows
    assert row["name"] == name

    # /metrics: the label values escaped (by prometheus_client), parsed back to the same text.
    last_hour = NOW.replace(minute=0, second=0) - timedelta(hours=1)
    HourlySpend.objects.create(
        hour=last_hour, deployment=deployment, usd=1, idle_held_usd=0, gpu_hours=1.0
    )
    with mock.patch.object(timezone, "now", lambda: NOW):  # the clock: NOW's last hour
        text = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/metrics").content.decode()
    [labels] = [
        sample.labels
        for family in text_string_to_metric_families(text)
        if family.name == "inferscope_deployment_cost_usd_per_hour"
        for sample in family.samples
        if sample.labels["node"] == deployment.node.name
    ]
    assert labels["deployment"] == name and labels["label_project"] == name
