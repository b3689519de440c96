"""CSV import of contacts: the upload is spooled to a file, its header read and a mapping guessed; a dry
run previews the first rows as they would be stored; then the worker imports the file in chunks,
each chunk one transaction through :func:`backend.contacts.upsert.store` — the same path identify calls
take, so segments, computed properties and journeys react exactly as they do to the API.

A chunk commits its contacts together with the job's progress (byte offset, counts, the rows it
refused), so a crash resumes where the last chunk ended; each row's event has a message id made from the
job and the row, so a chunk that is replayed anyway changes nothing twice.

Identity: the ``external_id`` column (Segment's ``userId``) when the row has one, else the email (the
oldest contact with it). A re-import therefore updates the same contacts instead of adding new ones.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from backend.contacts.upsert import (
    DB_BUSY_SECONDS,
    ContactTraits,
    Item,
    SubscriptionTrait,
    is_busy,
    normalise_email,
    store,
    valid_timezone,
    write_transaction,
)
from backend.db.models import Contact, ContactImport, ContactImportError
from backend.db.session import read_connection
from backend.errors import Issue, Refused, invalid, missing

if TYPE_CHECKING:
    from backend.services import Services

log = logging.getLogger("waymark.imports")

_imports = ContactImport.__table__
_errors = ContactImportError.__table__
_contacts = Contact.__table__

CHUNK_ROWS = 1000
"""Rows per transaction: big enough for set-based writes, small enough not to hold SQLite's lock long."""
PREVIEW_ROWS = 20
SAMPLE_BYTES = 64 * 1024
MAX_COLUMNS = 500
MAX_CELL = 10_000
BOM = codecs.BOM_UTF8
DELIMITERS = (",", ";", "\t")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

