"""The outbox dispatcher: renders and delivers the messages ticks queued, exactly once or visibly not.

A row moves ``pending → sending → sent | failed | pending (retry)``, or ``pending → skipped``.

1. **Claim** (one short transaction; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's single
   writer otherwise): due ``pending`` rows get ``next_attempt_at`` pushed one lease ahead (15 s by
   default, ``WAYMARK_OUTBOX_LEASE_SECONDS``) and ``claimed_by`` set to the run's token. The status
   stays ``pending``, so if this worker dies now the rows simply become due again when the lease
   lapses: nothing was handed to a provider yet, nothing can be doubled. While the run lives, its
   **heartbeat** renews the leases of its rows every third of the lease.
2. **Prepare** (no transaction): contacts loaded in one query, template versions from a cache
   (MJML was compiled at publish time; only Jinja runs here), channel chosen (``best`` = the first
   reachable channel of ``payload.fallback``), consent and address checked, message rendered.
3. **Deliver**, one sender per provider connection: a sender marks its next message ``sending`` in
   the same transaction that records the outcome of its previous one (with its contact event:
   ``email_sent``, ``message_failed``, ``message_skipped``; ``source="system"``), then hands it to the
   provider. So only messages actually handed over are ``sending``: at most one per open connection.
   One writer thread commits what all senders queued meanwhile in a single transaction (group
   commit) while the event loop keeps talking to the providers. Every write checks ``claimed_by``:
   a run never records over another's takeover.

Crash semantics (docs/operators.md, "Delivery guarantees"): a row found in ``sending`` after its lease
was possibly delivered — the provider may have accepted it just before the worker died. The provider's
policy for messages in doubt (:func:`in_doubt_policy`) decides: ``hold`` makes it ``unknown``: visible,
never resent automatically, retried only by an operator (:func:`retry_messages`); ``resend`` (the
default for providers that de-duplicate on our idempotency key, e.g. webhooks with the
``Idempotency-Key`` header) puts it back to ``pending`` to be resent with the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.channels.base import OutgoingMessage, Provider, SendResult
from backend.channels.push import remove_subscriptions
from backend.channels.ratelimit import SendBudget
from backend.channels.registry import ProviderSet
from backend.contacts import events as event_path
from backend.contacts.events import NewEvent
from backend.db.fastsql import FastSQL
from backend.db.models import OutboxMessage, Template, Workspace
from backend.db.session import read_connection
from backend.engine.sdk import Contact, Needs
from backend.runtime import pacing
from backend.runtime.snapshots import chunks, load_contacts, load_needs
from backend.templates.environment import TemplateRenderError, compile_jinja, runtime_line
from backend.templates.limits import RenderLimitError, RenderLimits, rendering
from backend.templates.render import CompiledTemplate, TemplateCache, build_context
from backend.tracking.actions import delivery_extras
from backend.tracking.links import Tracker
from backend.tracking.signing import new_public_id

log = logging.getLogger("waymark.outbox")

_outbox = OutboxMessage.__table__

SENT_EVENT = {"email": "email_sent", "sms": "sms_sent", "wechat": "wechat_sent", "push": "push_sent"}
"""Event recorded on the contact when a message on the channel was accepted; others: ``<channel>_sent``."""
FAILED_EVENT = "message_failed"
SKIPPED_EVENT = "message_skipped"

UNKNOWN_NOTE = (
    "the worker stopped while delivering: the provider may have accepted the message, so it is not "
    "resent automatically (retry it if you know it did not arrive)"
)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    lost_claims: int = 0
    """Rows another worker took over (this one was too slow); not delivered by this run."""
    became_unknown: int = 0
    deferred: int = 0
    """Rows put back because their provider's rate limit had no budget left (no attempt used)."""
    requeued: int = 0
    """Rows of idempotent providers found with an expired lease and queued again."""
    seconds: float = 0.0


@dataclass
class _Job:
    row: Any
    channel: str
    to: Any = None
    content: dict[str, Any] = field(default_factory=dict)
    template_version_id: int | None = None
    not_before: float | None = None
    window_end: float | None = None
    """Loop time before which the provider must not get it (its rate limit, backend/channels/ratelimit.py)."""
    defer_until: datetime | None = None
    """Outcome ``deferred``: no budget left in the provider's rate window; due again then, no attempt used."""
    outcome: str | None = None
    """Decided before delivery: ``skipped`` or ``failed``."""
    reason: str | None = None
    provider: Provider | None = None
    result: SendResult | None = None
    public_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    links: list[str] | None = None
    """Tracked links' original URLs (backend/tracking), stored on the row when it is marked sending."""
    pending_render: tuple[Any, int | None, dict[str, Any]] | None = None
    """``(template, version id, context)`` until :meth:`Dispatcher._render` ran."""

    @property
    def id(self) -> int:
        return self.row.id


