"""Web Push with VAPID (kind ``webpush``): pywebpush encrypts (RFC 8291, ``aes128gcm``) and py_vapid
signs (RFC 8292); the request goes out through the guarded HTTP client (a subscription's endpoint comes
from a browser, so it is checked against private ranges like a webhook).

* A contact's ``push_tokens`` holds browser subscriptions ``{endpoint, keys: {p256dh, auth}}``; a
  message goes to every one of them. Payload (what the service worker's ``event.data.json()`` gets):
  ``{"title", "body", "image", "url", "message_id"}``.
* Headers: ``TTL`` (config ``ttl``, default one day), ``Urgency``, ``Topic`` (derived from the outbox
  idempotency key: a push service replaces an undelivered message with the same topic, so a resend
  never stacks up), ``Authorization: vapid t=…, k=…``.
* 201/202/200 = sent. 404/410 = the subscription is gone: permanent for that subscription, and it is
  removed from the contact. 429/5xx and network problems = retry; other 4xx (400, 403 wrong VAPID key,
  413 too large) = permanent.
* Several subscriptions: ``sent`` when at least one push service accepted the message (the others'
  problems go to ``last_error``); otherwise ``retry`` when any failure was transient, else ``failed``.
"""

from __future__ import annotations

import base64
import time
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
import msgspec
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from backend.channels.base import OutgoingMessage, Provider, SendResult, stable_id
from backend.channels.http import RETRY_STATUSES, BlockedTarget, GuardedHttp, retry_after
from backend.db.models import Contact as ContactRow

GONE_STATUSES = frozenset({404, 410})


class WebPushConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    vapid_private_key: Annotated[str, msgspec.Meta(max_length=4000, title="VAPID private key (PEM or base64url)")] = ""
    subject: Annotated[
        str, msgspec.Meta(pattern=r"^(mailto:|https:)", max_length=500, title="Contact (mailto: or https:)")
    ]
    ttl: Annotated[int, msgspec.Meta(ge=0, le=2_419_200, title="Time to live (seconds)")] = 86_400
    urgency: Literal["very-low", "low", "normal", "high"] = "normal"
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 16

    secrets: ClassVar[tuple[str, ...]] = ("vapid_private_key",)


def load_vapid(key: str) -> Vapid:
    """A VAPID key from PEM, or base64url raw (32 bytes) / DER. Raises ``ValueError``."""
    key = (key or "").strip()
    if not key:
        raise ValueError("a VAPID private key is required")
    try:
        if "-----BEGIN" in key:
            return Vapid.from_pem(key.encode())
        return Vapid.from_string(private_key=key)
    except Exception as exc:
        raise ValueError(f"not a usable VAPID private key ({type(exc).__name__})") from exc


def public_key(vapid: Vapid) -> str:
    """The application server key for ``pushManager.subscribe`` (base64url, uncompressed point)."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subscriptions(to: Any) -> list[dict[str, Any]]:
    """The Web Push subscriptions among a contact's push tokens (other kinds of tokens are ignored)."""
    items = to if isinstance(to, list) else [to]
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("endpoint"), str):
            keys = item.get("keys")
            if isinstance(keys, dict) and keys.get("p256dh") and keys.get("auth"):
                out.append(item)
    return out


def remove_subscriptions(conn: sa.Connection, contact_id: int, endpoints: list[str], *, lock: bool) -> int:
    """Remove the subscriptions with these endpoints from a contact's push tokens; returns how many."""
    table = ContactRow.__table__
    query = sa.select(table.c.push_tokens).where(table.c.id == contact_id)
    if lock:
        query = query.with_for_update()
    tokens = conn.execute(query).scalar()
    if not tokens:
        return 0
    gone = set(endpoints)
    kept = [t for t in tokens if not (isinstance(t, dict) and t.get("endpoint") in gone)]
    if len(kept) != len(tokens):
        conn.execute(sa.update(table).where(table.c.id == contact_id).values(push_tokens=kept))
    return len(tokens) - len(kept)


class WebPushProvider(Provider):
    channel = "push"
    kind = "webpush"

    def __init__(self, config: WebPushConfig, *, allow_private: bool = False) -> None:
        self.config = config
        self.vapid = load_vapid(config.vapid_private_key)
        self.public_key = public_key(self.vapid)
        self.concurrency = config.concurrency
        self.http = GuardedHttp(allow_private=allow_private, timeout=config.timeout, concurrency=config.concurrency)
        self._signed: dict[str, tuple[float, str]] = {}

    def _authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        hit = self._signed.get(audience)
        now = time.time()
        if hit is None or hit[0] < now + 3600:
            expires = int(now) + 12 * 3600
            header = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.config.subject})["Authorization"]
            hit = (expires, header)
            self._signed[audience] = hit
        return hit[1]

    def payload(self, message: OutgoingMessage) -> bytes:
        content = message.content
        return msgspec.json.encode(
            {
                "title": content.get("title") or "",
                "body": content.get("body") or "",
                "image": content.get("image") or None,
                "url": content.get("link") or None,
                "message_id": message.outbox_id,
            }
        )

    async def _one(self, subscription: dict[str, Any], data: bytes, topic: str) -> tuple[str, str, float | None]:
        """``(outcome, detail, retry_after)`` for one subscription; outcome: sent | retry | failed | gone."""
        endpoint = subscription["endpoint"]
        try:
            encoded = WebPusher(subscription).encode(data, content_encoding="aes128gcm")
        except (WebPushException, ValueError, TypeError) as exc:
            return "failed", f"bad subscription keys: {exc}", None
        headers = {
            "TTL": str(self.config.ttl),
            "Urgency": self.config.urgency,
            "Topic": topic,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._authorization(endpoint),
        }
        try:
            response = await self.http.request("POST", endpoint, headers=headers, content=encoded["body"])
        except BlockedTarget as exc:
            return "failed", str(exc), None
        except (OSError, httpx.HTTPError) as exc:
            return "retry", f"push service unreachable: {type(exc).__name__}: {exc}", None
        status = response.status_code
        if 200 <= status < 300:
            return "sent", response.headers.get("location") or f"http-{status}", None
        text = f"HTTP {status}: {response.text[:200]}"
        if status in GONE_STATUSES:
            return "gone", f"{text} (subscription expired or unsubscribed; removed)", None
        if status in RETRY_STATUSES or status >= 500:
            return "retry", text, retry_after(response)
        return "failed", text, None

    async def send(self, message: OutgoingMessage) -> SendResult:
        subs = subscriptions(message.to)
        if not subs:
            return SendResult.failed("no Web Push subscription ({endpoint, keys: {p256dh, auth}}) to send to")
        data = self.payload(message)
        topic = stable_id(message.workspace_id, message.idempotency_key)[:32]
        results = [await self._one(sub, data, topic) for sub in subs]
        stale = [sub["endpoint"] for sub, (outcome, _, _) in zip(subs, results, strict=True) if outcome == "gone"]
        problems = "; ".join(detail for outcome, detail, _ in results if outcome != "sent")
        sent = [detail for outcome, detail, _ in results if outcome == "sent"]
        if sent:
            result = SendResult.sent(sent[0][:255])
            result.error = problems or None
        elif any(outcome == "retry" for outcome, _, _ in results):
            waits = [w for outcome, _, w in results if outcome == "retry" and w]
            result = SendResult.retry(problems, max(waits) if waits else None)
        else:
            result = SendResult.failed(problems)
        result.stale = stale
        return result

    async def check(self) -> tuple[bool, str]:
        return True, f"VAPID key loaded; application server key {self.public_key}"

    async def close(self) -> None:
        await self.http.close()
