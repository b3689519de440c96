"""Every setting comes from its WAYMARK_* variable, and a wrong value names the variable."""

from __future__ import annotations

import pytest

from backend.config import SettingsError, load_settings


def test_defaults_for_embedded_mode(tmp_path, monkeypatch):
    for name in ("WAYMARK_PORT", "WAYMARK_DATABASE_URL", "WAYMARK_SECRET_KEY", "WAYMARK_DEV_INBOX"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(var_dir=str(tmp_path))
    assert settings.port == 8000
    assert settings.database_url == f"sqlite:///{tmp_path / 'waymark.db'}"
    assert settings.dev_inbox is True
    assert len(settings.secret_key) > 40
    assert load_settings(var_dir=str(tmp_path)).secret_key == settings.secret_key  # kept in var/secret_key


def test_environment_variables_are_typed(tmp_path, monkeypatch):
    monkeypatch.setenv("WAYMARK_PORT", "9001")
    monkeypatch.setenv("WAYMARK_DEV_INBOX", "no")
    monkeypatch.setenv("WAYMARK_MAX_INGEST_PER_SECOND", "250")
    monkeypatch.setenv("WAYMARK_TICK_SECONDS", "0.5")
    monkeypatch.setenv("WAYMARK_SMTP_URL", "")
    settings = load_settings(var_dir=str(tmp_path))
    assert (settings.port, settings.dev_inbox, settings.max_ingest_per_second) == (9001, False, 250.0)
    assert (settings.tick_seconds, settings.smtp_url) == (0.5, None)


def test_a_wrong_value_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("WAYMARK_BATCH_SIZE", "lots")
    with pytest.raises(SettingsError, match="WAYMARK_BATCH_SIZE"):
        load_settings(var_dir=str(tmp_path))


def test_workers_use_the_configured_tick_concurrency(tmp_path, monkeypatch, engine):
    from backend.runtime.worker import Worker
    from backend.services import Services

    monkeypatch.setenv("WAYMARK_TICK_CONCURRENCY", "2")
    worker = Worker(Services.create(load_settings(var_dir=str(tmp_path)), engine=engine))
    assert worker.ticker.concurrent_batches == 2