SCALARS = {"external_id": 255, "email": 320, "phone": 32, "wechat_openid": 128, "timezone": 64, "locale": 16}
SUBSCRIPTION_PARTS = ("id", "name", "status", "start_at", "end_at", "duration", "auto_renew")
TYPES = ("auto", "text", "number", "boolean", "date")
_NAME = re.compile(r"^\w[\w.\- ]{0,99}$")
_KEY = re.compile(r"^[a-z0-9_]{1,32}$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
TRUE = frozenset({"true", "yes", "y", "1", "on", "t", "x", "tak", "sí", "si", "是", "opt-in", "granted", "subscribed"})
FALSE = frozenset({"false", "no", "n", "0", "off", "f", "nie", "否", "opt-out", "withdrawn", "unsubscribed", "denied"})

# -------------------------------------------------------------------------------------------------
# Mapping
# -------------------------------------------------------------------------------------------------


class MappingEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    column: str
    target: str
    """``external_id``, ``email``, ``phone``, ``wechat_openid``, ``timezone``, ``locale``, ``tags``,
    ``consent.<channel>``, ``trait.<name>``, ``subscription.<part>`` or ``ignore``."""
    type: str = "auto"
    """For traits: ``auto`` (numbers and true/false become numbers and booleans), ``text``, ``number``,
    ``boolean`` or ``date``."""


_SYNONYMS = {
    "external_id": (
        "external_id",
        "externalid",
        "user_id",
        "userid",
        "customer_id",
        "customer",
        "client_id",
        "id_cliente",
        "id_klienta",
        "identyfikator",
        "identyfikator_klienta",
        "客户id",
        "用户id",
    ),
    "email": (
        "email",
        "e_mail",
        "mail",
        "email_address",
        "e_mail_address",
        "adres_e_mail",
        "adres_email",
        "correo",
        "correo_electronico",
        "correo_electrónico",
        "邮箱",
        "电子邮件",
        "邮件",
    ),
    "phone": ("phone", "phone_number", "mobile", "mobile_phone", "tel", "telefon", "telefono", "teléfono", "手机"),
    "wechat_openid": ("wechat_openid", "openid", "wechat"),
    "timezone": ("timezone", "time_zone", "tz"),
    "locale": ("locale", "language", "lang", "idioma", "język", "语言"),
    "tags": ("tags", "tag", "labels", "etiquetas", "tagi", "标签"),
    "ignore": ("waymark_id", "created_at", "updated_at"),
}
_GUESS = {alias: target for target, aliases in _SYNONYMS.items() for alias in aliases}


def guess_target(column: str) -> str:
    """What a column most likely is: known names (in the four languages), the prefixes an export writes
    (``consent.email``, ``trait.plan``, ``subscription.end_at``), else a trait of the same name."""
    name = column.strip()
    plain = re.sub(r"[\s\-]+", "_", name.lower())
    if plain in _GUESS:
        return _GUESS[plain]
    prefix, _, rest = name.partition(".")
    prefix = prefix.strip().lower()
    if rest:
        if prefix == "consent" and _KEY.match(rest.lower()):
            return f"consent.{rest.lower()}"
        if prefix == "trait" and _NAME.match(rest):
            return f"trait.{rest}"
        if prefix == "subscription" and rest.lower() in SUBSCRIPTION_PARTS:
            return f"subscription.{rest.lower()}"
        if prefix in ("computed", "score"):
            return "ignore"  # derived from events; cannot be imported
    if plain.startswith("consent_") and _KEY.match(plain[8:]):
        return f"consent.{plain[8:]}"
    return f"trait.{name}" if _NAME.match(name) else "ignore"


def guess_mapping(columns: list[str]) -> list[MappingEntry]:
    return [MappingEntry(column=c, target=guess_target(c)) for c in columns]


def check_mapping(columns: list[str], mapping: list[MappingEntry], base: str = "/mapping") -> None:
    """Every problem at once, each with its JSON pointer."""
    issues: list[Issue] = []
    seen_columns: set[str] = set()
    seen_targets: dict[str, int] = {}
    for n, entry in enumerate(mapping):
        at = f"{base}/{n}"
        if entry.column not in columns:
            issues.append(Issue(f"{at}/column", f"the file has no column {entry.column!r}"))
        elif entry.column in seen_columns:
            issues.append(Issue(f"{at}/column", f"column {entry.column!r} is mapped twice"))
        seen_columns.add(entry.column)
        target = entry.target
        if entry.type not in TYPES:
            issues.append(Issue(f"{at}/type", f"unknown type {entry.type!r}; use one of {', '.join(TYPES)}"))
        if target == "ignore":
            continue
        kind, _, rest = target.partition(".")
        known = (
            target in SCALARS
            or target == "tags"
            or (kind == "consent" and _KEY.match(rest))
            or (kind == "trait" and _NAME.match(rest))
            or (kind == "subscription" and rest in SUBSCRIPTION_PARTS)
        )
        if not known:
            issues.append(
                Issue(
                    f"{at}/target",
                    f"unknown target {target!r}; use external_id, email, phone, wechat_openid, timezone, locale,"
                    " tags, consent.<channel>, trait.<name>, subscription.<part> or ignore",
                )
            )
            continue
        if target in seen_targets:
            issues.append(Issue(f"{at}/target", f"{target!r} is already the target of column {seen_targets[target]}"))
        seen_targets.setdefault(target, n)
    targets = set(seen_targets)
    if not targets & {"external_id", "email"}:
        issues.append(Issue(base, "map a column to external_id or email: it is how a row finds its contact"))
    if any(t.startswith("subscription.") for t in targets) and not targets & {"subscription.id", "subscription.name"}:
        issues.append(Issue(base, "a subscription needs subscription.name or subscription.id"))
    if issues:
        raise Refused(400, "The mapping has problems", issues)


# -------------------------------------------------------------------------------------------------
# Reading the file
# -------------------------------------------------------------------------------------------------


@dataclass
class Header:
    columns: list[str]
    delimiter: str
    data_offset: int
    """Where the first row after the header starts (after the BOM and the header)."""
    bom: bool


class _Lines:
    """The file's lines as text for :mod:`csv`, counting the bytes consumed, so a chunk can stop after any
    row and the next one start there. UTF-8 errors survive as surrogates and are reported per row."""

    def __init__(self, handle: IO[bytes], offset: int) -> None:
        handle.seek(offset)
        self.handle = handle
        self.position = offset

    def __iter__(self) -> Iterator[str]:
        for line in iter(self.handle.readline, b""):
            self.position += len(line)
            yield line.decode("utf-8", "surrogateescape")


def _reader(lines: _Lines, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=delimiter, strict=False)


def read_header(path: Path) -> Header:
    """Detect the encoding's BOM and the delimiter (``,``, ``;`` or tab) and read the column names.
    Raises :class:`Refused` (400) for what no mapping can fix."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise invalid("/file", "the file is UTF-16 text; save it as “CSV UTF-8” and upload it again")
    bom = sample.startswith(BOM)
    start = len(BOM) if bom else 0
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample[start:], final=False)
    except UnicodeDecodeError:
        raise invalid("/file", "the file is not UTF-8 text; save it as “CSV UTF-8” and upload it again") from None
    if not text.strip():
        raise invalid("/file", "the file is empty")
    delimiter = _detect_delimiter(text)
    with path.open("rb") as handle:
        lines = _Lines(handle, start)
        try:
            columns = next(_reader(lines, delimiter))
        except (StopIteration, csv.Error) as exc:
            raise invalid("/file", f"the header row cannot be read: {exc}") from None
        offset = lines.position
    columns = [c.strip() for c in columns]
    issues = []
    if len(columns) > MAX_COLUMNS:
        issues.append(Issue("/file", f"the file has {len(columns)} columns; at most {MAX_COLUMNS} can be imported"))
    seen: set[str] = set()
    for n, name in enumerate(columns, 1):
        if not name:
            issues.append(Issue("/file", f"column {n} of the header row has no name"))
        elif name in seen:
            issues.append(Issue("/file", f"the header row names {name!r} twice"))
        seen.add(name)
    if issues:
        raise Refused(400, "The file cannot be imported", issues)
    return Header(columns, delimiter, offset, bom)


def _detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most columns, the same number on each line."""
    lines = text.splitlines()[:20]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-line
    best, best_score = ",", (False, 0)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        if not rows:
            continue
        widths = {len(r) for r in rows if r}
        score = (len(widths) == 1, len(rows[0]))
        if rows and len(rows[0]) > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def iter_rows(path: Path, delimiter: str, offset: int) -> Iterator[tuple[list[str], int]]:
    """(cells, byte offset after the row) from ``offset`` on."""
    with path.open("rb") as handle:
        lines = _Lines(handle, offset)
        reader = _reader(lines, delimiter)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                cells = [f"\udcff{exc}"]  # reported as a bad row below
            yield cells, lines.position


# -------------------------------------------------------------------------------------------------
# Rows → what identify would carry
# -------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    column: str
    value: str
    reason: str


@dataclass
class Converted:
    row: int
    item: Item | None
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def unneutralise(cell: str) -> str:
    """Undo an export's formula guard: ``'=1+2`` back to ``=1+2``."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def parse_bool(text: str) -> bool | None:
    low = text.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    return None


def _parse_when(text: str) -> datetime | None:
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _typed(text: str, kind: str) -> tuple[Any, str | None]:
    """A trait value and, when it cannot be one of ``kind``, why."""
    if kind == "text":
        return text, None
    if kind in ("number", "auto"):
        try:
            number = int(text)
            if str(number) == text:
                return number, None
        except ValueError:
            pass
        if _DECIMAL.match(text):
            return float(text), None
        if kind == "number":
            return None, "is not a number"
    if kind in ("boolean", "auto"):
        if text.lower() in ("true", "false"):
            return text.lower() == "true", None
        if kind == "boolean":
            value = parse_bool(text)
            return (value, None) if value is not None else (None, "is not yes/no or true/false")
    if kind == "date":
        moment = _parse_when(text)
        if moment is None:
            return None, "is not a date (use 2026-12-31 or 2026-12-31T09:30:00Z)"
        return (text.strip()[:10] if len(text.strip()) == 10 else moment.isoformat()), None
    return text, None


class Plan:
    """A checked mapping, turned into what each row's cells do."""

    def __init__(self, columns: list[str], mapping: list[MappingEntry], job_id: int) -> None:
        check_mapping(columns, mapping)
        index = {c: n for n, c in enumerate(columns)}
        self.width = len(columns)
        self.job_id = job_id
        self.entries = [(index[e.column], e) for e in mapping if e.target != "ignore"]
        self.subscription_id = any(e.target == "subscription.id" for _i, e in self.entries)

    def convert(self, row: int, cells: list[str]) -> Converted | None:
        """``None`` for an empty line; otherwise the row's item, or its problems."""
        if not any(c.strip() for c in cells):
            return None
        out = Converted(row, None)
        problems = out.problems
        if cells and cells[0].startswith("\udcff"):
            problems.append(Problem("", "", f"the row cannot be read: {cells[0][1:]}"))
            return out
        if len(cells) > self.width:
            extra = cells[self.width :]
            if any(c.strip() for c in extra):
                problems.append(
                    Problem("", "", f"the row has {len(cells)} cells but the header names {self.width} columns")
                )
                return out
        values: dict[str, Any] = {}
        traits: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        consent: dict[str, bool] = {}
        subscription: dict[str, Any] = {}
        tags: list[str] = []
        for n, entry in self.entries:
            raw = cells[n] if n < len(cells) else ""
            if "\udcff" in raw or any("\udc80" <= ch <= "\udcff" for ch in raw):
                problems.append(Problem(entry.column, "", "is not UTF-8 text; save the file as “CSV UTF-8”"))
                continue
            text = unneutralise(raw.strip())
            if not text:
                continue  # an empty cell changes nothing
            if len(text) > MAX_CELL:
                problems.append(Problem(entry.column, text[:100], f"is longer than {MAX_CELL} characters"))
                continue
            target = entry.target
            kind, _, rest = target.partition(".")
            if target in SCALARS:
                if len(text) > SCALARS[target]:
                    problems.append(Problem(entry.column, text, f"is longer than {SCALARS[target]} characters"))
                    continue
                if target == "email":
                    if "@" not in text or any(ch.isspace() for ch in text) or text.startswith("@"):
                        problems.append(Problem(entry.column, text, "is not an email address"))
                        continue
                    text = normalise_email(text)
                elif target == "timezone" and not valid_timezone(text):
                    problems.append(Problem(entry.column, text, "is not a time zone (use a name like Europe/Warsaw)"))
                    continue
                traits[target] = text
                values[target] = text
            elif target == "tags":
                found = [t.strip() for t in re.split(r"[,;|]", text) if t.strip()]
                long = [t for t in found if len(t) > 100]
                if long:
                    problems.append(Problem(entry.column, long[0], "is a tag longer than 100 characters"))
                    continue
                tags += found
                values["tags"] = found
            elif kind == "consent":
                granted = parse_bool(text)
                if granted is None:
                    problems.append(Problem(entry.column, text, "is not yes/no or true/false"))
                    continue
                consent[rest] = granted
            elif kind == "trait":
                value, why = _typed(text, entry.type)
                if why:
                    problems.append(Problem(entry.column, text, why))
                    continue
                attributes[rest] = value
            else:  # subscription
                if rest in ("start_at", "end_at"):
                    moment = _parse_when(text)
                    if moment is None:
                        problems.append(
                            Problem(entry.column, text, "is not a date (use 2026-12-31 or 2026-12-31T09:30:00Z)")
                        )
                        continue
                    subscription[rest] = moment
                elif rest == "auto_renew":
                    flag = parse_bool(text)
                    if flag is None:
                        problems.append(Problem(entry.column, text, "is not yes/no or true/false"))
                        continue
                    subscription[rest] = flag
                else:
                    limit = {"id": 255, "name": 200, "status": 32, "duration": 32}[rest]
                    if len(text) > limit:
                        problems.append(Problem(entry.column, text, f"is longer than {limit} characters"))
                        continue
                    subscription[rest] = text
        user_id = traits.get("external_id")
        email = traits.get("email")
        if not problems and not user_id and not email:
            problems.append(Problem("", "", "the row has neither an external id nor an email"))
        if subscription and "id" not in subscription and "name" not in subscription:
            problems.append(Problem("", "", "the subscription has neither a name nor an id"))
        if problems:
            return out
        if consent:
            values["consent"] = consent
        if attributes:
            values["traits"] = attributes
        sub_trait = None
        if subscription:
            if "id" not in subscription:
                # One record per contact and package name: a re-import updates it.
                subscription["id"] = f"{user_id or email}:{subscription['name']}"
            subscription.setdefault("name", subscription["id"])
            sub_trait = SubscriptionTrait(**subscription)
            values["subscription"] = {
                k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in subscription.items()
            }
        contact_traits = ContactTraits(
            **{k: v for k, v in traits.items() if k != "external_id"},
            **({"consent": consent} if consent else {}),
            **({"subscriptions": [sub_trait]} if sub_trait else {}),
        )
        out.values = values
        out.item = Item(
            kind="identify",
            user_id=user_id,
            anonymous_id=None,
            name="identify",
            properties={"import_id": self.job_id, "row": row},
            occurred_at=datetime.now(UTC),
            message_id=f"import:{self.job_id}:{row}",
            traits=contact_traits,
            attributes=attributes,
            subscription_extras=[{}] if sub_trait else None,
            match_email=email,
            add_tags=tags or None,
        )
        return out


# -------------------------------------------------------------------------------------------------
# Jobs
# -------------------------------------------------------------------------------------------------


def upload_dir(services: Services) -> Path:
    path = Path(services.settings.var_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_upload_path(services: Services) -> Path:
    return upload_dir(services) / f"{uuid.uuid4().hex}.csv"


def create(
    services: Services,
    workspace_id: int,
    path: Path,
    filename: str,
    user_id: int | None = None,
) -> int:
    """Register a spooled upload (read its header; the file is removed when it cannot be imported)."""
    try:
        header = read_header(path)
    except Refused:
        path.unlink(missing_ok=True)
        raise
    with services.engine.begin() as conn:
        return conn.execute(
            sa.insert(_imports)
            .values(
                workspace_id=workspace_id,
                filename=filename[:255],
                path=str(path),
                status="uploaded",
                delimiter=header.delimiter,
                columns=header.columns,
                mapping=[msgspec.to_builtins(e) for e in guess_mapping(header.columns)],
                bytes_total=path.stat().st_size,
                offset=header.data_offset,
                rows_done=0,
                created=0,
                updated=0,
                failed=0,
                message="",
                created_at=services.clock.now(),
                created_by=user_id,
            )
            .returning(_imports.c.id)
        ).scalar_one()


def get(conn: sa.Connection, workspace_id: int, import_id: int) -> Any:
    found = conn.execute(
        sa.select(_imports).where(_imports.c.id == import_id, _imports.c.workspace_id == workspace_id)
    ).first()
    if found is None:
        raise missing("import")
    return found


def recent(conn: sa.Connection, workspace_id: int, limit: int = 20) -> list[Any]:
    return conn.execute(
        sa.select(_imports).where(_imports.c.workspace_id == workspace_id).order_by(_imports.c.id.desc()).limit(limit)
    ).all()


def mapping_of(job: Any) -> list[MappingEntry]:
    return [msgspec.convert(e, MappingEntry) for e in job.mapping or []]


def sample(job: Any, rows: int = 5) -> list[list[str]]:
    """The first rows as they are in the file (to show next to the mapping)."""
    out = []
    path = Path(job.path)
    if not path.exists():
        return out
    for cells, _offset in iter_rows(path, job.delimiter, job.offset if job.status == "uploaded" else _start(job)):
        if len(out) >= rows:
            break
        if any(c.strip() for c in cells):
            out.append([c.encode("utf-8", "replace").decode() for c in cells])
    return out


def _start(job: Any) -> int:
    return read_header(Path(job.path)).data_offset


@dataclass
class PreviewRow:
    row: int
    action: str
    """create | update | error"""
    values: dict[str, Any]
    problems: list[Problem]


def preview(
    conn: sa.Connection, workspace_id: int, job: Any, mapping: list[MappingEntry], rows: int = PREVIEW_ROWS
) -> list[PreviewRow]:
    """The dry run: the first ``rows`` rows as they would be stored, and whether each creates a contact or
    updates one; nothing is written."""
    plan = Plan(list(job.columns), mapping, job.id)
    path = Path(job.path)
    if not path.exists():
        raise invalid("/file", "the uploaded file is gone; upload it again")
    converted: list[Converted] = []
    number = 1
    for cells, _offset in iter_rows(path, job.delimiter, _start(job)):
        number += 1
        result = plan.convert(number, cells)
        if result is None:
            continue
        converted.append(result)
        if len(converted) >= rows:
            break
    items = [c.item for c in converted if c.item is not None]
    known_ids = _existing(conn, workspace_id, "external_id", [i.user_id for i in items if i.user_id])
    known_emails = _existing(conn, workspace_id, "email", [i.match_email for i in items if i.match_email])
    out = []
    for c in converted:
        if c.item is None:
            out.append(PreviewRow(c.row, "error", c.values, c.problems))
            continue
        item = c.item
        exists = (item.user_id in known_ids) if item.user_id else (item.match_email in known_emails)
        out.append(PreviewRow(c.row, "update" if exists else "create", c.values, []))
    return out


def _existing(conn: sa.Connection, workspace_id: int, column: str, values: list[str]) -> set[str]:
    if not values:
        return set()
    col = _contacts.c[column]
    return set(
        conn.execute(sa.select(col).where(_contacts.c.workspace_id == workspace_id, col.in_(sorted(set(values)))))
        .scalars()
        .all()
    )


def start(services: Services, workspace_id: int, import_id: int, mapping: list[MappingEntry]) -> None:
    """Queue the import with this mapping; the worker takes it from here."""
    with services.engine.begin() as conn:
        job = get(conn, workspace_id, import_id)
        if job.status != "uploaded":
            raise Refused(409, "This import has already started", [Issue("/status", f"the import is {job.status}")])
        Plan(list(job.columns), mapping, job.id)  # refuses a bad mapping
        if not Path(job.path).exists():
            raise invalid("/file", "the uploaded file is gone; upload it again")
        conn.execute(
            sa.update(_imports)
            .where(_imports.c.id == import_id)
            .values(
                status="queued",
                mapping=[msgspec.to_builtins(e) for e in mapping],
                offset=_start(job),
                started_at=services.clock.now(),
            )
        )
    services.waker.notify()


def cancel(services: Services, workspace_id: int, import_id: int) -> None:
    with services.engine.begin() as conn:
        job = get(conn, workspace_id, import_id)
        if job.status in ("done", "failed", "cancelled"):
            return
        conn.execute(
            sa.update(_imports)
            .where(_imports.c.id == import_id)
            .values(status="cancelled", finished_at=services.clock.now())
        )
    Path(job.path).unlink(missing_ok=True)


def step(services: Services, chunk_rows: int = CHUNK_ROWS) -> int:
    """Import the next chunk of one queued or running import. Returns the rows read (0: nothing to do)."""
    engine = services.engine
    postgres = engine.dialect.name == "postgresql"
    with read_connection(engine) as conn:  # the common case, nothing to import, takes no write lock
        if (
            conn.execute(sa.select(_imports.c.id).where(_imports.c.status.in_(("queued", "running"))).limit(1)).first()
            is None
        ):
            return 0
    job = None
    try:
        with write_transaction(engine, DB_BUSY_SECONDS) as conn:
            query = (
                sa.select(_imports).where(_imports.c.status.in_(("queued", "running"))).order_by(_imports.c.id).limit(1)
            )
            if postgres:
                query = query.with_for_update(skip_locked=True)
            job = conn.execute(query).first()
            if job is None:
                return 0
            read, finished = _chunk(conn, services, job, chunk_rows)
    except sa.exc.IntegrityError:
        log.warning("import %s: a concurrent request wrote the same contact; retrying", job and job.id)
        return 0
    except Exception as exc:
        if is_busy(exc) or job is None:
            return 0  # the database is busy: the next pass goes again
        log.exception("import %d failed", job.id)
        with services.engine.begin() as conn:
            conn.execute(
                sa.update(_imports)
                .where(_imports.c.id == job.id)
                .values(status="failed", message=f"the import stopped: {exc}"[:2000], finished_at=services.clock.now())
            )
        finished = True
        read = 1
    if finished:
        Path(job.path).unlink(missing_ok=True)
    return read


def _chunk(conn: sa.Connection, services: Services, job: Any, chunk_rows: int) -> tuple[int, bool]:
    now = services.clock.now()
    path = Path(job.path)
    if not path.exists():
        conn.execute(
            sa.update(_imports)
            .where(_imports.c.id == job.id)
            .values(status="failed", message="the uploaded file is gone", finished_at=now)
        )
        return 1, True
    plan = Plan(list(job.columns), mapping_of(job), job.id)
    number = job.rows_done + 1
    offset = job.offset
    converted: list[Converted] = []
    read = 0
    finished = True
    for cells, after in iter_rows(path, job.delimiter, job.offset):
        number += 1
        read += 1
        offset = after
        result = plan.convert(number, cells)
        if result is not None:
            converted.append(result)
        if read >= chunk_rows:
            finished = False
            break
    items = [c.item for c in converted if c.item is not None]
    for item in items:
        item.occurred_at = now
    result = store(conn, services, job.workspace_id, items, now, "import") if items else None
    created = result.contacts_created if result else 0
    updated = (result.accepted - created) if result else 0
    bad = [c for c in converted if c.item is None]
    if bad:
        conn.execute(
            sa.insert(_errors),
            [
                {
                    "import_id": job.id,
                    "row": c.row,
                    "column": p.column[:255],
                    "value": p.value[:255],
                    "reason": p.reason,
                }
                for c in bad
                for p in c.problems
            ],
        )
    values: dict[str, Any] = {
        "offset": offset,
        "rows_done": job.rows_done + read,
        "created": job.created + created,
        "updated": job.updated + updated,
        "failed": job.failed + len(bad),
        "status": "done" if finished else "running",
    }
    if finished:
        values["finished_at"] = now
    conn.execute(sa.update(_imports).where(_imports.c.id == job.id).values(**values))
    if result is not None and (result.enrolled or result.woken):
        services.waker.notify(conn)
    if finished:
        log.info(
            "import %d done: %d created, %d updated, %d rows refused",
            job.id,
            *(values[k] for k in ("created", "updated", "failed")),
        )
    return max(read, 1), finished


def run_to_end(services: Services, import_id: int, on_progress=None) -> None:
    """Process imports until this one is over (the CLI; tests)."""
    idle = 0
    while True:
        with services.engine.connect() as conn:
            job = conn.execute(sa.select(_imports).where(_imports.c.id == import_id)).first()
        if job is None or job.status in ("done", "failed", "cancelled", "uploaded"):
            break
        if on_progress is not None:
            on_progress(job)
        if step(services):
            idle = 0
            continue
        idle += 1
        if idle > 100:
            break
        time.sleep(0.1)


def errors(conn: sa.Connection, import_id: int, limit: int | None = None, after: int = 0) -> list[Any]:
    query = (
        sa.select(_errors.c.id, _errors.c.row, _errors.c.column, _errors.c.value, _errors.c.reason)
        .where(_errors.c.import_id == import_id, _errors.c.id > after)
        .order_by(_errors.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return conn.execute(query).all()


def spool(chunks: Iterator[bytes], dest: Path, limit: int) -> int:
    """Write chunks to ``dest``; refuses (413) past ``limit`` bytes. Returns the size."""
    size = 0
    with dest.open("wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                out.close()
                dest.unlink(missing_ok=True)
                raise too_large(limit)
            out.write(chunk)
    return size


def too_large(limit: int) -> Refused:
    return Refused(
        413, "The file is too large", [Issue("/file", f"the file is larger than {limit // (1024 * 1024)} MB")]
    )


def copy_in(source: Path, services: Services) -> Path:
    """The CLI's file, copied like an upload (the job owns and removes its copy)."""
    dest = new_upload_path(services)
    shutil.copyfile(source, dest)
    return dest
