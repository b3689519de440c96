"""Provider kinds: what each one delivers, its settings (a msgspec Struct → JSON Schema for the
settings form, validation for the API), which settings are secrets, its default rate limit, and how
to build it from a ``providers`` row.

A new kind registers here (``KINDS[...] = Kind(...)``); the registry builds providers through
:func:`build`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from backend.channels.base import Provider
from backend.channels.email import SmtpConfig, SmtpProvider
from backend.channels.null import NullProvider
from backend.channels.push import WebPushConfig, WebPushProvider, load_vapid
from backend.channels.sms import SmsWebhookConfig, SmsWebhookProvider, TwilioConfig, TwilioProvider
from backend.channels.webhook import WebhookProvider
from backend.channels.wechat import WechatConfig, WechatProvider

SECRET_PLACEHOLDER = "••••••••"

InDoubt = Literal["hold", "resend"]


class SmtpSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=255, title="Host")] = ""
    port: Annotated[int, msgspec.Meta(ge=1, le=65535, title="Port")] | None = None
    tls: Literal["none", "starttls", "ssl", "auto"] = "auto"
    username: Annotated[str, msgspec.Meta(max_length=320, title="User name")] = ""
    password: Annotated[str, msgspec.Meta(max_length=500, title="Password")] = ""
    from_: Annotated[str, msgspec.Meta(max_length=500, title="Default sender (Name <address>)")] = msgspec.field(
        default="", name="from"
    )
    envelope_from: Annotated[str, msgspec.Meta(max_length=320, title="Bounce address (MAIL FROM)")] = ""
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=32, title="Connections")] = 4
    validate_certs: bool = True
    url: Annotated[str, msgspec.Meta(max_length=2000, title="smtp:// URL (instead of the fields)")] = ""

    secrets: ClassVar[tuple[str, ...]] = ("password",)

    def __post_init__(self) -> None:
        if not self.host and not self.url:
            raise ValueError("set `host` (or an smtp:// `url`)")


class HttpSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 16

    secrets: ClassVar[tuple[str, ...]] = ()


class NullSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    secrets: ClassVar[tuple[str, ...]] = ()


class ConfigProblem(ValueError):
    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.message = message


@dataclass
class Kind:
    kind: str
    channel: str | None
    """``None``: any channel (``null``)."""
    label: str
    description: str
    settings: type
    build: Callable[[Any, str, Any], Provider]
    """``(validated settings, channel, process settings) -> Provider``"""
    default_rate_per_second: float | None = None
    required_secrets: tuple[str, ...] = ()
    in_doubt: InDoubt = "hold"
    """The default policy for a message in doubt after a crash: ``resend`` only for kinds whose
    receiver de-duplicates on the idempotency key Waymark sends."""
    validated: type = msgspec.Struct
    """``settings`` plus the ``in_doubt`` setting every kind has (made in ``__post_init__``)."""

    def __post_init__(self) -> None:
        self.validated = msgspec.defstruct(
            self.settings.__name__,
            [("in_doubt", InDoubt | None, msgspec.field(default=None))],
            bases=(self.settings,),
            kw_only=True,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(getattr(self.settings, "secrets", ()))

    def schema(self) -> dict[str, Any]:
        (schema,), components = msgspec.json.schema_components([self.settings])
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = components.get(name, schema)
        schema = dict(schema)
        schema["properties"] = {
            **schema.get("properties", {}),
            "in_doubt": {
                "enum": ["hold", "resend"],
                "default": self.in_doubt,
                "description": "A message in doubt after a worker stopped mid-delivery: hold it as "
                "'unknown' for an operator, or resend it with the same idempotency key (only for "
                "receivers that drop repeats of a key).",
            },
        }
        for name in self.secrets:
            props = schema.get("properties", {})
            if name in props:
                props[name] = {**props[name], "writeOnly": True, "x-secret": True}
        return schema


def _smtp(cfg: SmtpSettings, channel: str, settings: Any) -> Provider:
    """A workspace's SMTP server: private addresses refused unless the operator allows them."""
    raw = msgspec.to_builtins(cfg)
    return SmtpProvider(SmtpConfig.from_dict(raw), allow_private=_allow_private_smtp(settings))


def _allow_private_smtp(settings: Any) -> bool:
    return bool(getattr(settings, "allow_private_smtp", False))


def _allow_private(settings: Any) -> bool:
    return bool(getattr(settings, "allow_private_webhooks", False))


