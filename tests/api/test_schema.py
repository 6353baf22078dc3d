"""/api/schema/ and /api/docs/: the OpenAPI 3 schema of every endpoint, not public,
and a docs page that loads nothing from outside the project."""

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
import yaml
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from api.services import api_token_create

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/"
DOCS = "/api/docs/"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def logged_in(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def schema(logged_in: Client) -> dict[str, Any]:
    response = logged_in.get(SCHEMA, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _route(pattern: URLPattern | URLResolver) -> str:
    """A URL pattern as an OpenAPI path template: <int:pk> and (?P<pk>…) become {pk}."""
    text = str(pattern.pattern)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)
    return text.removeprefix("^").removesuffix("$").removesuffix(r"\Z").replace("\\", "")


def _urls(patterns: list, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for pattern in patterns:
        route = prefix + _route(pattern)
        if isinstance(pattern, URLResolver):
            out.extend(_urls(pattern.url_patterns, route))
        else:
            out.append(("/" + route, pattern.callback))
    return out


def test_a_logged_in_user_gets_the_openapi_3_schema_as_yaml_and_json(logged_in):
    response = logged_in.get(SCHEMA)
    assert response.status_code == 200
    as_yaml = yaml.safe_load(response.content)
    assert as_yaml["openapi"].startswith("3.") and as_yaml["info"]["title"] == "Inferscope API"
    as_json = logged_in.get(SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert as_json["paths"] == json.loads(json.dumps(as_yaml["paths"]))


def test_a_read_token_gets_the_schema_and_anonymous_gets_401(owner):
    _, token = api_token_create(owner, "docs", "read")
    response = Client().get(SCHEMA, HTTP_ACCEPT="application/json", **bearer(token))
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")
    anonymous = Client().get(SCHEMA, HTTP_ACCEPT="application/json")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Authentication credentials were not provided.",
                                "errors": []}  # fmt: skip
    assert Client().get(SCHEMA, **bearer("isk_not-a-token")).status_code == 401


def test_every_api_v1_url_is_in_the_schema(schema):
    urls = [
        (path, view)
        for path, view in _urls(get_resolver().url_patterns)
        if path.startswith("/api/v1/")
        # DefaultRouter's root listing and its `.json` suffix twins are not operations.
        and "{format}" not in path
        and getattr(view, "cls", None).__name__ != "APIRootView"
    ]
    assert len(urls) > 20

    # The schema names a pk parameter after the model's field (id): names aside.
    def shape(path: str) -> str:
        return re.sub(r"\{\w+\}", "{}", path)

    missing = sorted({shape(path) for path, _ in urls} - {shape(p) for p in schema["paths"]})
    assert missing == []


def test_the_token_schemes_and_the_error_shape_are_declared(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiToken"]["type"] == "http" and schemes["apiToken"]["scheme"] == "bearer"
    assert schemes["agentToken"]["scheme"] == "bearer"
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    costs = schema["paths"]["/api/v1/costs/budgets"]["get"]
    assert {"apiToken": []} in costs["security"] and {"cookieAuth": []} in costs["security"]
    assert schema["paths"]["/api/v1/ingest"]["post"]["security"] == [{"agentToken": []}]
    assert costs["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "errors"]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_the_docs_page_uses_only_the_projects_static_files(logged_in):
    response = logged_in.get(DOCS)
    assert response.status_code == 200
    html = response.content.decode()
    parser = _Assets()
    parser.feed(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in parser.urls)
    assert parser.urls and all(url.startswith("/static/") for url in parser.urls), parser.urls
    # Nor from the inline script: no absolute URL anywhere on the page.
    assert not re.search(r"https?://|//cdn", html)
    assert SCHEMA in html
    for url in parser.urls:
        assert logged_in.get(url).status_code == 200, url


def test_the_docs_page_needs_a_login():
    response = Client().get(DOCS)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# What schemathesis found (.ci/schemathesis.sh), kept as tests: a 400, never a 500,
# and answers that match the schema.


def test_a_node_name_with_nul_is_a_400_not_a_database_error(owner):
    client = Client()
    client.force_login(owner)
    body = {"node": "no\x00de", "valid_from": "2026-01-01", "kind": "custom",
            "usd_per_gpu_hour": "2.00"}  # fmt: skip
    response = client.post("/api/v1/costs/node-prices", body, "application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "node"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/alerts/alerts?state=x%00", "state"),
        ("/api/v1/alerts/deliveries?status=nope", "status"),
    ],
)
def test_an_unknown_alert_filter_value_is_a_400(logged_in, url, field):
    response = logged_in.get(url)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == field
    assert logged_in.get(url.split("?")[0] + "?" + field + "=").status_code == 200


def test_fields_that_can_be_null_say_so(schema):
    components = schema["components"]["schemas"]
    for name, field in [("Job", "node_name"), ("Job", "deployment_name"),
                        ("Delivery", "event_kind"), ("Delivery", "alert")]:  # fmt: skip
        assert components[name]["properties"][field].get("nullable") is True, (name, field)
