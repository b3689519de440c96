"""Settings from the environment (``WAYMARK_*``), with embedded-mode defaults under ``./var``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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
    smtp_url: str | None = None
    """``smtp://user:pass@host:port?tls=starttls|ssl|none&from=Name <addr>``; default: the dev inbox."""
    dev_inbox: bool = True
    """Run a local SMTP sink that stores mail under var/mail when no SMTP server is configured."""
    dev_inbox_port: int = 1025
    allow_private_webhooks: bool = False
    track_opens: bool = True
    """Add the open pixel to emails (``WAYMARK_TRACK_OPENS=0`` turns it off)."""
    track_clicks: bool = True
    """Rewrite email links to signed click-tracking redirects (``WAYMARK_TRACK_CLICKS=0`` turns it off)."""
    unsubscribe_mailto: str | None = None
    """A mailbox added to ``List-Unsubscribe`` as ``mailto:`` (only if something processes its mail)."""
    max_ingest_per_second: float = 5000.0


def _secret(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(**overrides) -> Settings:
    env = os.environ
    var_dir = Path(overrides.pop("var_dir", None) or env.get("WAYMARK_VAR_DIR", "var")).resolve()
    database_url = overrides.pop("database_url", None) or env.get(
        "WAYMARK_DATABASE_URL", f"sqlite:///{var_dir / 'waymark.db'}"
    )
    values = {
        "database_url": database_url,
        "var_dir": var_dir,
        "secret_key": env.get("WAYMARK_SECRET_KEY") or overrides.pop("secret_key", None) or _secret(var_dir),
        "base_url": env.get("WAYMARK_BASE_URL", "http://127.0.0.1:8000"),
        "host": env.get("WAYMARK_HOST", "127.0.0.1"),
        "port": int(env.get("WAYMARK_PORT", "8000")),
        "tick_seconds": float(env.get("WAYMARK_TICK_SECONDS", "1")),
        "batch_size": int(env.get("WAYMARK_BATCH_SIZE", "5000")),
        "smtp_url": env.get("WAYMARK_SMTP_URL") or None,
        "dev_inbox": env.get("WAYMARK_DEV_INBOX", "1") not in ("0", "false", "no"),
        "dev_inbox_port": int(env.get("WAYMARK_DEV_INBOX_PORT", "1025")),
        "allow_private_webhooks": env.get("WAYMARK_ALLOW_PRIVATE_WEBHOOKS", "0") in ("1", "true", "yes"),
        "track_opens": env.get("WAYMARK_TRACK_OPENS", "1") not in ("0", "false", "no"),
        "track_clicks": env.get("WAYMARK_TRACK_CLICKS", "1") not in ("0", "false", "no"),
        "unsubscribe_mailto": env.get("WAYMARK_UNSUBSCRIBE_MAILTO") or None,
    }
    values.update(overrides)
    return Settings(**values)