class Dispatcher:
    """Delivers due outbox rows. Stateless apart from caches, so any number can run against one
    database; each ``run_once`` opens provider connections and closes them at the end."""

    DEFAULT_LIMIT = 500

    def __init__(
        self,
        services,
        *,
        providers: dict[str, Provider] | None = None,
        chunk_size: int = 100,
        lease: timedelta | None = None,
        max_attempts: int = 10,
        backoff_base: timedelta = timedelta(minutes=1),
        backoff_max: timedelta = timedelta(hours=6),
    ) -> None:
        self.services = services
        self.engine: sa.Engine = services.engine
        self.clock = services.clock
        self.settings = services.settings
        self.provider_overrides = dict(providers or {})
        """Per channel, a provider to use for every workspace (benchmarks: ``{"email": NullProvider()}``)."""
        self.chunk_size = max(1, chunk_size)
        self.lease = lease if lease is not None else timedelta(seconds=self.settings.outbox_lease_seconds)
        """How long a claim lasts unless renewed; the heartbeat renews this run's every third of it."""
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.templates = TemplateCache()
        self.limits = RenderLimits.from_settings(self.settings)
        self._too_slow: dict[int, str] = {}
        """Template version id → why it is not rendered again: it went over the CPU-time limit for an
        earlier message (a template that slow would otherwise cost that much for every message)."""
        self.budget = SendBudget(self.engine)
        self._drafts: dict[int, CompiledTemplate | None] = {}
        """Test sends (``payload.draft``): outbox id → the template's draft, compiled (backend/api/messages.py)."""
        self.tracker = Tracker(self.settings)
        self._webhook_bodies: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.last_report = DispatchReport()
        self.after_claim: Callable[[list], None] | None = None
        """Test hook: runs after the claim committed, before anything is rendered or sent."""
        self.after_send: Callable[[Any, SendResult], None] | None = None
        """Test hook: runs when a provider has answered, before the outcome is recorded (crash tests
        kill the process here)."""

    # -- entry points --------------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> int:
        """Deliver up to ``limit`` due messages; returns how many rows were claimed. Synchronous (it
        runs its own event loop); from async code use :meth:`run_once_async`."""
        return asyncio.run(self.run_once_async(limit))

    def run_until_idle(self, limit: int | None = None, max_runs: int = 1000) -> int:
        total = 0
        for _ in range(max_runs):
            claimed = self.run_once(limit)
            total += claimed
            if claimed < (limit or self.DEFAULT_LIMIT):
                break
        return total

    async def run_once_async(self, limit: int | None = None) -> int:
        limit = limit or self.DEFAULT_LIMIT
        report = DispatchReport()
        self.last_report = report
        started = asyncio.get_running_loop().time()
        providers = ProviderSet(self.settings, self.provider_overrides, engine=self.engine, clock=self.clock)
        try:
            now = self.clock.now()
            due, stale = self._probe(now)
            if stale:
                self._recover(now, report, providers)
            if not (due or report.requeued):
                return 0
            token = secrets.token_hex(8)
            rows = self._claim(now, limit, token)
            report.claimed = len(rows)
            if not rows:
                return 0
            writer = _Writer(self, token, report)
            try:
                if self.after_claim is not None:
                    self.after_claim(rows)
                jobs = self._prepare(rows, now)
                with read_connection(self.engine) as conn:
                    providers.load(conn, {r.workspace_id for r in rows})
                for part in chunks(jobs, self.chunk_size):
                    await self._run_chunk(list(part), providers, writer, report)
            finally:
                await writer.close()
        finally:
            await providers.close()
            report.seconds = asyncio.get_running_loop().time() - started
        return report.claimed

    # -- claim and recovery --------------------------------------------------------------------

    def _probe(self, now: datetime) -> tuple[bool, bool]:
        """Is anything due, is any lease stale? Read-only, so an idle worker polling every second
        never takes SQLite's write lock."""
        with read_connection(self.engine) as conn:
            due = conn.execute(
                sa.select(_outbox.c.id).where(_outbox.c.status == "pending", _outbox.c.next_attempt_at <= now).limit(1)
            ).first()
            stale = conn.execute(
                sa.select(_outbox.c.id).where(_outbox.c.status == "sending", _outbox.c.claimed_until < now).limit(1)
            ).first()
        return due is not None, stale is not None

    def _recover(self, now: datetime, report: DispatchReport, providers: ProviderSet) -> None:
        """Rows left ``sending`` by a worker whose lease ran out: those the provider had accepted
        (``sent_at`` noted) are settled as ``sent`` with their events; the others were in doubt."""
        with self.engine.begin() as conn:
            query = sa.select(_outbox).where(_outbox.c.status == "sending", _outbox.c.claimed_until < now)
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            stale = conn.execute(query).all()
            if not stale:
                return
            accepted = [r for r in stale if r.sent_at is not None]
            self._record(
                conn, [_Job(r, r.channel, result=SendResult.sent(r.provider_message_id)) for r in accepted], now, report
            )
            stale = [r for r in stale if r.sent_at is None]
            providers.load(conn, {r.workspace_id for r in stale})
            requeue, unknown = [], []
            for row in stale:
                provider, _ = providers.get(row.workspace_id, row.channel)
                (requeue if provider is not None and in_doubt_policy(provider) == "resend" else unknown).append(row.id)
            if requeue:
                conn.execute(
                    sa.update(_outbox)
                    .where(_outbox.c.id.in_(requeue))
                    .values(
                        status="pending",
                        next_attempt_at=now,
                        claimed_by=None,
                        last_error="lease expired while delivering; resending with the same idempotency key",
                    )
                )
            if unknown:  # ``claimed_by`` stays: a worker that was merely slow may still record what it knows
                conn.execute(
                    sa.update(_outbox)
                    .where(_outbox.c.id.in_(unknown))
                    .values(status="unknown", last_error=UNKNOWN_NOTE)
                )
            report.requeued += len(requeue)
            report.became_unknown += len(unknown)
            if unknown:
                log.warning("%d outbox message(s) became 'unknown' after a worker stopped mid-delivery", len(unknown))

    def _claim(self, now: datetime, limit: int, token: str) -> list[Any]:
        claim_until = now + self.lease
        with self.engine.begin() as conn:
            query = (
                sa.select(
                    _outbox.c.id,
                    _outbox.c.workspace_id,
                    _outbox.c.idempotency_key,
                    _outbox.c.contact_id,
                    _outbox.c.enrollment_id,
                    _outbox.c.journey_id,
                    _outbox.c.version_id,
                    _outbox.c.node_id,
                    _outbox.c.channel,
                    _outbox.c.template_key,
                    _outbox.c.template_version_id,
                    _outbox.c.payload,
                    _outbox.c.attempts,
                    _outbox.c.public_id,
                    _outbox.c.test,
                )
                .where(_outbox.c.status == "pending", _outbox.c.next_attempt_at <= now)
                .order_by(_outbox.c.next_attempt_at)
                .limit(limit)
            )
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            for part in chunks([r.id for r in rows]):
                conn.execute(
                    sa.update(_outbox)
                    .where(_outbox.c.id.in_(part))
                    .values(next_attempt_at=claim_until, claimed_by=token)
                )
        return rows

    # -- preparing -----------------------------------------------------------------------------

    def _prepare(self, rows: Sequence[Any], now: datetime) -> list[_Job]:
        with read_connection(self.engine) as conn:
            contacts = load_contacts(conn, {r.contact_id for r in rows if r.contact_id is not None})
            versions = self._resolve_versions(conn, rows)
            self._load_drafts(conn, [r for r in rows if (r.payload or {}).get("draft") and r.id not in self._drafts])
            compiled = self.templates.get_many(conn, {v for v in versions.values() if v is not None})
            locales = dict(
                conn.execute(
                    sa.select(Workspace.id, Workspace.locale).where(Workspace.id.in_({r.workspace_id for r in rows}))
                ).all()
            )
            # Subscriptions only when some template of the batch uses them.
            needing: dict[int, dict[int, Contact]] = defaultdict(dict)
            for row in rows:
                vid = versions.get(row.id)
                tpl = compiled.get(vid) if vid is not None else None
                contact = contacts.get(row.contact_id) if row.contact_id is not None else None
                if tpl is not None and tpl.needs_subscriptions and contact is not None:
                    needing[row.workspace_id][contact.id] = contact
            for workspace_id, group in needing.items():
                load_needs(conn, workspace_id, group, Needs(subscriptions=True), now)
            held = pacing.holds(conn, self.services.graphs, rows, contacts, now)
        return [self._job(row, contacts, versions, compiled, locales, now, held.get(row.id)) for row in rows]

    def _resolve_versions(self, conn: sa.Connection, rows: Sequence[Any]) -> dict[int, int | None]:
        """Outbox id → template version: the one already recorded on the row (retries keep the
        version of their first attempt), else the template's current published version."""
        out: dict[int, int | None] = {}
        wanted: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            if row.template_version_id is not None:
                out[row.id] = row.template_version_id
            elif row.template_key:
                wanted[row.workspace_id].add(row.template_key)
        published: dict[tuple[int, str], int | None] = {}
        for workspace_id, keys in wanted.items():
            for key, vid in conn.execute(
                sa.select(Template.key, Template.published_version_id).where(
                    Template.workspace_id == workspace_id, Template.key.in_(sorted(keys))
                )
            ):
                published[(workspace_id, key)] = vid
        for row in rows:
            if row.id not in out and row.template_key:
                out[row.id] = published.get((row.workspace_id, row.template_key))
        return out

    def _job(self, row, contacts, versions, compiled, locales, now: datetime, hold: pacing.Hold | None) -> _Job:
        payload = row.payload or {}
        channel = row.channel
        job = _Job(row, channel)
        contact = contacts.get(row.contact_id) if row.contact_id is not None else None
        if row.contact_id is not None and contact is None:
            return self._decide(job, "skipped", "the contact no longer exists")
        if hold is not None and hold.defer_until is not None:
            job.defer_until = hold.defer_until
            return self._decide(job, "deferred", "quiet hours")
        if hold is not None and hold.skip_reason:
            return self._decide(job, "skipped", hold.skip_reason)
        job.public_id = row.public_id or new_public_id()
        context = build_context(
            contact,
            journey_context=payload.get("context") or {},
            now=now,
            workspace_locale=locales.get(row.workspace_id) or "en",
            message={"id": job.public_id, "channel": channel, **self.tracker.template_vars(job.public_id)},
        )
        if channel == "webhook":
            return self._webhook_job(job, payload, contact, context)

        vid = versions.get(row.id)
        template: CompiledTemplate | None = compiled.get(vid) if vid is not None else None
        if payload.get("draft"):  # a test send renders the template's draft
            template, vid = self._drafts.pop(row.id, None), None
            if template is None:
                return self._decide(job, "failed", f"template {row.template_key!r} no longer exists")
        if row.template_key and template is None:
            return self._decide(job, "failed", f"template {row.template_key!r} has no published version")
        job.template_version_id = vid
        if contact is None and not (row.test and payload.get("to")):
            return self._decide(job, "skipped", "the message has no contact")

        if channel == "best":
            fallback = [c for c in payload.get("fallback") or [] if template is None or template.has(c)]
            chosen = next((c for c in fallback if _deliverable(contact, c, payload)), None)
            if chosen is None:
                return self._decide(
                    job, "skipped", "no reachable channel with consent among: " + (", ".join(fallback) or "none")
                )
            channel = job.channel = chosen
            context["message"]["channel"] = chosen
        address = (payload.get("to") if row.test else None) or (contact.address(channel) if contact else None)
        if not address:
            return self._decide(job, "skipped", f"the contact has no {channel} address")
        if contact and payload.get("marketing", True) and contact.consent.get(channel, True) is False and not row.test:
            return self._decide(job, "skipped", f"the contact has not consented to marketing {channel}")
        if template is None:
            return self._decide(job, "failed", "the message names no template")
        job.to = address
        job.pending_render = (template, vid, context)
        return job

    def _render(self, job: _Job) -> bool:
        """Render a job's message (done by its sender just before it is sent, so rendering overlaps
        the other connections' deliveries); ``False`` when it failed (``job.outcome``, ``job.reason``)."""
        if job.pending_render is None:
            return job.outcome is None
        (template, vid, context), job.pending_render = job.pending_render, None
        row, channel, payload = job.row, job.channel, job.row.payload or {}
        if vid is not None and vid in self._too_slow:
            self._decide(job, "failed", self._too_slow[vid])
            return False
        try:
            rendered = template.render(channel, context, self.limits)
        except TemplateRenderError as exc:
            reason = f"template {row.template_key!r}: {exc}"
            if exc.problem.limit == "cpu" and vid is not None:
                if len(self._too_slow) > 1000:
                    self._too_slow.clear()
                self._too_slow[vid] = (
                    f"{reason} (for message {row.id}); this version is not rendered again: "
                    "fix the template and publish a new version"
                )
                log.warning("template version %s went over the CPU-time limit; not rendered again", vid)
            self._decide(job, "failed", reason)
            return False
        job.content = rendered.fields
        if channel == "email":  # open pixel, click links, unsubscribe headers (backend/tracking/links.py)
            tracked = self.tracker.email(
                rendered.fields, job.public_id, marketing=payload.get("marketing", True), locale=context["locale"]
            )
            job.content, job.headers, job.links = tracked.fields, tracked.headers, tracked.links
        return True

    def _webhook_job(self, job: _Job, payload: dict[str, Any], contact: Contact | None, context) -> _Job:
        body_source = payload.get("body")
        if body_source:
            try:
                template = self._webhook_body(body_source)
                with rendering(self.limits):
                    body = template.render(context)
            except TemplateRenderError as exc:
                return self._decide(job, "failed", f"webhook body: {exc}")
            except RenderLimitError as exc:
                line = runtime_line(exc, "webhook.body")
                return self._decide(job, "failed", f"webhook body: {f'line {line}: ' if line else ''}{exc}")
            except Exception as exc:  # a runtime error in the body template
                return self._decide(job, "failed", f"webhook body: {type(exc).__name__}: {exc}")
        else:
            body = msgspec.json.encode(
                {
                    "contact": {k: v for k, v in context["contact"].items() if k != "attributes"} if contact else None,
                    "event": context["event"],
                    "journey_id": job.row.journey_id,
                    "node_id": job.row.node_id,
                }
            ).decode()
        job.to = payload.get("url")
        job.content = {"method": payload.get("method") or "POST", "headers": payload.get("headers") or {}, "body": body}
        return job

    def _webhook_body(self, source: str):
        with self._lock:
            template = self._webhook_bodies.get(source)
        if template is None:
            from jinja2 import TemplateSyntaxError

            from backend.templates.environment import TemplateProblem, locate, text_env

            try:
                template = compile_jinja(source, "webhook.body")
            except TemplateSyntaxError as exc:
                line, column = locate(text_env, source, exc)
                raise TemplateRenderError(
                    TemplateProblem("/body", exc.message or "syntax error", line, column)
                ) from exc
            with self._lock:
                if len(self._webhook_bodies) > 256:
                    self._webhook_bodies.clear()
                self._webhook_bodies[source] = template
        return template

    @staticmethod
    def _decide(job: _Job, outcome: str, reason: str) -> _Job:
        job.outcome = outcome
        job.reason = reason
        return job

    def _load_drafts(self, conn: sa.Connection, rows: Sequence[Any]) -> None:
        """Compile the drafts test sends render (MJML included: tests are rare and drafts change)."""
        from backend.templates.service import compile_channels, normalise_draft

        for row in rows:
            draft = conn.execute(
                sa.select(Template.draft).where(
                    Template.workspace_id == row.workspace_id, Template.key == row.template_key
                )
            ).scalar()
            if draft is None:
                self._drafts[row.id] = None
                continue
            channels = normalise_draft(draft)
            compiled, _ = compile_channels(channels)
            self._drafts[row.id] = CompiledTemplate(None, row.template_key, channels, compiled)

    async def send_claimed(self, ids: Sequence[int], claim_until: datetime) -> DispatchReport:
        """Deliver these rows now: rows inserted ``pending`` with ``next_attempt_at = claim_until`` (so
        no worker claims them meanwhile) — a test send. Same rendering, providers and recording as a
        run; no rate limit for tests."""
        report = DispatchReport()
        self.last_report = report
        providers = ProviderSet(self.settings, self.provider_overrides, engine=self.engine, clock=self.clock)
        token = secrets.token_hex(8)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(_outbox)
                    .where(
                        _outbox.c.id.in_(list(ids)),
                        _outbox.c.status == "pending",
                        _outbox.c.next_attempt_at == claim_until,
                    )
                    .values(claimed_by=token)
                )
                rows = conn.execute(sa.select(_outbox).where(_outbox.c.id.in_(list(ids)))).all()
                providers.load(conn, {r.workspace_id for r in rows})
            report.claimed = len(rows)
            writer = _Writer(self, token, report)
            try:
                jobs = self._prepare(rows, self.clock.now())
                await self._run_chunk(jobs, providers, writer, report)
            finally:
                await writer.close()
        finally:
            await providers.close()
        return report

    # -- one chunk: decide, then per connection mark → deliver → record ---------------------------

    async def _run_chunk(
        self, jobs: list[_Job], providers: ProviderSet, writer: _Writer, report: DispatchReport
    ) -> None:
        for job in jobs:
            if job.outcome is None:
                provider, why_not = providers.get(job.row.workspace_id, job.channel)
                if provider is None:
                    self._decide(job, "failed", why_not or f"no {job.channel} provider")
                job.provider = provider
        await self.budget.plan((j for j in jobs if j.outcome is None and not j.row.test), self.clock.now())
        decided = [j for j in jobs if j.outcome is not None]
        pending = writer.submit(decided=decided) if decided else None
        await self._deliver([j for j in jobs if j.outcome is None], writer, report)
        if pending is not None:
            await writer.wait(pending)

    async def _deliver(self, jobs: list[_Job], writer: _Writer, report: DispatchReport) -> None:
        """One sender per provider connection (``provider.concurrency``), each taking the next job of
        its provider: the job is marked ``sending`` in the transaction that records the previous
        outcome on that connection, so a crash leaves at most one row per connection in doubt. The
        writer commits what every sender queued meanwhile in one transaction (group commit)."""
        if not jobs:
            return
        queues: dict[int, deque[_Job]] = {}
        providers: dict[int, Provider] = {}
        for job in jobs:
            assert job.provider is not None
            queues.setdefault(id(job.provider), deque()).append(job)
            providers[id(job.provider)] = job.provider
        failing: dict[int, tuple[int, str]] = {}

        async def sender(provider: Provider, queue: deque[_Job]) -> None:
            previous: _Job | None = None
            while queue:
                job = queue.popleft()
                if not self._render(job):  # a template error: finished without a provider
                    writer.submit(outcome=previous, decided=[job])
                    previous = None
                    continue
                if job.not_before is not None:  # paced by the provider's rate limit
                    await self.budget.wait(job)
                marked = writer.submit(outcome=previous, mark=job)
                previous = None
                if job.not_before is not None:  # still inside the window its send budget was leased for?
                    await self.budget.wait(job)
                streak, last = failing.get(id(provider), (0, ""))
                if streak >= 3:
                    # The provider failed three times in a row without answering: don't wait for
                    # every remaining message to time out too; they are retried later.
                    result: SendResult | None = SendResult.retry(f"provider unavailable this run: {last}")
                else:
                    message = OutgoingMessage(
                        outbox_id=job.id,
                        idempotency_key=job.row.idempotency_key,
                        workspace_id=job.row.workspace_id,
                        channel=job.channel,
                        to=job.to,
                        content=job.content,
                        headers=job.headers,
                        contact_id=job.row.contact_id,
                    )
                    try:
                        result = await _send(provider, message, lambda marked=marked: writer.wait(marked))
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # a provider bug must not lose the row's outcome
                        log.exception("provider %s raised", provider.kind)
                        result = SendResult.retry(f"provider error: {type(exc).__name__}: {exc}")
                if not await writer.wait(marked) or result is None:
                    report.lost_claims += 1  # another worker took it over before it was handed over
                    continue
                failing[id(provider)] = (streak + 1, result.error or "") if result.outcome == "retry" else (0, "")
                job.result = result
                previous = job
                if self.after_send is not None:
                    self.after_send(job, result)
            if previous is not None:
                await writer.wait(writer.submit(outcome=previous))

        await asyncio.gather(
            *(
                sender(providers[key], queue)
                for key, queue in queues.items()
                for _ in range(min(len(queue), max(1, providers[key].concurrency)))
            )
        )

    def _backoff(self, job: _Job, attempts: int, retry_after: float | None) -> timedelta:
        delay = self.backoff_base * (2 ** max(0, attempts - 1))
        delay = min(delay, self.backoff_max)
        # Deterministic jitter (0-10 %) so a burst of failures does not come back as one burst.
        spread = int(hashlib.blake2b(str(job.id).encode(), digest_size=2).hexdigest(), 16) % 100
        delay = delay * (1 + spread / 1000)
        if retry_after:
            delay = max(delay, timedelta(seconds=min(retry_after, self.backoff_max.total_seconds())))
        return delay

    # -- the writer's transaction ------------------------------------------------------------------

    def _commit(
        self,
        token: str,
        batch: list[_Request],
        heartbeat: bool,
        settle: list[_Job],
        report: DispatchReport,
        writer: _Writer | None = None,
    ) -> list[_Job]:
        """One transaction for everything the senders queued: renew this run's leases (heartbeat);
        note on each ``sending`` row the provider accepted that it did (``sent_at``, the provider's id:
        no longer in doubt); record other outcomes with their contact events; finish decided rows; mark
        the next messages ``sending``; and settle accepted rows (``settle``: ``sent`` with their
        ``email_sent`` events). Sets each request's ``owned``; returns the accepted jobs noted, to settle
        in a later transaction. Every write is limited to rows still carrying this run's token."""
        now = self.clock.now()
        until = now + self.lease
        outcomes = [r.outcome for r in batch if r.outcome is not None]
        accepted = [j for j in outcomes if j.result is not None and j.result.outcome == "sent" and not j.row.test]
        others = [j for j in outcomes if j not in accepted]
        marks = [r.mark for r in batch if r.mark is not None]
        decided = [j for r in batch for j in r.decided]
        if self.is_postgres and not (heartbeat or others or decided or settle) and writer is not None:
            owned = self._commit_pg(writer.autocommit(), token, accepted, marks, now, until)
            for request in batch:
                request.owned = request.mark is not None and request.mark.id in owned
            return accepted
        with self.engine.begin() as conn:
            fast = FastSQL(conn)
            if heartbeat:
                fast.execute(_HEARTBEAT_PENDING, (fast.dt(until), token))
                fast.execute(_HEARTBEAT_SENDING, (fast.dt(until), token))
            if accepted:
                fast.many(_ACCEPTED, [(fast.dt(now), j.result.provider_message_id, j.id, token) for j in accepted])
            if others or decided:
                status = self._statuses(conn, [j.id for j in others + decided], token)
                # requeued by another worker meanwhile: it records its own outcome
                self._record(conn, [j for j in others if status.get(j.id) in ("sending", "unknown")], now, report)
                report.lost_claims += sum(1 for j in decided if status.get(j.id) != "pending")
                self._finish(conn, [j for j in decided if status.get(j.id) == "pending"], now, report)
            owned: set[int] = set()
            if marks:
                done = conn.exec_driver_sql(
                    fast.sql(_MARK),
                    [
                        (
                            fast.dt(until),
                            j.channel,
                            j.template_version_id,
                            j.public_id,
                            fast.json(j.links or None),
                            j.id,
                            token,
                        )
                        for j in marks
                    ],
                ).rowcount
                if done == len(marks):
                    owned = {j.id for j in marks}
                else:  # some were taken over: which ones did this update mark?
                    status = self._statuses(conn, [j.id for j in marks], token)
                    owned = {j.id for j in marks if status.get(j.id) == "sending"}
            if settle:
                status = self._statuses(conn, [j.id for j in settle], token, accepted_only=True)
                self._record(conn, [j for j in settle if status.get(j.id) == "sending"], now, report)
        for request in batch:
            request.owned = request.mark is not None and request.mark.id in owned
        return accepted

    def _commit_pg(
        self, conn: sa.Connection, token: str, accepted: list[_Job], marks: list[_Job], now: datetime, until: datetime
    ) -> set[int]:
        """PostgreSQL's common case — note accepted messages, mark the next ones — as one statement in
        autocommit on the writer's own connection: one round trip and one log flush instead of a pool
        check-out, BEGIN, two updates and COMMIT."""
        rows = conn.exec_driver_sql(
            _PG_GROUP,
            {
                "token": token,
                "now": now,
                "until": until,
                "acc_ids": [j.id for j in accepted],
                "acc_pmids": [j.result.provider_message_id if j.result else None for j in accepted],
                "ids": [j.id for j in marks],
                "channels": [j.channel for j in marks],
                "tvs": [j.template_version_id for j in marks],
                "pids": [j.public_id for j in marks],
                "links": [_json(j.links) if j.links else None for j in marks],
            },
        ).all()
        return {r[0] for r in rows}

    def _statuses(self, conn: sa.Connection, ids: list[int], token: str, accepted_only: bool = False) -> dict[int, str]:
        """Status of the rows this run still holds (locked on PostgreSQL)."""
        status: dict[int, str] = {}
        for part in chunks(ids):
            query = sa.select(_outbox.c.id, _outbox.c.status).where(
                _outbox.c.id.in_(part), _outbox.c.claimed_by == token
            )
            if accepted_only:
                query = query.where(_outbox.c.sent_at.is_not(None))
            if self.is_postgres:
                query = query.with_for_update()
            status.update(conn.execute(query).all())
        return status

    def _finish(self, conn: sa.Connection, jobs: list[_Job], now: datetime, report: DispatchReport) -> None:
        """Rows decided before delivery: ``skipped``, ``failed``, or ``deferred`` back to ``pending``."""
        if not jobs:
            return
        conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.id == sa.bindparam("_id"))
            .values(
                status=sa.bindparam("_status"),
                last_error=sa.bindparam("_error"),
                channel=sa.bindparam("_channel"),
                template_version_id=sa.bindparam("_tv"),
                next_attempt_at=sa.bindparam("_next"),
                claimed_until=None,
                claimed_by=None,
            ),
            [
                {
                    "_id": j.id,
                    "_status": "pending" if j.outcome == "deferred" else j.outcome,
                    "_error": j.reason,
                    "_channel": j.row.channel if j.outcome == "deferred" else j.channel,
                    "_tv": j.template_version_id,
                    "_next": j.defer_until or now,
                }
                for j in jobs
            ],
        )
        for j in jobs:
            if j.outcome == "deferred":
                report.deferred += 1
            elif j.outcome == "skipped":
                report.skipped += 1
            else:
                report.failed += 1
        self._events(conn, [(j, j.outcome) for j in jobs if j.outcome != "deferred"], now)

    def _record(self, conn: sa.Connection, jobs: list[_Job], now: datetime, report: DispatchReport) -> None:
        """Delivered rows' outcomes: ``sent``, ``failed``, or ``pending`` again with a backoff."""
        if not jobs:
            return
        updates, events = [], []
        for job in jobs:
            result = job.result or SendResult.retry("no result")
            attempts = job.row.attempts + 1
            values = {
                "_id": job.id,
                "_status": "sent",
                "_error": None,
                "_pmid": result.provider_message_id,
                "_sent_at": None,
                "_next": now,
            }
            if result.outcome == "sent":
                values["_sent_at"] = now
                report.sent += 1
                events.append((job, "sent"))
            elif result.outcome == "retry" and attempts < self.max_attempts and not job.row.test:
                values.update(
                    _status="pending",
                    _error=result.error,
                    _next=now + self._backoff(job, attempts, result.retry_after),
                )
                report.retried += 1
            else:
                error = result.error or "failed"
                if result.outcome == "retry":
                    error = f"gave up after {attempts} attempts: {error}"
                values.update(_status="failed", _error=error)
                job.reason = error
                report.failed += 1
                events.append((job, "failed"))
            updates.append(values)
            if result.stale and job.row.contact_id is not None and job.channel == "push":
                remove_subscriptions(conn, job.row.contact_id, result.stale, lock=self.is_postgres)
        conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.id == sa.bindparam("_id"))
            .values(
                status=sa.bindparam("_status"),
                last_error=sa.bindparam("_error"),
                provider_message_id=sa.bindparam("_pmid"),
                sent_at=sa.func.coalesce(_outbox.c.sent_at, sa.bindparam("_sent_at", type_=_outbox.c.sent_at.type)),
                next_attempt_at=sa.bindparam("_next"),
                claimed_until=None,
                claimed_by=None,
            ),
            updates,
        )
        self._events(conn, events, now)

    # -- contact events --------------------------------------------------------------------------

    def _events(self, conn: sa.Connection, items: Iterable[tuple[_Job, str]], now: datetime) -> None:
        """``email_sent`` / ``message_failed`` / ``message_skipped`` on the contact, in the transaction
        that records the outcome, through the one event path (journeys' triggers, waits and goals, and
        audiences, see them like any event)."""
        by_workspace: dict[int, list[NewEvent]] = defaultdict(list)
        for job, kind in items:
            row = job.row
            if (
                row.test
                or row.contact_id is None
                or (kind == "skipped" and job.reason == "the contact no longer exists")
            ):
                continue
            name = {"sent": SENT_EVENT.get(job.channel, f"{job.channel}_sent"), "failed": FAILED_EVENT}.get(
                kind, SKIPPED_EVENT
            )
            properties: dict[str, Any] = {
                "channel": job.channel,
                "outbox_id": row.id,
                "template": row.template_key,
                "journey_id": row.journey_id,
                "node_id": row.node_id,
            }
            if kind == "sent" and job.result is not None:
                properties["provider_message_id"] = job.result.provider_message_id
            elif kind != "sent":
                properties["reason"] = job.reason
            stamp = f"{now.timestamp():.6f}"
            events = by_workspace[row.workspace_id]
            events.append(NewEvent(row.contact_id, name, properties, f"wm:outbox:{row.id}:{kind}:{stamp}", now))
            for extra in delivery_extras(conn, row, job.channel, kind, job.result, now):  # hard bounces
                events.append(
                    NewEvent(
                        row.contact_id, extra.name, extra.properties, f"wm:outbox:{row.id}:{extra.name}:{stamp}", now
                    )
                )
        for workspace_id, events in by_workspace.items():
            event_path.record(conn, self.services, workspace_id, events, now, "system")


