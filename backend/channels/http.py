"""The HTTP client shared by the HTTP providers (SMS, WeChat, Web Push).

Provider base URLs are set by workspace admins and push endpoints come from contacts' browsers, so
every request is checked like a webhook's: the host is resolved at send
time, private / loopback / link-local targets are refused unless ``settings.allow_private_webhooks``,
and the connection is pinned to the address that was checked. Redirects are never followed.
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

USER_AGENT = "Waymark/1"
RETRY_STATUSES = frozenset({408, 425, 429})

__all__ = ["RETRY_STATUSES", "BlockedTarget", "GuardedHttp", "resolve_public", "retry_after"]


class BlockedTarget(Exception):
    pass


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


async def resolve_public(host: str, port: int, setting: str = "WAYMARK_ALLOW_PRIVATE_WEBHOOKS") -> list[str]:
    """The host's addresses, all of them public; raises :class:`BlockedTarget` otherwise (naming the
    ``setting`` that would allow them)."""
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
                f"allowed (set {setting}=1 to allow them)"
            )
    return addresses


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if the server sent one."""
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


class GuardedHttp:
    """One pooled ``httpx.AsyncClient`` per provider instance (one dispatch run)."""

    def __init__(self, *, allow_private: bool = False, timeout: float = 15.0, concurrency: int = 16) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.concurrency = concurrency
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            )
        return self._client

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        data: dict[str, Any] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Raises :class:`BlockedTarget` (permanent), ``OSError`` / ``httpx.HTTPError`` (transient)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BlockedTarget(f"not an http(s) URL: {url!r}")
        headers = dict(headers or {})
        extensions: dict[str, Any] = {}
        target = url
        if not self.allow_private:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = (await resolve_public(parts.hostname, port))[0]
            host_for_url = f"[{address}]" if ":" in address else address
            netloc = host_for_url + (f":{parts.port}" if parts.port else "")
            target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
            headers["Host"] = parts.netloc.rpartition("@")[2]
            if parts.scheme == "https":
                extensions["sni_hostname"] = parts.hostname
        client = self.client()
        request = client.build_request(
            method,
            target,
            headers=headers,
            content=content,
            data=data,
            json=json,
            params=params,
            extensions=extensions,
        )
        response = await client.send(request)
        await response.aread()
        return response

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
