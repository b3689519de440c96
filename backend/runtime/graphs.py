"""Compiled journey versions, cached by version id. Versions are immutable, so the cache never goes
stale; only the set of *which* versions are live is read from the database each time."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable

import sqlalchemy as sa

from backend.db.models import JourneyVersion
from backend.engine.registry import Registry
from backend.engine.validation import CompiledGraph, GraphInvalid, compile_graph

log = logging.getLogger("waymark.runtime")


class GraphCache:
    def __init__(self, registry: Registry, size: int = 512) -> None:
        self.registry = registry
        self._size = size
        self._items: OrderedDict[int, CompiledGraph] = OrderedDict()
        self._broken: dict[int, GraphInvalid] = {}
        self._lock = threading.Lock()

    def get(self, conn: sa.Connection, version_id: int) -> CompiledGraph:
        """The compiled version; raises ``GraphInvalid`` when it cannot run in this process (e.g. a
        plugin block type it uses is not installed). A failure is remembered: the registry is fixed
        for the life of the process."""
        with self._lock:
            compiled = self._items.get(version_id)
            if compiled is not None:
                self._items.move_to_end(version_id)
                return compiled
            if version_id in self._broken:
                raise self._broken[version_id]
        graph = conn.execute(sa.select(JourneyVersion.graph).where(JourneyVersion.id == version_id)).scalar_one()
        try:
            # Published versions compile leniently: they were valid when published (see ``validate``).
            compiled = compile_graph(graph, self.registry, lenient=True)
        except GraphInvalid as exc:
            log.error(
                "journey version %s cannot run: %s",
                version_id,
                "; ".join(f"{p.pointer}: {p.message}" for p in exc.problems[:5]),
            )
            with self._lock:
                self._broken[version_id] = exc
            raise
        with self._lock:
            self._items[version_id] = compiled
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return compiled

    def runnable(
        self, conn: sa.Connection, versions: Iterable[tuple[int, int]]
    ) -> list[tuple[int, int, CompiledGraph]]:
        """(journey id, version id, compiled) for the versions that can run; the others are skipped
        (and logged once), so one broken journey never stops events reaching the rest."""
        out = []
        for journey_id, version_id in versions:
            try:
                out.append((journey_id, version_id, self.get(conn, version_id)))
            except GraphInvalid:
                continue
        return out

    def put(self, version_id: int, compiled: CompiledGraph) -> None:
        with self._lock:
            self._items[version_id] = compiled
