"""The bench's HTTP side: a logged-in client on loopback and the interleaved page timing.

Apart from bench/pages.py so the script stays readable; timing here is client wall
time per request (see the docstring there for what it includes).
"""

from __future__ import annotations

import http.client
import math
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.pages_fleet import PASSWORD, USERNAME

RANGE = "30d"


class Client:
    """One logged-in browser: cookies kept, its connection reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        sent = {"Connection": "keep-alive", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body, sent)
        resp = self.conn.getresponse()
        data = resp.read()
        for header in resp.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            self.cookies.update({k: m.value for k, m in jar.items()})
        return resp.status, data

    def login(self) -> None:
        status, page = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None or "csrftoken" not in self.cookies:
            raise SystemExit(f"login page: {status}, no CSRF token:\n{page[:500]!r}")
        body = urlencode(
            {
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1).decode(),
                "next": "/",
            }
        )
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, page = self.request("POST", "/accounts/login/", body, form)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"login failed: {status}\n{page[:500]!r}")

    def close(self) -> None:
        self.conn.close()


@dataclass
class PageTiming:
    path: str
    status: int
    ms: list[float] = field(default_factory=list)
    size: int = 0

    def pct(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.ms)


def warm_up(port: int, cookies: dict[str, str], url: str, workers: int) -> tuple[int, int]:
    """Each page once on every worker (imports, templates and connections are per process):
    as many requests at once as there are workers, twice. Returns the status and size."""

    def one(_: int) -> tuple[int, int]:
        client = Client(port)
        client.cookies = dict(cookies)
        status, body = client.request("GET", url)
        client.close()
        return status, len(body)

    with ThreadPoolExecutor(workers) as pool:
        results = [r for _ in range(2) for r in pool.map(one, range(workers))]
    return next((r for r in results if r[0] != 200), results[0])


def time_pages(
    ports: Sequence[int], paths: Sequence[str], requests: int, workers: int
) -> list[list[PageTiming]]:
    """Each page on each server: warm-ups, then round after round of one timed request
    per page and server. Interleaved, a passing hiccup (a checkpoint, another process)
    lands on every page and on both databases alike, not on one page's samples."""
    clients = [Client(port) for port in ports]
    timings: list[list[PageTiming]] = []
    for client, port in zip(clients, ports, strict=True):
        client.login()
        timings.append([])
        for path in paths:
            status, size = warm_up(port, client.cookies, f"{path}?range={RANGE}", workers)
            timings[-1].append(PageTiming(path, status, size=size))
    servers = list(zip(clients, timings, strict=True))
    for round_ in range(requests):
        for page in range(len(paths)):
            # Alternate which server goes first: the second of a pair may find warmer caches.
            for client, server in servers if round_ % 2 == 0 else servers[::-1]:
                timing = server[page]
                if timing.status != 200:
                    continue
                started = time.perf_counter()
                status, body = client.request("GET", f"{timing.path}?range={RANGE}")
                timing.ms.append((time.perf_counter() - started) * 1000)
                timing.status, timing.size = status, len(body)
    for client in clients:
        client.close()
    return timings
