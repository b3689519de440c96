"""A worker that stops dead at a chosen point, for the crash tests (not part of Waymark).

    python tests/delivery/crash_worker.py MODE --marker PATH --now ISO-TIME

MODE is ``tick`` (stop inside the tick's transaction, right after claiming enrollments),
``dispatch-after-claim`` (after the outbox claim committed, before rendering) or
``dispatch-after-send`` (after the provider accepted a message, before the outcome is recorded).
At that point it writes ``PATH`` and sleeps; the test then kills it with SIGKILL.

MODE ``deliver`` is a plain dispatcher on the wall clock (``--now`` is ignored): it writes ``PATH``
when it starts, delivers until no message is waiting or claimed any more, then exits 0 — unless the
repeated-kill test (tests/delivery/kill_harness.py) kills it at a random moment first. Settings come from
the environment (``WAYMARK_DATABASE_URL``, ``WAYMARK_SMTP_URL``, …) like any Waymark process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.clock import MovableClock
from backend.config import load_settings
from backend.runtime.outbox import Dispatcher
from backend.runtime.tick import Ticker
from backend.services import Services


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["tick", "dispatch-after-claim", "dispatch-after-send", "deliver"])
    parser.add_argument("--marker", required=True)
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    marker = Path(args.marker)
    if args.mode == "deliver":
        return deliver(Services.create(load_settings()), marker)
    services = Services.create(load_settings(), clock=MovableClock(datetime.fromisoformat(args.now)))

    def stop_here(what: str, detail: object) -> None:
        marker.write_text(json.dumps({"pid": os.getpid(), "at": what, "detail": detail}, default=str))
        time.sleep(300)  # the test kills us here
        raise SystemExit(4)

    if args.mode == "tick":
        ticker = Ticker(services.engine, services.graphs, services.clock)
        ticker.after_claim = lambda ids: stop_here("tick claimed", ids)
        ticker.run_until_idle()
    else:
        dispatcher = Dispatcher(services)
        if args.mode == "dispatch-after-claim":
            dispatcher.after_claim = lambda rows: stop_here("outbox claimed", [r.id for r in rows])
        else:
            dispatcher.after_send = lambda job, result: stop_here("provider answered", [job.id, result.outcome])
        dispatcher.run_once()
    return 3  # the hook never ran: the test fails waiting for the marker


def deliver(services: Services, marker: Path) -> int:
    import sqlalchemy as sa

    dispatcher = Dispatcher(services)
    marker.write_text(json.dumps({"pid": os.getpid(), "at": "started"}))
    while True:
        if dispatcher.run_once(limit=int(os.environ.get("CRASH_CLAIM", "200"))):
            continue
        with services.engine.connect() as conn:
            left = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")).scalar()
        if not left:
            return 0
        time.sleep(0.05)  # rows a killed worker claimed: due again when their lease lapses


if __name__ == "__main__":
    sys.exit(main())
