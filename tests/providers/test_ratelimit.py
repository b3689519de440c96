"""Provider rate limits hold across workers: the send budget lives in the database."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import timedelta

from backend.channels.ratelimit import SendBudget, capacity, window_length
from backend.runtime.outbox import Dispatcher
from tests.factories import add_contact
from tests.providers.conftest import add_provider, make_template, outbox_row, queue


def fits_in_windows(arrivals: list[float], rate: int, noise: float = 0.15) -> bool:
    """At most ``rate`` sends per one-second window. The fake server shares this process (and its
    GIL) with both workers, so its arrival stamps can lag a hand-off by a little: a message stamped
    within ``noise`` after a boundary may count for the window before, when that one has room."""
    used: Counter[int] = Counter()
    for at in arrivals:
        window = int(at)
        if at - window < noise and used[window - 1] < rate:
            window -= 1
        used[window] += 1
        if used[window] > rate:
            return False
    return True


def test_budgets_of_several_workers_share_one_window(engine):
    budgets = [SendBudget(engine) for _ in range(4)]

    async def take(budget: SendBudget) -> int:
        times, _ = await budget.lease("provider:1", 10.0, 6)
        return len(times)

    async def all_of_them() -> list[int]:
        return await asyncio.gather(*(take(b) for b in budgets))

    granted = asyncio.run(all_of_them())
    # One window (or two, if the run straddled a boundary) of 10.
    assert 10 <= sum(granted) <= 20, granted
    assert capacity(10.0) == 10 and window_length(10.0) == 1.0
    assert capacity(0.2) == 1 and window_length(0.2) == 5.0


def test_two_workers_never_exceed_the_rate_and_deliver_everything_once(services, workspace, twilio):
    config = {"account_sid": "AC123", "auth_token": "tok-secret", "from": "+1500", "base_url": twilio.base_url}
    add_provider(services, workspace.id, "twilio", "sms", config, rate_per_second=4)
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi {{ contact.id }}"}})
    ids = []
    for n in range(14):
        contact = add_contact(services.sessions, workspace.id, phone=f"+4860010{n:04d}")
        ids.append(queue(services, workspace.id, contact, "sms", "code"))

    def worker() -> None:
        dispatcher = Dispatcher(services)
        for _ in range(40):
            dispatcher.run_once(limit=6)
            if all(outbox_row(services.engine, i)["status"] == "sent" for i in ids):
                return
            services.clock.advance(timedelta(seconds=1))
            time.sleep(0.3)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    bodies = [c.form["Body"] for c in twilio.messages]
    assert len(bodies) == len(set(bodies)) == 14  # each once
    assert fits_in_windows(sorted(c.at for c in twilio.messages), 4), sorted(c.at for c in twilio.messages)
    rows = [outbox_row(services.engine, i) for i in ids]
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows)  # deferral used no attempt
