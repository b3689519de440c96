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

import httpx

from backend.channels.base import OutgoingMessage, Provider, SendResult
from backend.channels.http import RETRY_STATUSES, BlockedTarget, GuardedHttp, retry_after


class WebhookProvider(Provider):
    channel = "webhook"
    kind = "http"
    idempotent = True

    def __init__(self, *, allow_private: bool = False, timeout: float = 15.0, concurrency: int = 16) -> None:
        self.http = GuardedHttp(allow_private=allow_private, timeout=timeout, concurrency=concurrency)

    async def send(self, message: OutgoingMessage) -> SendResult:
        content = message.content
        url = str(message.to or "")
        method = (content.get("method") or "POST").upper()
        headers: dict[str, str] = {str(k): str(v) for k, v in (content.get("headers") or {}).items()}
        headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "idempotency-key", "content-length")}
        headers["Idempotency-Key"] = message.idempotency_key
        body = content.get("body")
        data: bytes | None = None
        if isinstance(body, str) and method != "GET":
            data = body.encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = content.get("content_type") or "application/json"
        try:
            response = await self.http.request(method, url, headers=headers, content=data)
        except BlockedTarget as exc:
            return SendResult.failed(str(exc))
        except httpx.TimeoutException as exc:
            return SendResult.retry(f"timeout calling the webhook: {type(exc).__name__}")
        except (OSError, httpx.HTTPError) as exc:
            return SendResult.retry(f"webhook request failed: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(response.headers.get("x-request-id") or f"http-{status}")
        summary = f"HTTP {status}: {response.text[:200]}"
        if status in RETRY_STATUSES or status >= 500:
            return SendResult.retry(summary, retry_after(response))
        if 300 <= status < 400:
            return SendResult.failed(f"HTTP {status}: redirects are not followed ({response.headers.get('location')})")
        return SendResult.failed(summary)

    async def close(self) -> None:
        await self.http.close()
