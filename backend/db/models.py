"""SQLAlchemy models. Every row belongs to a workspace; every query filters on it.

Times are stored as timezone-aware UTC (``UTCDateTime``): SQLite gives back naive values, so the type
normalises both engines to aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

UTC = UTC


class UTCDateTime(TypeDecorator):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""SQLite only auto-increments ``INTEGER PRIMARY KEY``; PostgreSQL gets 64-bit ids."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


def _ws_fk() -> Mapped[int]:
    return mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=False)


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    locale: Mapped[str] = mapped_column(sa.String(16), default="en")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Write keys ingest only; admin keys can do everything in their workspace. Only a SHA-256 of the
    key is stored: keys are 32 random bytes, so a slow KDF would add nothing but latency."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    kind: Mapped[str] = mapped_column(sa.String(16))  # write | admin
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    __table_args__ = (sa.Index("ix_api_keys_workspace", "workspace_id"),)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class Membership(Base):
    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="owner")  # owner | editor | viewer


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a database
    dump does not hand out sessions. Deleting the row signs that browser out everywhere at once."""

    __tablename__ = "user_sessions"
    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")


class SignInAttempt(Base):
    """Failed sign-ins of the last window and each (account, client) pair's last success: the sign-in
    throttle (backend/throttle.py) counts them here so that every API process sees the same numbers."""

    __tablename__ = "sign_in_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(320))
    """The e-mail as typed, lower-cased (also for addresses with no account: guessing those counts too)."""
    client: Mapped[str] = mapped_column(sa.String(64))
    """The client's IP address."""
    at: Mapped[datetime]
    succeeded: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        sa.Index("ix_sign_in_attempts_account", "account", "at"),
        sa.Index("ix_sign_in_attempts_client", "client", "at"),
        sa.Index("ix_sign_in_attempts_at", "at"),
    )


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    """Segment's ``userId``."""
    anonymous_id: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    wechat_openid: Mapped[str | None] = mapped_column(sa.String(128))
    push_tokens: Mapped[list[Any]] = mapped_column(default=list)
    consent: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Per channel: ``{"email": true, "sms": false}``; absent means not asked (treated as granted)."""
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    computed: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """Computed property values by key, kept current by backend/audience (``{"rentals_30d": 3}``)."""
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """Engagement score levels (1-10) by key; a contact without scored events has no key."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "external_id", name="uq_contacts_external_id"),
        sa.Index("ix_contacts_anonymous_id", "workspace_id", "anonymous_id"),
        # One anonymous-only contact per anonymousId: two concurrent first events from a new visitor
        # (page + track fire together) must not create two contacts.
        sa.Index(
            "uq_contacts_anonymous_only",
            "workspace_id",
            "anonymous_id",
            unique=True,
            sqlite_where=sa.text("external_id IS NULL AND anonymous_id IS NOT NULL"),
            postgresql_where=sa.text("external_id IS NULL AND anonymous_id IS NOT NULL"),
        ),
        sa.Index("ix_contacts_email", "workspace_id", "email"),
        sa.Index("ix_contacts_phone", "workspace_id", "phone"),
    )


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(32), default="api")  # api | tracking | system
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "message_id", name="uq_events_message_id"),
        sa.Index("ix_events_contact_name_time", "workspace_id", "contact_id", "name", "occurred_at"),
        sa.Index("ix_events_name_time", "workspace_id", "name", "occurred_at"),
    )