_HEARTBEAT_PENDING = "UPDATE outbox SET next_attempt_at = ? WHERE claimed_by = ? AND status = 'pending'"
_HEARTBEAT_SENDING = "UPDATE outbox SET claimed_until = ? WHERE claimed_by = ? AND status = 'sending'"
_ACCEPTED = (
    "UPDATE outbox SET status = 'sending', sent_at = ?, provider_message_id = ? "
    "WHERE id = ? AND claimed_by = ? AND status IN ('sending', 'unknown')"
)
_MARK = (
    "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1, channel = ?, "
    "template_version_id = ?, public_id = ?, links = ?::jsonb WHERE id = ? AND claimed_by = ? AND status = 'pending'"
)
"""The per-message statements, in plain SQL (backend/db/fastsql.py): they run once per group commit."""

_PG_GROUP = """
WITH accepted AS (
    UPDATE outbox o SET status = 'sending', sent_at = %(now)s, provider_message_id = a.pmid
    FROM unnest(%(acc_ids)s::bigint[], %(acc_pmids)s::text[]) AS a(id, pmid)
    WHERE o.id = a.id AND o.claimed_by = %(token)s AND o.status IN ('sending', 'unknown')
    RETURNING o.id
), marked AS (
    UPDATE outbox o SET status = 'sending', claimed_until = %(until)s, attempts = o.attempts + 1,
        channel = m.channel, template_version_id = m.tv, public_id = m.pid, links = m.links
    FROM unnest(%(ids)s::bigint[], %(channels)s::text[], %(tvs)s::bigint[], %(pids)s::text[], %(links)s::jsonb[])
        AS m(id, channel, tv, pid, links)
    WHERE o.id = m.id AND o.claimed_by = %(token)s AND o.status = 'pending'
    RETURNING o.id
)
SELECT id FROM marked
"""

