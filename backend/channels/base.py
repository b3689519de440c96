"""The provider interface every channel implements.

A provider turns one :class:`OutgoingMessage` into one :class:`SendResult`. It never raises for a
delivery problem: it classifies it instead —

* ``sent``: the provider accepted the message (it is now the provider's responsibility);
* ``retry``: a transient problem (connection refused, 4xx, timeout before acceptance, rate limit):
  the dispatcher tries again later with exponential backoff;
* ``failed``: a permanent problem (5xx, invalid address, a refused private webhook target): retrying
  would not help; the failure is recorded and visible.

Providers live for one dispatch run: ``open`` is optional and lazy, ``close`` releases connections.
``send`` may be called concurrently up to ``concurrency`` at a time; a provider that keeps
connections (SMTP) reuses them across the messages of the run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Outcome = Literal["sent", "retry", "failed"]


@dataclass
class OutgoingMessage:
    outbox_id: int
    idempotency_key: str
    """Stable across retries and crashes: ``enr:<enrollment>:<node>``. Providers that accept an
    idempotency key get it; SMTP derives the ``Message-ID`` from it."""
    workspace_id: int
    channel: str
    to: Any
    """The address on the channel: an email address, phone number, WeChat openid, push tokens, or
    the webhook URL."""
    content: dict[str, Any]
    """Rendered fields (email: subject, preheader, sender, html, text; webhook: method, headers, body)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra protocol headers (``List-Unsubscribe`` arrives with tracking)."""
    contact_id: int | None = None


@dataclass
class SendResult:
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    """Seconds the provider asked us to wait (``Retry-After``), overriding the backoff when longer."""
    bounce: str | None = None
    """``"hard"`` when a ``failed`` result means the address itself was refused for good (SMTP 5xx to
    ``RCPT TO``): recorded as ``email_bounced`` and consent for the channel is withdrawn."""
    opted_out: bool = False
    """The provider refused because the recipient opted out on its side (an SMS ``STOP`` reply, a WeChat
    user refusing the account's messages): consent for the channel is withdrawn, as an unsubscribe would."""
    stale: list[Any] = field(default_factory=list)
    """Addresses the provider said are gone for good (a Web Push subscription answered 404/410): the
    dispatcher removes them from the contact."""

    @classmethod
    def sent(cls, provider_message_id: str | None = None) -> SendResult:
        return cls("sent", provider_message_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> SendResult:
        return cls("retry", error=error, retry_after=retry_after)

    @classmethod
    def failed(cls, error: str, *, opted_out: bool = False) -> SendResult:
        return cls("failed", error=error, opted_out=opted_out)


class Provider:
    channel: ClassVar[str]
    kind: ClassVar[str]
    idempotent: ClassVar[bool] = False
    """True when the provider de-duplicates on our idempotency key, so a message whose fate is unknown
    after a crash may be resent automatically (it cannot arrive twice)."""
    in_doubt: str | None = None
    """The provider row's policy for a message left ``sending`` by a worker that stopped: ``hold``
    (``unknown``, for an operator) or ``resend``; ``None``: ``resend`` when :attr:`idempotent`, else
    ``hold`` (backend/runtime/outbox.py ``in_doubt_policy``)."""
    concurrency: int = 1
    rate_key: str | None = None
    """Set by the registry for a provider row: the key its send budget is shared under across
    workers (``provider:<id>``); ``None`` = not rate limited."""
    rate_per_second: float | None = None

    def attach(self, engine: Any, clock: Any) -> None:
        """Called by the registry with the database and clock, for providers that keep shared state
        there (WeChat's access token)."""

    async def open(self) -> None:
        """Optional eager setup; ``send`` must work without it."""

    async def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections; called once at the end of a dispatch run."""


def stable_id(workspace_id: int, idempotency_key: str) -> str:
    """A short digest of the idempotency key: the same message always gets the same id."""
    return hashlib.sha256(f"{workspace_id}:{idempotency_key}".encode()).hexdigest()[:32]
