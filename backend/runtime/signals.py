"""Waking workers the moment there is work, instead of at the next poll.

In one process a ``threading.Event`` is enough. Across processes on PostgreSQL, ``NOTIFY`` inside the
transaction that created the work is delivered exactly when it commits, to every worker ``LISTEN``ing.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

CHANNEL = "waymark_work"


class Waker:
    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self, conn: sa.Connection | None = None) -> None:
        """Call inside the transaction that made work due (for NOTIFY) or after it (in-process)."""
        if conn is not None and conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke
