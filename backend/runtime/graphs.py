"""Compiled journey versions, cached by version id. Versions are immutable, so the cache never goes
stale; only the set of *which* versions are live is read from the database each time."""

from __future__ import annotations

import threading
from collections import OrderedDict

import sqlalchemy as sa

from backend.db.models import JourneyVersion
from backend.engine.registry import Registry
from backend.engine.validation import CompiledGraph, compile_graph


class GraphCache:
    def __init__(self, registry: Registry, size: int = 512) -> None:
        self.registry = registry
        self._size = size
        self._items: OrderedDict[int, CompiledGraph] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: sa.Connection, version_id: int) -> CompiledGraph:
        with self._lock:
            compiled = self._items.get(version_id)
            if compiled is not None:
                self._items.move_to_end(version_id)
                return compiled
        graph = conn.execute(sa.select(JourneyVersion.graph).where(JourneyVersion.id == version_id)).scalar_one()
        # Published versions compile leniently: they were valid when published (see ``validate``).
        compiled = compile_graph(graph, self.registry, lenient=True)
        with self._lock:
            self._items[version_id] = compiled
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return compiled

    def put(self, version_id: int, compiled: CompiledGraph) -> None:
        with self._lock:
            self._items[version_id] = compiled