class Subscription(Base):
    """A product or subscription a contact holds (VIP membership, plan, course)."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(32), default="active")
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    duration: Mapped[str | None] = mapped_column(sa.String(32))
    auto_renew: Mapped[bool] = mapped_column(default=False)
    auto_renew_before: Mapped[bool] = mapped_column(default=False)
    """Whether auto-renew was on before its latest change ("turned auto-renew off" win-backs)."""
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "external_id", name="uq_subscriptions_external_id"),
        sa.Index("ix_subscriptions_contact", "workspace_id", "contact_id"),
        sa.Index("ix_subscriptions_end", "workspace_id", "end_at"),
    )


class Journey(Base):
    __tablename__ = "journeys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")  # draft | published | paused | archived
    kind: Mapped[str] = mapped_column(sa.String(16), default="journey", server_default="journey")
    """``journey``, or ``broadcast`` for the one-block journey a broadcast sends through (not listed)."""
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The working copy the editor saves into; publishing snapshots it as a new version."""
    draft_revision: Mapped[int] = mapped_column(default=0)
    """Bumped on every save; the editor sends it back to detect concurrent edits."""
    published_version_id: Mapped[int | None] = mapped_column(BigId)
    """The current published version (no FK: journeys and versions would reference each other)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (sa.Index("ix_journeys_workspace", "workspace_id", "status"),)


class JourneyVersion(Base):
    """An immutable published snapshot of a journey graph. Enrollments are pinned to one."""

    __tablename__ = "journey_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("journeys.id", ondelete="CASCADE"))
    number: Mapped[int]
    graph: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(16), default="published")
    """published (current) | superseded (older, still finishing its enrollments) | paused | archived"""
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    published_by_key: Mapped[str | None] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    __table_args__ = (
        sa.UniqueConstraint("journey_id", "number", name="uq_journey_versions_number"),
        sa.Index("ix_journey_versions_status", "workspace_id", "status"),
    )


class Enrollment(Base):
    """One contact's walk through one journey version."""

    __tablename__ = "enrollments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("journeys.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("journey_versions.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(sa.String(64))
    node_entered_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    """When the tick should run the current node's step again; NULL = only an event wakes it."""
    wait_event: Mapped[str | None] = mapped_column(sa.String(200))
    wake_event: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """The event that woke a waiting enrollment, handed to the step on the next tick."""
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    """active | completed | exited | control | failed (a block's step raised: parked until retried)."""
    control: Mapped[bool] = mapped_column(default=False)
    """Held out as a control group member: recorded, but walks no further than the trigger."""
    trigger_key: Mapped[str | None] = mapped_column(sa.String(64))
    """Dedupes date-triggered entries: one per contact per occurrence date."""
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    exit_reason: Mapped[str | None] = mapped_column(sa.String(200))
    converted_at: Mapped[datetime | None]
    pending_events: Mapped[list[Any] | None] = mapped_column(JSONType)
    """Events that arrived in the same request right after the one that started or woke this
    enrollment: applied in order when it next stops, as if they had come one call at a time."""
    error_type: Mapped[str | None] = mapped_column(sa.String(200))
    """While ``failed``: the exception the block's step raised (``ValueError``, ``acme_blocks.x.Error``)."""
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    failed_at: Mapped[datetime | None]
    __table_args__ = (
        sa.Index(
            "ix_enrollments_due",
            "due_at",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        ),
        sa.Index(
            "ix_enrollments_waiting",
            "workspace_id",
            "wait_event",
            "contact_id",
            sqlite_where=sa.text("wait_event IS NOT NULL"),
            postgresql_where=sa.text("wait_event IS NOT NULL"),
        ),
        sa.Index("ix_enrollments_journey_contact", "journey_id", "contact_id"),
        sa.Index("ix_enrollments_version_node", "version_id", "node_id", "status"),
        sa.Index("ix_enrollments_contact", "workspace_id", "contact_id"),
        sa.Index(
            "uq_enrollments_trigger_key",
            "journey_id",
            "contact_id",
            "trigger_key",
            unique=True,
            sqlite_where=sa.text("trigger_key IS NOT NULL"),
            postgresql_where=sa.text("trigger_key IS NOT NULL"),
        ),
    )


class StepLog(Base):
    """One row per step a contact took: the raw material of per-node reports and contact timelines."""

    __tablename__ = "step_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    journey_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    version_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    enrollment_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    contact_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    node_id: Mapped[str] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime]
    __table_args__ = (
        sa.Index("ix_step_log_journey_node", "journey_id", "node_id", "at"),
        sa.Index("ix_step_log_contact", "workspace_id", "contact_id", "at"),
    )


class Template(Base):
    """A message template with a body per channel; ``key`` is what a send block names."""

    __tablename__ = "templates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    key: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Channel bodies being edited: ``{"email": {"subject":…, "mjml":…}, "sms": {"text":…}, …}``."""
    draft_revision: Mapped[int] = mapped_column(default=1)
    """Bumped on every save; the editor sends it back so two people cannot overwrite each other."""
    published_version_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key", name="uq_templates_key"),)


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("templates.id", ondelete="CASCADE"))
    number: Mapped[int]
    channels: Mapped[dict[str, Any]]
    compiled: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Per channel, what is expensive to redo per message: the MJML compiled to an HTML template."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (sa.UniqueConstraint("template_id", "number", name="uq_template_versions_number"),)


