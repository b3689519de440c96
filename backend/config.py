"""Settings from the environment (``WAYMARK_*``), with embedded-mode defaults under ``./var``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import msgspec


class Settings(msgspec.Struct, kw_only=True):
    database_url: str
    var_dir: Path
    secret_key: str
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    tick_seconds: float = 1.0
    batch_size: int = 5000
    tick_concurrency: int = 1
    """PostgreSQL: batches each worker keeps in flight (2 overlaps interpreting with the database's writes;
    see the README's Performance section). SQLite always runs one."""
    smtp_url: str | None = None
    """``smtp://user:pass@host:port?tls=starttls|ssl|none&from=Name <addr>``; default: the dev inbox."""
    dev_inbox: bool = True
    """Run a local SMTP sink that stores mail under var/mail when no SMTP server is configured."""
    dev_inbox_port: int = 1025
    allow_private_webhooks: bool = False
    allow_private_smtp: bool = False
    """Let workspaces' SMTP providers reach private, loopback and link-local addresses (a relay on your
    own network). ``WAYMARK_SMTP_URL`` and the dev inbox are always allowed: the operator set them."""
    outbox_lease_seconds: Annotated[float, msgspec.Meta(ge=0.5, le=3600)] = 15.0
    """How long a dispatcher's claim on outbox rows lasts unless its heartbeat (every third of it)
    renews it: a dead worker's rows are taken over after at most this long (docs/operators.md)."""
    track_opens: bool = True
    """Add the open pixel to emails (``WAYMARK_TRACK_OPENS=0`` turns it off)."""
    track_clicks: bool = True
    """Rewrite email links to signed click-tracking redirects (``WAYMARK_TRACK_CLICKS=0`` turns it off)."""
    unsubscribe_mailto: str | None = None
    """A mailbox added to ``List-Unsubscribe`` as ``mailto:`` (only if something processes its mail)."""
    max_ingest_per_second: float = 5000.0
    template_cpu_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """CPU time one message's templates may take to render (all its fields); 0 turns the limit off.
    A published version that goes over it is not rendered again by that worker (docs/operators.md)."""
    template_max_output: Annotated[int, msgspec.Meta(ge=1)] = 1_000_000
    """Characters one rendered message may have (all its fields together)."""
    template_max_value: Annotated[int, msgspec.Meta(ge=1)] = 1_000_000
    """Characters of the largest value a template may build (text, or a list as it would print); all
    the values one message builds together may be ten times that."""
    template_max_iterations: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    """Loop iterations one message's render may run; also the longest ``range()``."""


def _secret(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


class SettingsError(ValueError):
    """A ``WAYMARK_*`` variable has a value of the wrong kind; the message names the variable."""


_FALSE = {"0", "false", "no", "off"}


def load_settings(**overrides) -> Settings:
    """Every field of :class:`Settings` reads ``WAYMARK_<FIELD>``; keyword arguments win (tests)."""
    env = os.environ
    var_dir = Path(overrides.pop("var_dir", None) or env.get("WAYMARK_VAR_DIR", "var")).resolve()
    values: dict = {"var_dir": var_dir}
    for field in msgspec.structs.fields(Settings):
        raw = env.get(f"WAYMARK_{field.name.upper()}")
        if raw is None or field.name == "var_dir":
            continue
        if field.type is bool:
            values[field.name] = raw.strip().lower() not in _FALSE
        elif raw == "" and field.default is None:
            values[field.name] = None  # an empty optional setting means "not set"
        else:
            values[field.name] = raw
    values.setdefault("database_url", f"sqlite:///{var_dir / 'waymark.db'}")
    values.update(overrides)
    values.setdefault("secret_key", None)
    if not values["secret_key"]:
        values["secret_key"] = _secret(var_dir)
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = message.rsplit("$.", 1)[-1].rstrip("`") if "$." in message else ""
        raise SettingsError(f"WAYMARK_{field.upper()}: {message.split(' - at ')[0]}") from None