SETTLE_BATCH = 500
SETTLE_SECONDS = 0.25
"""Accepted messages are settled (``sent`` + ``email_sent``) in batches of up to this many, or this
long after the first of a batch was accepted: the event path's cost per transaction is paid once per
batch rather than once per message. Until then the row is ``sending`` with ``sent_at`` set — known to
have been accepted, never in doubt (a crash meanwhile: :meth:`Dispatcher._recover` settles it)."""


@dataclass
class _Request:
    outcome: _Job | None = None
    mark: _Job | None = None
    decided: list[_Job] = field(default_factory=list)
    owned: bool = False
    future: asyncio.Future | None = None


class _Writer:
    """The run's single writer. It commits, in one transaction, everything the senders queued while
    the previous transaction ran (group commit), then releases them; every third of the lease it
    renews the leases of the run's rows (the heartbeat, from a thread: also while the event loop
    renders); accepted messages are settled in batches (:data:`SETTLE_BATCH`).

    Where the commits run depends on the database: on PostgreSQL in the writer thread — a commit
    waits for the server and its log flush, and the event loop keeps talking to the providers
    meanwhile; on SQLite on the event loop itself, right after the senders queued their work — the
    in-process commit costs less than waking a thread and handing the GIL back and forth."""

    def __init__(self, dispatcher: Dispatcher, token: str, report: DispatchReport) -> None:
        self.dispatcher = dispatcher
        self.token = token
        self.report = report
        self.loop = asyncio.get_running_loop()
        self.inline = not dispatcher.is_postgres
        self.interval = max(0.1, dispatcher.lease.total_seconds() / 3)
        self.queue: list[_Request] = []
        self.closing = False
        self.failed: BaseException | None = None
        self.unsettled: list[_Job] = []
        self.settle_by = float("inf")
        self.scheduled = False
        self._autocommit: sa.Connection | None = None
        self.lock = threading.Lock()
        """Serialises commits of the loop (inline) and the heartbeat thread."""
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=f"outbox-writer-{token}", daemon=True)
        self.thread.start()

    def submit(
        self, *, outcome: _Job | None = None, mark: _Job | None = None, decided: Sequence[_Job] = ()
    ) -> asyncio.Future:
        """Queue work for the next transaction; the future answers whether ``mark`` is still this
        run's (``False``: another worker took the row over)."""
        future = self.loop.create_future()
        with self.cond:
            if self.failed is not None:
                future.set_exception(self.failed)
                return future
            self.queue.append(_Request(outcome, mark, list(decided), future=future))
            if not self.inline:
                self.cond.notify()
        return future

    async def wait(self, future: asyncio.Future) -> Any:
        """The answer to a submission. Inline mode commits only when a sender needs an answer (right
        before it hands a message over), so everything queued meanwhile shares the transaction."""
        if self.inline and not future.done() and not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._flush)
        return await future

    async def close(self) -> None:
        try:
            if self.inline:
                self._flush(closing=True)
        finally:
            with self.cond:
                self.closing = True
                self.cond.notify()
            await asyncio.to_thread(self.thread.join)
        if self.failed is not None:
            raise self.failed

    def _flush(self, closing: bool = False) -> None:
        """Inline mode: one group commit of what the senders queued, on the event loop."""
        with self.cond:
            batch, self.queue = self.queue, []
            self.scheduled = False
        try:
            self._cycle(batch, False, closing)
        except BaseException as exc:
            _release(batch, exc)
            if closing:
                raise
            return
        _release(batch, None)
        if self.unsettled and self.settle_by != float("inf") and not closing:
            self.loop.call_at(
                self.loop.time() + max(0.0, self.settle_by - time.monotonic()), self._settle_due, self.settle_by
            )

    def autocommit(self) -> sa.Connection:
        """The writer's own connection in autocommit (PostgreSQL's one-statement group commits)."""
        if self._autocommit is None:
            self._autocommit = self.dispatcher.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit

    def _settle_due(self, due: float) -> None:
        if self.unsettled and self.settle_by == due and not self.scheduled:
            self._flush()

    def _cycle(self, batch: list[_Request], beat: bool, closing: bool) -> None:
        """One transaction: the batch, the heartbeat when ``beat``, and a settle batch when due."""
        settle: list[_Job] = []
        clock = time.monotonic()
        if self.unsettled and (closing or clock >= self.settle_by or len(self.unsettled) >= SETTLE_BATCH):
            settle, self.unsettled, self.settle_by = self.unsettled, [], float("inf")
        if not (batch or beat or settle):
            return
        try:
            with self.lock:
                accepted = self.dispatcher._commit(self.token, batch, beat, settle, self.report, self)
        except BaseException as exc:  # the senders see it; the run fails like any database error
            log.exception("recording delivery progress failed")
            with self.cond:
                self.failed = exc
            raise
        if accepted:
            if not self.unsettled:
                self.settle_by = time.monotonic() + SETTLE_SECONDS
            self.unsettled.extend(accepted)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._autocommit is not None:
                self._autocommit.close()

    def _loop(self) -> None:
        """The thread: heartbeats, and in thread mode the group commits."""
        next_beat = time.monotonic() + self.interval
        while True:
            with self.cond:
                while True:
                    wake = next_beat if self.inline else min(next_beat, self.settle_by)
                    if self.closing or time.monotonic() >= wake or (self.queue and not self.inline):
                        break
                    self.cond.wait(max(0.0, wake - time.monotonic()))
                closing = self.closing
                batch: list[_Request] = []
                if not self.inline:
                    batch, self.queue = self.queue, []
            beat = time.monotonic() >= next_beat and not closing
            if beat:
                next_beat = time.monotonic() + self.interval
            if self.inline:
                if closing:
                    return
                if beat:
                    try:
                        with self.lock:
                            self.dispatcher._commit(self.token, [], True, [], self.report)
                    except Exception:  # the next beat tries again
                        log.exception("renewing the outbox leases failed")
                continue
            try:
                self._cycle(batch, beat, closing)
            except BaseException as exc:
                self.loop.call_soon_threadsafe(_release, batch, exc)
                if closing:
                    return
                continue
            if batch:  # one wake-up of the event loop for the whole group
                self.loop.call_soon_threadsafe(_release, batch, None)
            if closing:
                with self.cond:
                    if not self.queue and not self.unsettled:
                        return


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _release(batch: list[_Request], exc: BaseException | None) -> None:
    for request in batch:
        future = request.future
        if future is None or future.done():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(request.owned)