class Provider(Base):
    """A delivery provider configured for a workspace (SMTP server, SMS API, …). Secrets live in
    ``config`` and are never returned by the API."""

    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    channel: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    rate_per_second: Mapped[float | None]
    """Sends per second across all workers; ``None`` = the kind's default, ``0`` = no limit."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    __table_args__ = (sa.Index("ix_providers_workspace_channel", "workspace_id", "channel"),)


class ProviderToken(Base):
    """A provider access token shared by every process (WeChat's ``access_token``): one row per
    credential, refreshed by one worker at a time (see backend/channels/tokens.py)."""

    __tablename__ = "provider_tokens"
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    token: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[datetime | None]
    refreshing_until: Mapped[datetime | None]
    """A worker is fetching a new token until then; others keep using the current one meanwhile."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateWindow(Base):
    """Send budget used per provider in the current rate window, shared by every worker process
    (see backend/channels/ratelimit.py)."""

    __tablename__ = "rate_windows"
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    window_no: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    """The window's number: its start in milliseconds divided by its length."""
    used: Mapped[int] = mapped_column(default=0)


class OutboxMessage(Base):
    """A message to deliver. ``idempotency_key`` is unique per (enrollment, node): a step that runs
    twice cannot queue two messages, and a crash mid-delivery leaves ``sending`` rows that are never
    resent blindly (see docs/operators.md)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    journey_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    version_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    node_id: Mapped[str | None] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(16))
    template_key: Mapped[str | None] = mapped_column(sa.String(200))
    template_version_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the step asked for (fallback channels, webhook request, journey context)."""
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    """pending | sending | sent | failed | skipped | unknown"""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    """Lease of a ``sending`` row (a claimed ``pending`` row's lease is its ``next_attempt_at``)."""
    claimed_by: Mapped[str | None] = mapped_column(sa.String(32))
    """The dispatcher run holding the row: its heartbeat renews the leases of its rows, and it records
    only rows still carrying its token (another run may have taken them over)."""
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(255))
    public_id: Mapped[str | None] = mapped_column(sa.String(40))
    """Unguessable id used in tracking links for this message (set when it is first handed to a
    provider)."""
    links: Mapped[list[Any] | None] = mapped_column(JSONType)
    """The original URLs of the message's tracked links, by link index: a click link names an index,
    never a URL, so it can only lead where the message pointed (see backend/tracking)."""
    opened_at: Mapped[datetime | None]
    """First open (pixel or click); later opens are events only."""
    clicked_at: Mapped[datetime | None]
    """First click."""
    test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "idempotency_key", name="uq_outbox_idempotency_key"),
        sa.Index(
            "ix_outbox_pending",
            "next_attempt_at",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_outbox_status", "workspace_id", "status", "created_at"),
        sa.Index(
            "ix_outbox_sending",
            "claimed_until",
            sqlite_where=sa.text("status = 'sending'"),
            postgresql_where=sa.text("status = 'sending'"),
        ),
        sa.Index("ix_outbox_claimed_by", "claimed_by"),
        sa.Index("ix_outbox_public_id", "public_id", unique=True),
        sa.Index("ix_outbox_provider_message_id", "workspace_id", "provider_message_id"),
    )


