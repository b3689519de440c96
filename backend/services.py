"""Everything long-lived a process needs, built once and passed around explicitly."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from backend.clock import SYSTEM_CLOCK, Clock
from backend.config import Settings, load_settings
from backend.db.session import make_engine, make_sessionmaker, read_session
from backend.engine.registry import Registry, default_registry
from backend.runtime.graphs import GraphCache
from backend.runtime.signals import Waker


@dataclass
class Services:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    registry: Registry
    graphs: GraphCache
    clock: Clock = SYSTEM_CLOCK
    waker: Waker = field(default_factory=Waker)

    def reading(self) -> AbstractContextManager[Session]:
        """A session for GET handlers: never takes SQLite's write lock."""
        return read_session(self.engine)

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        *,
        engine: sa.Engine | None = None,
        clock: Clock | None = None,
        registry: Registry | None = None,
    ) -> Services:
        settings = settings or load_settings()
        engine = engine or make_engine(settings.database_url)
        registry = registry or default_registry()
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            registry=registry,
            graphs=GraphCache(registry),
            clock=clock or SYSTEM_CLOCK,
        )
