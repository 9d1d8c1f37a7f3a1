"""Where webhooks may go: public addresses only, checked after DNS resolution, both when a
subscription is saved and at every delivery, and the connection is made to the address
that was checked (a DNS answer that changes in between cannot redirect it). Redirects
are not followed. Without this, a subscription to 127.0.0.1, 10.0.0.1 or the cloud
metadata address 169.254.169.254 would turn the delivery log into a port scanner.
WEBHOOK_ALLOW_PRIVATE_NETWORKS allows private and loopback targets for on-premises
installations whose receivers live on the internal network.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


class ForbiddenDestination(ValueError):
    """The URL's host is not one webhooks may be sent to; the message says why."""


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_global:
        return True
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return False
    # Even on-premises: never the unspecified, multicast or link-local (metadata) ranges.
    return not (address.is_unspecified or address.is_multicast or address.is_link_local)


def resolve_destination(url: str) -> tuple[str, str, int]:
    """(host, checked address, port) for a webhook URL, or ForbiddenDestination."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForbiddenDestination("Give an http:// or https:// URL with a host name.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ForbiddenDestination(f"The host {parts.hostname!r} does not resolve ({exc}).") from None
    addresses = [ipaddress.ip_address(str(answer[4][0]).split("%")[0]) for answer in answers]
    refused = [str(a) for a in addresses if not _allowed(a)]
    if refused or not addresses:
        raise ForbiddenDestination(
            f"{parts.hostname} resolves to {', '.join(refused) or 'nothing'}: a private, loopback, link-local or "
            "reserved address. Webhooks go to public addresses only (an on-premises installation can set "
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS)."
        )
    return parts.hostname, str(addresses[0]), port


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, pinned_address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.pinned_address = pinned_address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, pinned_address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.pinned_address = pinned_address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        # The certificate is checked against the host name, as for any https request.
        context = getattr(self, "_context", None) or ssl.create_default_context()
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is then reported as an HTTP error, never followed


def opener_for(address: str) -> urllib.request.OpenerDirector:
    """An opener that connects only to `address` (already checked) and follows no redirect."""

    def plain(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        return _PinnedHTTPConnection(host, pinned_address=address, **kwargs)

    def secure(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        return _PinnedHTTPSConnection(host, pinned_address=address, **kwargs)

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(plain, req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(secure, req, context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(Http(), Https(), _NoRedirects())
