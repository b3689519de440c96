"""Generic webhook: one HTTP request per message (httpx, one client per dispatch run).

* ``Idempotency-Key`` header = the outbox idempotency key, identical on every retry, so a receiver
  that honours it (Stripe-style) never acts twice; that is why webhooks, unlike email, are resent
  automatically when a crash left their fate unknown.
* The target is checked **at send time**: the host is resolved and every address must be public.
  Private, loopback, link-local, CGNAT, multicast and reserved addresses are refused (a permanent
  failure) unless ``settings.allow_private_webhooks``. The request then goes to the address that
  was checked (the connection is pinned to it, with the original Host header and TLS server name),
  so a DNS answer that changes between the check and the request cannot redirect it inside.
* Redirects are not followed (a redirect could point inside just the same).
* 2xx = sent; 408/425/429/5xx and network errors = retry (``Retry-After`` honoured); other 4xx and
  3xx = permanent failure.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from backend.channels.base import OutgoingMessage, Provider, SendResult

RETRY_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "Waymark-Webhook/1"


class BlockedTarget(Exception):
    pass


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


async def resolve_public(host: str, port: int) -> list[str]:
    """The host's addresses, all of them public; raises :class:`BlockedTarget` otherwise."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        if _forbidden(ipaddress.ip_address(address.split("%")[0])):
            raise BlockedTarget(
                f"refusing to call {host} ({address}): private, loopback or link-local addresses are not "
                "allowed (set WAYMARK_ALLOW_PRIVATE_WEBHOOKS=1 to allow them)"
            )
    return addresses


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class WebhookProvider(Provider):
    channel = "webhook"
    kind = "http"
    idempotent = True

    def __init__(self, *, allow_private: bool = False, timeout: float = 15.0, concurrency: int = 16) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.concurrency = concurrency
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            )
        return self._client

    async def send(self, message: OutgoingMessage) -> SendResult:
        content = message.content
        url = str(message.to or "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return SendResult.failed(f"not an http(s) URL: {url!r}")
        method = (content.get("method") or "POST").upper()
        headers: dict[str, str] = {str(k): str(v) for k, v in (content.get("headers") or {}).items()}
        headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "idempotency-key", "content-length")}
        headers["Idempotency-Key"] = message.idempotency_key
        body = content.get("body")
        if isinstance(body, str):
            data: bytes | None = body.encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = content.get("content_type") or "application/json"
        else:
            data = None
        if method == "GET":
            data = None

        target = url
        extensions: dict[str, Any] = {}
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            if not self.allow_private:
                address = (await resolve_public(parts.hostname, port))[0]
                host_for_url = f"[{address}]" if ":" in address else address
                netloc = host_for_url + (f":{parts.port}" if parts.port else "")
                target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
                headers["Host"] = parts.netloc.rpartition("@")[2]
                if parts.scheme == "https":
                    extensions["sni_hostname"] = parts.hostname
        except BlockedTarget as exc:
            return SendResult.failed(str(exc))
        except OSError as exc:
            return SendResult.retry(str(exc))

        try:
            request = self._http().build_request(method, target, headers=headers, content=data, extensions=extensions)
            response = await self._http().send(request)
            await response.aread()
        except httpx.TimeoutException as exc:
            return SendResult.retry(f"timeout calling the webhook: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return SendResult.retry(f"webhook request failed: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(response.headers.get("x-request-id") or f"http-{status}")
        summary = f"HTTP {status}: {response.text[:200]}"
        if status in RETRY_STATUSES or status >= 500:
            return SendResult.retry(summary, _retry_after(response))
        if 300 <= status < 400:
            return SendResult.failed(f"HTTP {status}: redirects are not followed ({response.headers.get('location')})")
        return SendResult.failed(summary)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
