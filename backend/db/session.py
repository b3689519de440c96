"""Engine and session factory. SQLite is tuned for one writer with many readers (WAL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker


def _json_dumps(value) -> str:
    return msgspec.json.encode(value).decode()


def make_engine(url: str, **kwargs) -> sa.Engine:
    url_obj = sa.make_url(url)
    if url_obj.drivername == "postgresql":
        url_obj = url_obj.set(drivername="postgresql+psycopg")
    options: dict = {"json_serializer": _json_dumps, "json_deserializer": msgspec.json.decode}
    if url_obj.get_backend_name() == "sqlite":
        if url_obj.database and url_obj.database != ":memory:":
            Path(url_obj.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif "poolclass" not in kwargs:
        options.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    options.update(kwargs)
    engine = sa.create_engine(url_obj, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions start (see _sqlite_begin_immediate).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def _sqlite_begin_immediate(conn) -> None:
    """Take SQLite's write lock at the start of every transaction. A deferred transaction that reads
    and later writes can fail with "database is locked" when another writer got in between; waiting
    up front (busy_timeout) is what makes concurrent API requests and ticks safe."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if not conn.info.get("read_only") else "BEGIN")


@contextmanager
def read_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads only: on SQLite its transactions start with a plain BEGIN instead of taking
    the write lock, so reads never queue behind a long write (a tick batch, a big import)."""
    with engine.connect() as conn:
        conn.info["read_only"] = True
        try:
            yield conn
        finally:
            conn.info.pop("read_only", None)


@contextmanager
def read_session(engine: sa.Engine) -> Iterator[Session]:
    """An ORM session over :func:`read_connection` (for GET handlers)."""
    with read_connection(engine) as conn, Session(bind=conn) as session:
        yield session


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session
