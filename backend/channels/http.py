"""The HTTP client shared by the HTTP providers (SMS, WeChat, Web Push).

Provider base URLs are set by workspace admins and push endpoints come from contacts' browsers, so
every request is checked like a webhook's (backend/channels/webhook.py): the host is resolved at send
time, private / loopback / link-local targets are refused unless ``settings.allow_private_webhooks``,
and the connection is pinned to the address that was checked. Redirects are never followed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from backend.channels.webhook import BlockedTarget, _retry_after, resolve_public

USER_AGENT = "Waymark/1"
RETRY_STATUSES = frozenset({408, 425, 429})

__all__ = ["RETRY_STATUSES", "BlockedTarget", "GuardedHttp", "retry_after"]


def retry_after(response: httpx.Response) -> float | None:
    return _retry_after(response)


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