class NodeCounter(Base):
    """Running per-node totals, bumped once per batch, so the canvas can show "passed through" for a
    journey with millions of step rows without counting them on every refresh."""

    __tablename__ = "node_counters"
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# -------------------------------------------------------------------------------------------------
# Audiences (backend/audience)
# -------------------------------------------------------------------------------------------------


class Segment(Base):
    """A saved audience: a rule in the shared rule language; membership is materialised."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    key: Mapped[str] = mapped_column(sa.String(100))
    """What rules, triggers and exports name (stable; the name may change)."""
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    rule: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(16), default="building")  # building | ready
    revision: Mapped[int] = mapped_column(default=1)
    """Bumped when the rule changes; a backfill in progress for an older revision starts again."""
    built_through: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    """Backfill progress: contacts with ids up to this one have been evaluated."""
    progress_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key", name="uq_segments_key"),)


class SegmentMember(Base):
    __tablename__ = "segment_members"
    segment_id: Mapped[int] = mapped_column(sa.ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    entered_at: Mapped[datetime]
    __table_args__ = (sa.Index("ix_segment_members_contact", "contact_id"),)


class SegmentChange(Base):
    """Entered/left history, one row per change (the initial backfill writes none)."""

    __tablename__ = "segment_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    segment_id: Mapped[int] = mapped_column(sa.ForeignKey("segments.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    entered: Mapped[bool]
    at: Mapped[datetime]
    __table_args__ = (
        sa.Index("ix_segment_changes_segment", "segment_id", "at"),
        sa.Index("ix_segment_changes_contact", "contact_id", "at"),
    )


class SegmentDaily(Base):
    """Entries and exits per segment per UTC day, bumped in the transaction that changes membership:
    the size trend without scanning history."""

    __tablename__ = "segment_daily"
    segment_id: Mapped[int] = mapped_column(sa.ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    """ISO date, e.g. 2026-12-03."""
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    entered: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    left: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ComputedProperty(Base):
    """A value per contact aggregated from their events (User.com's aggregators), e.g. rentals in the
    last 30 days; stored in ``contacts.computed[key]``."""

    __tablename__ = "computed_properties"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    key: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    definition: Mapped[dict[str, Any]]
    """event, aggregate, property, where, window (see backend/audience/computed.py)."""
    status: Mapped[str] = mapped_column(sa.String(16), default="building")
    revision: Mapped[int] = mapped_column(default=1)
    built_through: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    progress_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_at: Mapped[datetime | None]
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key", name="uq_computed_properties_key"),)


class AudienceCheck(Base):
    """When a contact's segments or computed values may next change by the clock alone (a window
    sliding, a package's end coming closer). The re-check visits only rows that are due."""

    __tablename__ = "audience_checks"
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    due_at: Mapped[datetime]
    __table_args__ = (sa.Index("ix_audience_checks_due", "due_at"),)


class Broadcast(Base):
    """Send a template once to everyone in a segment, now or at a set time (optionally at that local
    time in each contact's time zone). It sends through a journey of its own (``journeys.kind =
    'broadcast'``), so consent, quiet hours, frequency caps, the outbox and reports all apply."""

    __tablename__ = "broadcasts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    name: Mapped[str] = mapped_column(sa.String(200))
    segment_key: Mapped[str] = mapped_column(sa.String(100))
    template_key: Mapped[str] = mapped_column(sa.String(200))
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("journeys.id", ondelete="CASCADE"))
    send_at: Mapped[datetime]
    local_time: Mapped[bool] = mapped_column(default=False)
    """``send_at``'s wall-clock time in each contact's time zone instead of one instant."""
    starts_at: Mapped[datetime]
    """When the segment's members are taken (``send_at``, or 14 hours earlier for local time)."""
    status: Mapped[str] = mapped_column(sa.String(16), default="scheduled")  # scheduled | sending | cancelled
    audience: Mapped[int | None] = mapped_column(sa.BigInteger)
    """How many contacts it was sent to (set when it starts)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None]
    __table_args__ = (
        sa.Index("ix_broadcasts_workspace", "workspace_id", "send_at"),
        sa.Index("ix_broadcasts_due", "status", "starts_at"),
    )


class Score(Base):
    """An engagement score: weighted events that fade, turned into a level from 1 to 10."""

    __tablename__ = "scores"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    key: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    definition: Mapped[dict[str, Any]]
    """events (weights), fading, bands (see backend/audience/scoring.py)."""
    cutoffs: Mapped[list[Any] | None] = mapped_column(JSONType)
    """Percentile bands: the points at the workspace's deciles, refreshed daily and after a rebuild."""
    cutoffs_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), default="building")
    revision: Mapped[int] = mapped_column(default=1)
    built_through: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    progress_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_at: Mapped[datetime | None]
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key", name="uq_scores_key"),)


