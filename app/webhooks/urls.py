"""Which URLs an endpoint may have (SSRF rules, docs/webhooks.md).

- an absolute ``http(s)`` URL of at most 2048 characters, with a host, no user or password;
- ``https`` only, except ``http`` to ``localhost`` or a loopback address where
  ``WEBHOOK_ALLOW_HTTP`` is set (development and tests);
- where ``WEBHOOK_BLOCK_PRIVATE`` is set (production), every address the host resolves to
  must be a public one: private, loopback, link-local (169.254.169.254, the clouds' metadata
  service), multicast, reserved and unspecified addresses are refused. Checked when the URL is
  registered and again just before each request (``check_destination``), so a name that
  resolves elsewhere later (DNS rebinding) still can't reach the internal network.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

from app.webhooks.errors import WebhookError
from app.webhooks.models import URL_MAX

LOCAL_NAMES = {"localhost", "localhost.localdomain"}


class UnsafeDestination(ValueError):
    """The URL's host resolves to an address webhooks may not reach (or does not resolve)."""


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _is_loopback_host(host: str) -> bool:
    ip = _ip(host)
    return host.lower().rstrip(".") in LOCAL_NAMES or (ip is not None and ip.is_loopback)


def _forbidden(ip) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (``socket.getaddrinfo``); [] when it doesn't."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def check_destination(url: str) -> None:
    """Raise UnsafeDestination when ``WEBHOOK_BLOCK_PRIVATE`` is set and ``url``'s host resolves
    to a non-public address (or to none). Called at registration and before each request."""
    if not current_app.config.get("WEBHOOK_BLOCK_PRIVATE", True):
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _ip(host)
    addresses = [str(literal)] if literal is not None else resolve(host, port)
    if not addresses:
        raise UnsafeDestination(f"The host {host} does not resolve.")
    for address in addresses:
        ip = _ip(address)
        if ip is None or _forbidden(ip):
            raise UnsafeDestination(
                f"The host {host} resolves to {address}, a private or reserved address webhooks can't reach."
            )


def validate_url(raw) -> str:
    """The endpoint URL to store, or WebhookError ``{"url": ...}``."""
    if not isinstance(raw, str) or not raw.strip():
        raise WebhookError({"url": "Enter the URL that receives the events."})
    url = raw.strip()
    if len(url) > URL_MAX:
        raise WebhookError({"url": f"At most {URL_MAX} characters."})
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise WebhookError({"url": "A URL has no spaces or control characters."})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookError({"url": "This is not a valid URL."}) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError({"url": "Enter an absolute https:// URL."})
    host = parts.hostname or ""
    if not host:
        raise WebhookError({"url": "The URL has no host."})
    if parts.username is not None or parts.password is not None:
        raise WebhookError({"url": "Don't put a user name or password in the URL."})
    if port == 0:
        raise WebhookError({"url": "This is not a valid URL."})
    if scheme == "http":
        allowed = current_app.config.get("WEBHOOK_ALLOW_HTTP", False) and _is_loopback_host(host)
        if not allowed:
            raise WebhookError({"url": "Use https:// (http:// only reaches localhost in development)."})
    try:
        check_destination(url)
    except UnsafeDestination as exc:
        raise WebhookError({"url": str(exc)}) from None
    return url