KINDS: dict[str, Kind] = {
    "smtp": Kind(
        "smtp",
        "email",
        "SMTP server",
        "Any SMTP server or email service (TLS, authentication, pooled connections).",
        SmtpSettings,
        _smtp,
    ),
    "twilio": Kind(
        "twilio",
        "sms",
        "Twilio (or a Twilio-compatible API)",
        "SMS through the Twilio Messages API; set base_url for a compatible service.",
        TwilioConfig,
        lambda cfg, channel, settings: TwilioProvider(cfg, allow_private=_allow_private(settings)),
        default_rate_per_second=10.0,
        required_secrets=("auth_token",),
    ),
    "sms_webhook": Kind(
        "sms_webhook",
        "sms",
        "SMS webhook (JSON)",
        "POSTs each SMS as JSON to your gateway.",
        SmsWebhookConfig,
        lambda cfg, channel, settings: SmsWebhookProvider(cfg, allow_private=_allow_private(settings)),
        in_doubt="resend",
    ),
    "wechat": Kind(
        "wechat",
        "wechat",
        "WeChat Official Account",
        "Template messages through the Official Account API.",
        WechatConfig,
        lambda cfg, channel, settings: WechatProvider(cfg, allow_private=_allow_private(settings)),
        default_rate_per_second=50.0,
        required_secrets=("secret",),
    ),
    "webpush": Kind(
        "webpush",
        "push",
        "Web Push (VAPID)",
        "Browser push notifications to the contact's subscriptions.",
        WebPushConfig,
        lambda cfg, channel, settings: WebPushProvider(cfg, allow_private=_allow_private(settings)),
        required_secrets=("vapid_private_key",),
    ),
    "http": Kind(
        "http",
        "webhook",
        "HTTP webhooks",
        "The client for webhook blocks (private addresses refused unless allowed).",
        HttpSettings,
        lambda cfg, channel, settings: WebhookProvider(
            allow_private=_allow_private(settings), timeout=cfg.timeout, concurrency=cfg.concurrency
        ),
        in_doubt="resend",
    ),
    "null": Kind(
        "null",
        None,
        "Discard (load tests)",
        "Accepts every message and delivers nothing.",
        NullSettings,
        lambda cfg, channel, settings: NullProvider(channel),
        in_doubt="resend",
    ),
}


def _pointer(exc: msgspec.ValidationError) -> str:
    match = re.search(r"at `\$(.*?)`", str(exc))
    path = match.group(1) if match else ""
    parts = [p for p in re.split(r"[.\[\]]+", path) if p]
    return "/config" + "".join("/" + p for p in parts)


def validate(kind: str, config: Any) -> Any:
    """The validated settings struct; raises :class:`ConfigProblem` with a pointer into the request."""
    info = KINDS.get(kind)
    if info is None:
        raise ConfigProblem("/kind", f"unknown provider kind {kind!r}; one of: {', '.join(sorted(KINDS))}")
    if not isinstance(config, dict):
        raise ConfigProblem("/config", "expected an object")
    try:
        cfg = msgspec.convert(config, info.validated)
    except msgspec.ValidationError as exc:
        message = str(exc).split(" - at ")[0]
        pointer = _pointer(exc)
        unknown = re.search(r"unknown field `([^`]*)`", message)
        if unknown:
            pointer += "/" + unknown.group(1).replace("~", "~0").replace("/", "~1")
        raise ConfigProblem(pointer, message) from None
    for name in info.required_secrets:
        if not getattr(cfg, name, None):
            raise ConfigProblem(f"/config/{name}", f"{name} is required")
    if kind == "webpush":
        try:
            load_vapid(cfg.vapid_private_key)
        except ValueError as exc:
            raise ConfigProblem("/config/vapid_private_key", str(exc)) from None
    if kind == "smtp" and cfg.url:
        try:
            SmtpConfig.from_url(cfg.url)
        except ValueError as exc:
            raise ConfigProblem("/config/url", str(exc)) from None
    return cfg


def build(kind: str, channel: str, config: dict[str, Any], settings: Any) -> Provider:
    """A provider from a row; raises ``ValueError`` when the row is misconfigured."""
    info = KINDS.get(kind)
    if info is None:
        raise ValueError(f"unknown provider kind {kind!r}")
    if info.channel is not None and info.channel != channel:
        raise ValueError(f"a {kind} provider delivers {info.channel}, not {channel}")
    if kind == "smtp":  # lenient: rows written before the settings were validated keep working
        return SmtpProvider(SmtpConfig.from_dict(config or {}), allow_private=_allow_private_smtp(settings))
    try:
        cfg = validate(kind, config or {})
    except ConfigProblem as exc:
        raise ValueError(str(exc)) from None
    return info.build(cfg, channel, settings)


def effective_rate(kind: str, rate_per_second: float | None) -> float | None:
    """A row's rate limit: its own (0 = none), else the kind's default."""
    if rate_per_second is not None:
        return rate_per_second if rate_per_second > 0 else None
    info = KINDS.get(kind)
    return info.default_rate_per_second if info else None