async def _send(
    provider: Provider, message: OutgoingMessage, marked: Callable[[], Awaitable[bool]]
) -> SendResult | None:
    """Hand the message over only once it is marked ``sending`` (``marked`` answers whether this run
    still owns it): providers with ``send_when`` (SMTP) start the conversation meanwhile."""
    send_when = getattr(provider, "send_when", None)
    if send_when is not None:
        return await send_when(message, marked)
    if not await marked():
        return None
    return await provider.send(message)


def in_doubt_policy(provider: Provider) -> str:
    """``resend`` or ``hold``: what happens to a message of this provider left ``sending`` by a worker
    that stopped. The provider row's ``in_doubt`` setting, else ``resend`` for providers that
    de-duplicate on the idempotency key and ``hold`` (for an operator, status ``unknown``) for others."""
    return provider.in_doubt or ("resend" if provider.idempotent else "hold")


def _deliverable(contact: Contact, channel: str, payload: dict[str, Any]) -> bool:
    if not contact.address(channel):
        return False
    if payload.get("marketing", True):
        return contact.consent.get(channel, True) is not False
    return True


def retry_messages(
    engine: sa.Engine,
    workspace_id: int,
    ids: Sequence[int] | None = None,
    *,
    now: datetime,
    statuses: Sequence[str] = ("failed", "unknown"),
) -> int:
    """An operator's retry: put ``failed`` / ``unknown`` messages back in the queue, due now, with a
    fresh set of attempts. For an
    ``unknown`` email this may deliver a second copy (with the same Message-ID) — that is the operator's
    call, never the dispatcher's."""
    with engine.begin() as conn:
        query = (
            sa.update(_outbox)
            .where(_outbox.c.workspace_id == workspace_id, _outbox.c.status.in_(list(statuses)))
            .values(status="pending", next_attempt_at=now, claimed_until=None, attempts=0)
        )
        if ids is not None:
            query = query.where(_outbox.c.id.in_(list(ids)))
        return conn.execute(query).rowcount or 0
