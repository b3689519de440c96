"""Shared fixtures. Every database test runs on SQLite and, when WAYMARK_TEST_DATABASE_URL is set, on
PostgreSQL as well (the ``db_url`` fixture is parametrised over both)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from backend.clock import MovableClock
from backend.db.migrate import upgrade
from backend.db.models import Base
from backend.db.session import make_engine, make_sessionmaker
from backend.engine.registry import default_registry
from backend.workspaces import NewWorkspace, create_workspace

# The tests' SMTP servers listen on 127.0.0.1; a workspace's SMTP provider may reach private addresses
# only when the operator allows it (tests/providers/test_smtp_private.py checks the refusal).
os.environ["WAYMARK_ALLOW_PRIVATE_SMTP"] = "1"

PG_URL = os.environ.get("WAYMARK_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file, copied per test (migrating per test would dominate the run time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return str(path)


def _admin_engine() -> sa.Engine:
    return make_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _drop_database(conn, name: str) -> None:
    conn.exec_driver_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def pg_url(worker_id) -> Iterator[str]:
    """A PostgreSQL database of this test process's own (migrated once), dropped at the end: concurrent
    test runs against one server never share or clobber each other's databases."""
    base = sa.make_url(PG_URL)
    name = f"{base.database}_{worker_id}_{os.getpid()}"
    admin = _admin_engine()
    with admin.connect() as conn:
        _drop_database(conn, name)
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        _drop_database(conn, name)
    admin.dispose()


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


def _truncate_all(url: str) -> None:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "waymark.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(db_url) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def registry():
    return default_registry()


@pytest.fixture
def workspace(sessions) -> NewWorkspace:
    with sessions.begin() as session:
        return create_workspace(session, "acme", "Acme Inc.")


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on a free local port; ``smtp_server.messages`` is what it accepted,
    ``smtp_server.url`` is an ``smtp://`` URL for ``settings.smtp_url`` (see tests/smtp_sink.py)."""
    from tests.smtp_sink import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()
