"""Which provider delivers a workspace's messages on a channel.

Order: an enabled ``providers`` row for (workspace, channel) (the lowest id wins), else the process
default — email: ``settings.smtp_url``, else the dev inbox when it is on; webhook: the built-in HTTP
provider. Provider kinds (settings, secrets, default rate limits) are declared in
backend/channels/kinds.py; :data:`PROVIDER_KINDS` may still map extra kinds to factories.

A provider built from a row gets its rate limit (``rate_key``, ``rate_per_second``: the row's, else the
kind's default) and is attached to the database (shared access tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from backend.channels import kinds
from backend.channels.base import Provider
from backend.channels.devinbox import dev_inbox_url
from backend.channels.email import SmtpProvider
from backend.channels.webhook import WebhookProvider
from backend.db.models import Provider as ProviderRow

log = logging.getLogger("waymark.channels")

ProviderFactory = Callable[[str, dict[str, Any], Any], Provider]
"""``(channel, config, settings) -> Provider``"""


def _webhook(channel: str, config: dict[str, Any], settings: Any) -> Provider:
    return WebhookProvider(
        allow_private=bool(settings.allow_private_webhooks),
        timeout=float(config.get("timeout") or 15.0),
        concurrency=int(config.get("concurrency") or 16),
    )


PROVIDER_KINDS: dict[str, ProviderFactory] = {}
"""Extra kinds not declared in backend/channels/kinds.py (tests, plugins)."""


def default_provider(channel: str, settings: Any) -> Provider | None:
    if channel == "email":
        if settings.smtp_url:
            return SmtpProvider.from_url(settings.smtp_url)
        if settings.dev_inbox:
            return SmtpProvider.from_url(dev_inbox_url(settings))
        return None
    if channel == "webhook":
        return _webhook(channel, {}, settings)
    return None


class ProviderSet:
    """The providers of one dispatch run. Instances are shared per provider row (and one process
    default per channel), so messages of many contacts reuse the same connections."""

    def __init__(
        self, settings: Any, overrides: dict[str, Provider] | None = None, *, engine: Any = None, clock: Any = None
    ) -> None:
        self.settings = settings
        self.overrides = dict(overrides or {})
        self.engine = engine
        self.clock = clock
        self._rows: dict[tuple[int, str], tuple[int, str, dict[str, Any], float | None]] = {}
        self._instances: dict[Any, Provider | None] = {}
        self._errors: dict[Any, str] = {}

    def load(self, conn: sa.Connection, workspace_ids: Iterable[int]) -> None:
        ids = sorted(set(workspace_ids))
        if not ids:
            return
        rows = conn.execute(
            sa.select(
                ProviderRow.id,
                ProviderRow.workspace_id,
                ProviderRow.channel,
                ProviderRow.kind,
                ProviderRow.config,
                ProviderRow.rate_per_second,
            )
            .where(ProviderRow.workspace_id.in_(ids), ProviderRow.enabled.is_(True))
            .order_by(ProviderRow.id)
        )
        for pid, ws, channel, kind, config, rate in rows:
            self._rows.setdefault((ws, channel), (pid, kind, config or {}, rate))

    def get(self, workspace_id: int, channel: str) -> tuple[Provider | None, str | None]:
        """``(provider, None)`` or ``(None, why not)``."""
        if channel in self.overrides:
            return self.overrides[channel], None
        row = self._rows.get((workspace_id, channel))
        key: Any = ("row", row[0]) if row else ("default", channel)
        if key not in self._instances:
            try:
                if row:
                    factory = PROVIDER_KINDS.get(row[1])
                    if factory is not None:
                        instance = factory(channel, row[2], self.settings)
                    else:
                        instance = kinds.build(row[1], channel, row[2], self.settings)
                    if (row[2] or {}).get("in_doubt") in ("hold", "resend"):
                        instance.in_doubt = row[2]["in_doubt"]
                    rate = kinds.effective_rate(row[1], row[3])
                    if rate:
                        instance.rate_key = f"provider:{row[0]}"
                        instance.rate_per_second = rate
                    if self.engine is not None:
                        instance.attach(self.engine, self.clock)
                    self._instances[key] = instance
                else:
                    self._instances[key] = default_provider(channel, self.settings)
            except (ValueError, TypeError) as exc:
                self._instances[key] = None
                self._errors[key] = f"provider #{row[0] if row else '-'} is misconfigured: {exc}"
        provider = self._instances[key]
        if provider is None:
            return None, self._errors.get(key) or f"no {channel} provider is configured"
        return provider, None

    def active(self) -> list[Provider]:
        out = [p for p in self._instances.values() if p is not None]
        out += [p for p in self.overrides.values() if p not in out]
        return out

    async def close(self) -> None:
        for provider in self.active():
            try:
                await provider.close()
            except Exception:
                log.exception("closing provider %s failed", provider.kind)
