"""POST to a Slack or webhook URL without letting the URL reach the internal network.

The host is resolved once; every address must be public (not private, loopback,
link-local, multicast or reserved) unless ALERTS_ALLOW_PRIVATE_ADDRESSES is on,
and the connection goes to the checked address, so a DNS answer that changes
between check and connect cannot redirect it. Redirects are not followed.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

from alerts.constants import (
    ERROR_TEXT_LIMIT,
    HTTP_CONNECT_TIMEOUT_SECONDS,
    HTTP_TIMEOUT_SECONDS,
)
from alerts.errors import DeliveryError

NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64 or int(ip) >> 32 == 0:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]
    )
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and not (inner.is_global and not inner.is_multicast):
            return False
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError(f"cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.ALERTS_ALLOW_PRIVATE_ADDRESSES:
        blocked = [a for a in addresses if not _public(a)]
        if blocked:
            raise DeliveryError(
                f"{host} resolves to a non-public address ({blocked[0]}); refused"
                " (set ALERTS_ALLOW_PRIVATE_ADDRESSES=true to allow it)",
                permanent=True,
            )
    return str(addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate verified for the URL's host."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST `body`; returns (status, start of the response text). Network trouble
    raises a temporary DeliveryError; a refused address, a permanent one."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DeliveryError("the URL's port is not valid", permanent=True) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("the URL must be http:// or https:// with a host", permanent=True)
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise DeliveryError("the URL contains spaces or control characters", permanent=True)
    address = _resolve(parts.hostname, port)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(parts.hostname, address, port, HTTP_CONNECT_TIMEOUT_SECONDS)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=HTTP_CONNECT_TIMEOUT_SECONDS)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    try:
        connection.connect()
        connection.sock.settimeout(HTTP_TIMEOUT_SECONDS)
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Host": host_header, "User-Agent": "Inferscope-alerts", **headers},
        )
        response = connection.getresponse()
        text = response.read(ERROR_TEXT_LIMIT).decode("utf-8", "replace")
        return response.status, text
    except http.client.InvalidURL:
        # Its message would quote the URL, a secret.
        raise DeliveryError("the URL is not valid", permanent=True) from None
    except (OSError, http.client.HTTPException) as exc:
        # The exception text names the peer address at most, never the URL's path.
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
