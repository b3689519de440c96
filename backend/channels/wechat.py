"""WeChat Official Account template messages (kind ``wechat``).

* Access token: ``GET {base_url}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` →
  ``{"access_token", "expires_in"}``, shared by every worker through the database and refreshed
  early by one of them (backend/channels/tokens.py). The token belongs to the app id, so workspaces
  that configure the same app id share it.
* Send: ``POST {base_url}/cgi-bin/message/template/send?access_token=…`` with
  ``{"touser", "template_id", "url" | "miniprogram": {"appid", "pagepath"}, "data": {field: {"value"}},
  "client_msg_id"}``. ``client_msg_id`` is derived from the outbox idempotency key: WeChat drops a
  repeated (openid, client_msg_id) within its de-duplication window.
* ``errcode`` mapping: 0 sent (``msgid``); 40001/40014/42001 (token invalid or expired) → the token
  is invalidated and the send retried once with a fresh one; -1 (busy), 45009/45011/45047 (rate and
  quota limits) → retry later; everything else is permanent — 43004 not subscribed, 40003 invalid
  openid, 43101 the user refuses messages (WeChat consent is withdrawn), 40037 invalid template id,
  47003 bad data fields, ….
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, ClassVar

import httpx
import msgspec

from backend.channels.base import OutgoingMessage, Provider, SendResult, stable_id
from backend.channels.http import RETRY_STATUSES, BlockedTarget, GuardedHttp, retry_after
from backend.channels.tokens import TokenError, TokenStore

WECHAT_BASE_URL = "https://api.weixin.qq.com"

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RETRY_ERRORS = {-1: "system busy", 45009: "API call limit reached", 45011: "API call too frequent", 45047: "limit"}
PERMANENT_ERRORS = {
    40003: "invalid openid",
    40036: "invalid template_id size",
    40037: "invalid template_id",
    43004: "the user does not follow the account",
    43101: "the user refuses to receive messages",
    47003: "template data fields do not match the template",
    41028: "invalid form id",
    48001: "API unauthorized for this account",
}
OPTED_OUT = frozenset({43101})
"""The user refuses the account's messages: WeChat consent is withdrawn, as an unsubscribe would."""
CREDENTIAL_ERRORS = {
    40013: "invalid AppID",
    40125: "invalid AppSecret",
    40164: "the caller's IP address is not whitelisted",
    41002: "appid missing",
    41004: "secret missing",
}


class WechatConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    appid: Annotated[str, msgspec.Meta(min_length=1, max_length=64, title="AppID")]
    secret: Annotated[str, msgspec.Meta(max_length=200, title="AppSecret")] = ""
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2000, title="API base URL")] = (
        WECHAT_BASE_URL
    )
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8

    secrets: ClassVar[tuple[str, ...]] = ("secret",)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class WechatProvider(Provider):
    channel = "wechat"
    kind = "wechat"

    def __init__(self, config: WechatConfig, *, allow_private: bool = False) -> None:
        self.config = config
        self.concurrency = config.concurrency
        self.http = GuardedHttp(allow_private=allow_private, timeout=config.timeout, concurrency=config.concurrency)
        self.tokens: TokenStore | None = None
        base = config.base_url.rstrip("/")
        self.base_url = base
        # One token per app (and API host): workspaces configuring the same app share it.
        self.token_key = "wechat:" + hashlib.sha256(f"{base}|{config.appid}".encode()).hexdigest()[:32]

    def attach(self, engine: Any, clock: Any) -> None:
        self.tokens = TokenStore(engine, clock)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.config.appid, "secret": self.config.secret}
        try:
            response = await self.http.request("GET", f"{self.base_url}/cgi-bin/token", params=params)
        except BlockedTarget as exc:
            raise TokenError(str(exc)) from exc
        except (OSError, httpx.HTTPError) as exc:
            raise TokenError(f"token endpoint unreachable: {type(exc).__name__}: {exc}") from exc
        data = _json(response)
        token = data.get("access_token")
        if response.status_code != 200 or not token:
            code = data.get("errcode")
            why = CREDENTIAL_ERRORS.get(code) if isinstance(code, int) else None
            detail = f"errcode {code}: {data.get('errmsg')}" if code is not None else f"HTTP {response.status_code}"
            raise TokenError(f"cannot get an access token ({detail}{'; ' + why if why else ''})")
        return str(token), float(data.get("expires_in") or 7200)

    async def token(self, *, force: bool = False) -> str:
        if self.tokens is None:
            raise TokenError("the WeChat provider has no token store (not attached to a database)")
        return await self.tokens.get(self.token_key, self._fetch_token, force=force)

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        content = message.content
        body: dict[str, Any] = {"touser": str(message.to), "template_id": content.get("template_id") or ""}
        if content.get("miniprogram.appid"):
            body["miniprogram"] = {
                "appid": content["miniprogram.appid"],
                "pagepath": content.get("miniprogram.pagepath") or "",
            }
        if content.get("url"):
            body["url"] = content["url"]
        body["data"] = {
            name.removeprefix("fields."): {"value": value}
            for name, value in content.items()
            if name.startswith("fields.")
        }
        body["client_msg_id"] = stable_id(message.workspace_id, message.idempotency_key)
        return body

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not message.to:
            return SendResult.failed("no WeChat openid")
        body = self.body(message)
        if not body["template_id"]:
            return SendResult.failed("the WeChat body names no template_id")
        payload = msgspec.json.encode(body)
        for attempt in (1, 2):
            try:
                token = await self.token()
            except TokenError as exc:
                return SendResult.retry(str(exc))
            try:
                response = await self.http.request(
                    "POST",
                    f"{self.base_url}/cgi-bin/message/template/send",
                    params={"access_token": token},
                    headers={"Content-Type": "application/json"},
                    content=payload,
                )
            except BlockedTarget as exc:
                return SendResult.failed(str(exc))
            except (OSError, httpx.HTTPError) as exc:
                return SendResult.retry(f"WeChat API unreachable: {type(exc).__name__}: {exc}")
            status = response.status_code
            if status != 200:
                text = f"HTTP {status}: {response.text[:200]}"
                if status in RETRY_STATUSES or status >= 500:
                    return SendResult.retry(text, retry_after(response))
                return SendResult.failed(text)
            data = _json(response)
            code = data.get("errcode", 0)
            if code == 0:
                return SendResult.sent(str(data.get("msgid") or ""))
            text = f"errcode {code}: {data.get('errmsg') or ''}".strip()
            if code in TOKEN_ERRORS:
                assert self.tokens is not None
                await self.tokens.invalidate_async(self.token_key, token)
                if attempt == 1:
                    continue
                return SendResult.retry(f"{text} (the access token was rejected twice)")
            if code in RETRY_ERRORS:
                return SendResult.retry(f"{text} ({RETRY_ERRORS[code]})")
            if code in PERMANENT_ERRORS:
                return SendResult.failed(f"{text} ({PERMANENT_ERRORS[code]})", opted_out=code in OPTED_OUT)
            if code in CREDENTIAL_ERRORS:
                return SendResult.retry(f"{text} ({CREDENTIAL_ERRORS[code]}; check the provider settings)")
            return SendResult.failed(text)
        raise AssertionError("unreachable")

    async def check(self) -> tuple[bool, str]:
        """Test connection: fetch a fresh access token (and share it)."""
        try:
            await self.token(force=True)
        except TokenError as exc:
            return False, str(exc)
        return True, "access token fetched"

    async def close(self) -> None:
        await self.http.close()
