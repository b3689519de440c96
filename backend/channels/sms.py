"""SMS over HTTP: a Twilio-compatible API and a generic JSON webhook.

**Twilio** (kind ``twilio``; also Twilio-compatible services, through ``base_url``):
``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json``, form-encoded ``To``, ``From`` (or
``MessagingServiceSid``), ``Body`` (and ``StatusCallback``), HTTP Basic auth ``account_sid:auth_token``,
``I-Twilio-Idempotency-Token: <outbox idempotency key>``. 2xx = sent (the ``sid``). 429 and 5xx are
retried (``Retry-After`` honoured), as are 401/403/404 (wrong credentials or account: fix the settings
and the queued messages go out); any other 4xx is permanent — ``21211`` invalid number, ``21610``
the recipient replied STOP (SMS consent is withdrawn), ``21614`` not a mobile number, ``21408`` region
not enabled, … — with Twilio's code and message in ``last_error``.

**Generic JSON webhook** (kind ``sms_webhook``): ``POST {url}`` with
``{"to", "from", "text", "encoding", "segments", "idempotency_key", "message_id"}``, ``Idempotency-Key``
header, optional ``Authorization: Bearer <token>``. 2xx = sent (``id`` / ``message_id`` / ``sid`` of a
JSON answer); 408/425/429/5xx retried; other 4xx permanent.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, ClassVar

import httpx
import msgspec

from backend.channels.base import OutgoingMessage, Provider, SendResult
from backend.channels.http import RETRY_STATUSES, BlockedTarget, GuardedHttp, retry_after
from backend.channels.sms_segments import count_segments

TWILIO_BASE_URL = "https://api.twilio.com"

TWILIO_PERMANENT = {
    21211: "invalid 'To' phone number",
    21214: "'To' phone number cannot be reached",
    21408: "permission to send to this region is not enabled",
    21606: "the 'From' number cannot send SMS",
    21610: "the recipient unsubscribed (replied STOP)",
    21612: "the 'To' number cannot be reached from the 'From' number",
    21614: "'To' is not a mobile number",
    21617: "the message body is too long",
}
TWILIO_OPTED_OUT = frozenset({21610})
TWILIO_RETRY_CODES = frozenset({20429, 20500, 20503, 30001})

Url = Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2000)]
Short = Annotated[str, msgspec.Meta(max_length=200)]


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TwilioConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    account_sid: Annotated[str, msgspec.Meta(min_length=1, max_length=64, title="Account SID")]
    auth_token: Annotated[str, msgspec.Meta(max_length=200, title="Auth token")] = ""
    from_: Annotated[str, msgspec.Meta(max_length=64, title="From (number or sender id)")] = msgspec.field(
        default="", name="from"
    )
    messaging_service_sid: Annotated[str, msgspec.Meta(max_length=64, title="Messaging service SID")] = ""
    base_url: Annotated[Url, msgspec.Meta(title="API base URL")] = TWILIO_BASE_URL
    status_callback: Annotated[str, msgspec.Meta(max_length=2000, title="Status callback URL")] = ""
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8

    secrets: ClassVar[tuple[str, ...]] = ("auth_token",)

    def __post_init__(self) -> None:
        if not self.from_ and not self.messaging_service_sid:
            raise ValueError("set `from` (a number or sender id) or `messaging_service_sid`")


class SmsWebhookConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    url: Annotated[Url, msgspec.Meta(title="URL")]
    token: Annotated[str, msgspec.Meta(max_length=500, title="Bearer token")] = ""
    from_: Annotated[str, msgspec.Meta(max_length=64, title="From")] = msgspec.field(default="", name="from")
    headers: dict[Short, Short] = {}
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8

    secrets: ClassVar[tuple[str, ...]] = ("token",)


def _error_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class TwilioProvider(Provider):
    channel = "sms"
    kind = "twilio"

    def __init__(self, config: TwilioConfig, *, allow_private: bool = False) -> None:
        self.config = config
        self.concurrency = config.concurrency
        self.http = GuardedHttp(allow_private=allow_private, timeout=config.timeout, concurrency=config.concurrency)

    @property
    def _account_url(self) -> str:
        return f"{self.config.base_url.rstrip('/')}/2010-04-01/Accounts/{self.config.account_sid}"

    async def send(self, message: OutgoingMessage) -> SendResult:
        to = str(message.to or "").strip()
        text = message.content.get("text") or ""
        if not to:
            return SendResult.failed("no phone number")
        if not text.strip():
            return SendResult.failed("the SMS text is empty")
        form = {"To": to, "Body": text}
        if self.config.messaging_service_sid:
            form["MessagingServiceSid"] = self.config.messaging_service_sid
        if self.config.from_:
            form["From"] = self.config.from_
        if self.config.status_callback:
            form["StatusCallback"] = self.config.status_callback
        headers = {
            "Authorization": basic_auth(self.config.account_sid, self.config.auth_token),
            "I-Twilio-Idempotency-Token": message.idempotency_key,
            "Accept": "application/json",
        }
        try:
            response = await self.http.request("POST", f"{self._account_url}/Messages.json", headers=headers, data=form)
        except BlockedTarget as exc:
            return SendResult.failed(str(exc))
        except (OSError, httpx.HTTPError) as exc:
            return SendResult.retry(f"SMS API unreachable: {type(exc).__name__}: {exc}")
        return self.classify(response)

    @staticmethod
    def classify(response: httpx.Response) -> SendResult:
        status = response.status_code
        data = _error_json(response)
        if 200 <= status < 300:
            return SendResult.sent(str(data.get("sid") or f"twilio-{status}"))
        code = data.get("code")
        detail = data.get("message") or response.text[:200]
        text = f"HTTP {status}" + (f", error {code}" if code else "") + f": {detail}"
        if code in TWILIO_PERMANENT:
            return SendResult.failed(f"{text} ({TWILIO_PERMANENT[code]})", opted_out=code in TWILIO_OPTED_OUT)
        if status in RETRY_STATUSES or status >= 500 or code in TWILIO_RETRY_CODES:
            return SendResult.retry(text, retry_after(response))
        if status in (401, 403, 404):
            return SendResult.retry(f"{text} (check the provider's account SID and auth token)")
        return SendResult.failed(text)

    async def check(self) -> tuple[bool, str]:
        """Test connection: fetch the account (authenticates, sends nothing)."""
        headers = {"Authorization": basic_auth(self.config.account_sid, self.config.auth_token)}
        try:
            response = await self.http.request("GET", f"{self._account_url}.json", headers=headers)
        except (BlockedTarget, OSError, httpx.HTTPError) as exc:
            return False, f"cannot reach the SMS API: {exc}"
        if response.status_code == 200:
            name = _error_json(response).get("friendly_name")
            return True, "connected" + (f" to account {name!r}" if name else "")
        data = _error_json(response)
        return False, f"HTTP {response.status_code}: {data.get('message') or response.text[:200]}"

    async def close(self) -> None:
        await self.http.close()


class SmsWebhookProvider(Provider):
    channel = "sms"
    kind = "sms_webhook"
    idempotent = True

    def __init__(self, config: SmsWebhookConfig, *, allow_private: bool = False) -> None:
        self.config = config
        self.concurrency = config.concurrency
        self.http = GuardedHttp(allow_private=allow_private, timeout=config.timeout, concurrency=config.concurrency)

    async def send(self, message: OutgoingMessage) -> SendResult:
        to = str(message.to or "").strip()
        text = message.content.get("text") or ""
        if not to:
            return SendResult.failed("no phone number")
        if not text.strip():
            return SendResult.failed("the SMS text is empty")
        segments = count_segments(text)
        body = {
            "to": to,
            "from": self.config.from_ or None,
            "text": text,
            "encoding": segments.encoding,
            "segments": segments.segments,
            "idempotency_key": message.idempotency_key,
            "message_id": message.outbox_id,
        }
        headers = {k: v for k, v in self.config.headers.items() if k.lower() not in ("host", "content-length")}
        headers["Idempotency-Key"] = message.idempotency_key
        headers["Content-Type"] = "application/json"
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        try:
            response = await self.http.request(
                "POST", self.config.url, headers=headers, content=msgspec.json.encode(body)
            )
        except BlockedTarget as exc:
            return SendResult.failed(str(exc))
        except (OSError, httpx.HTTPError) as exc:
            return SendResult.retry(f"SMS webhook unreachable: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            data = _error_json(response)
            pid = data.get("id") or data.get("message_id") or data.get("sid")
            return SendResult.sent(str(pid) if pid else f"http-{status}")
        text = f"HTTP {status}: {response.text[:200]}"
        if status in RETRY_STATUSES or status >= 500:
            return SendResult.retry(text, retry_after(response))
        return SendResult.failed(text)

    async def check(self) -> tuple[bool, str]:
        try:
            response = await self.http.request("GET", self.config.url)
        except (BlockedTarget, OSError, httpx.HTTPError) as exc:
            return False, f"cannot reach {self.config.url}: {exc}"
        ok = response.status_code < 500
        return ok, f"reachable (HTTP {response.status_code} to a GET)" if ok else f"HTTP {response.status_code}"

    async def close(self) -> None:
        await self.http.close()
