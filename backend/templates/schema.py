"""The shape of a template's channel bodies (the draft, and each published version's ``channels``).

Every text field is a Jinja2 template. Which fields are HTML (autoescaped) and which are text is
declared here once; validation, compilation and rendering all read :data:`FIELDS`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=20_000)]
Body = Annotated[str, msgspec.Meta(max_length=500_000)]


class EmailBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    subject: Text = ""
    preheader: Text = ""
    """The hidden preview line inbox lists show after the subject."""
    sender: Text = ""
    """``Name <address>``; empty uses the provider's default sender."""
    mjml: Body = ""
    text: Body | None = None
    """Optional hand-written plain-text part; by default it is derived from the HTML."""


class SmsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    text: Text = ""


class PushBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    title: Text = ""
    body: Text = ""
    image: Text = ""
    link: Text = ""


class MiniProgram(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    appid: str
    pagepath: Text = ""


class WechatBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    template_id: str = ""
    fields: dict[str, Text] = {}
    """``{"keyword1": "{{ contact.first_name }}", …}`` (or the template's named fields)."""
    url: Text = ""
    miniprogram: MiniProgram | None = None


class TemplateDraft(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    email: EmailBody | None = None
    sms: SmsBody | None = None
    wechat: WechatBody | None = None
    push: PushBody | None = None


CHANNELS = ("email", "sms", "wechat", "push")

FIELDS: dict[str, dict[str, str]] = {
    "email": {"subject": "text", "preheader": "text", "sender": "text", "text": "text"},
    "sms": {"text": "text"},
    "push": {"title": "text", "body": "text", "image": "text", "link": "text"},
    "wechat": {"url": "text", "miniprogram.pagepath": "text"},
}
"""Per channel: the Jinja fields rendered as they are (the email HTML comes from the MJML, and
WeChat's ``fields.*`` are added per template)."""


def parse_draft(raw: Any) -> TemplateDraft:
    """Raises ``msgspec.ValidationError`` naming the field (``$.email.subject``)."""
    return msgspec.convert(raw or {}, TemplateDraft)


def to_builtins(draft: TemplateDraft) -> dict[str, Any]:
    return msgspec.to_builtins(draft)


def text_fields(channel: str, body: dict[str, Any]) -> dict[str, str]:
    """``{dotted field: Jinja source}`` of a channel body's text fields, for checking and compiling."""
    out: dict[str, str] = {}
    for name in FIELDS.get(channel, {}):
        value: Any = body
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            out[name] = value
    if channel == "wechat":
        for key, value in (body.get("fields") or {}).items():
            if isinstance(value, str):
                out[f"fields.{key}"] = value
    return out