class ContactScore(Base):
    """A contact's points and level for one score (the histogram and percentile bands read these)."""

    __tablename__ = "contact_scores"
    score_id: Mapped[int] = mapped_column(sa.ForeignKey("scores.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    points: Mapped[float]
    level: Mapped[int]
    computed_at: Mapped[datetime]
    __table_args__ = (sa.Index("ix_contact_scores_level", "score_id", "level"),)


class ScoreDaily(Base):
    """How many contacts were at each level at the end of a day (the histogram's trend)."""

    __tablename__ = "score_daily"
    score_id: Mapped[int] = mapped_column(sa.ForeignKey("scores.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    levels: Mapped[list[Any]]
    """Contacts at levels 1 to 10 (ten numbers)."""


class ContactImport(Base):
    """A CSV file of contacts being imported: the upload is spooled to ``path`` (under the var
    directory) and processed in chunks by the worker, resuming at ``offset``; counts and status are
    what the progress bar and the report show."""

    __tablename__ = "contact_imports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = _ws_fk()
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    path: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(16), default="uploaded")
    """uploaded (waiting for a mapping) | queued | running | done | failed | cancelled"""
    delimiter: Mapped[str] = mapped_column(sa.String(1), default=",")
    columns: Mapped[list[Any]] = mapped_column(default=list)
    """The header row's column names, in order."""
    mapping: Mapped[list[Any]] = mapped_column(default=list)
    """One entry per column: ``{"column", "target", "type"}`` (see backend/contacts/imports.py)."""
    bytes_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    """Bytes of the file processed so far (the next chunk starts here)."""
    rows_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    failed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    """Rows refused (each has at least one row in ``contact_import_errors``)."""
    message: Mapped[str] = mapped_column(sa.Text, default="")
    """Why the whole import failed, when it did."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    __table_args__ = (
        sa.Index("ix_contact_imports_workspace", "workspace_id", "id"),
        sa.Index("ix_contact_imports_status", "status"),
    )


class ContactImportError(Base):
    """One problem in one row of an import: the report a marketer downloads to fix the file."""

    __tablename__ = "contact_import_errors"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("contact_imports.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(sa.BigInteger)
    """As a spreadsheet numbers it: the header is row 1, the first contact row 2."""
    column: Mapped[str] = mapped_column(sa.String(255), default="")
    value: Mapped[str] = mapped_column(sa.String(255), default="")
    reason: Mapped[str] = mapped_column(sa.Text)
    __table_args__ = (sa.Index("ix_contact_import_errors_import", "import_id", "row"),)
