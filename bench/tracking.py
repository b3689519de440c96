"""What tracking adds to rendering one email (the sending hot path): the click-link rewrite, the open
pixel, the unsubscribe footer and headers, next to the Jinja render of the same message.

    .venv/bin/python bench/tracking.py [--messages 5000] [--links 12]

Prints CPU microseconds per message (best of the rounds) for: render only; render + tracking (marketing: links, pixel,
footer, headers); the tracking step alone; and the HTML size. Runs in-process, no database, no SMTP:
it isolates the per-message CPU cost that the dispatcher pays on top of rendering.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from backend.config import load_settings
from backend.engine.sdk import Contact
from backend.templates.render import CompiledTemplate, build_context
from backend.templates.service import compile_channels
from backend.tracking.links import Tracker
from backend.tracking.signing import new_public_id


def newsletter(links: int) -> str:
    items = "\n".join(
        f"""<mj-section><mj-column>
  <mj-image src="https://cdn.acme.test/p/{i}.jpg"
    href="https://acme.test/p/{i}?utm_source=mail&amp;c={{{{ contact.id }}}}" />
  <mj-text>Item {i} for {{{{ contact.first_name | default("you") }}}}: <a href="https://acme.test/i/{i}">details</a></mj-text>
</mj-column></mj-section>"""
        for i in range(max(0, links - 2) // 2)
    )
    return f"""<mjml><mj-body>
<mj-section><mj-column><mj-text>Hello {{{{ contact.first_name | default("friend") }}}},</mj-text>
<mj-text>Your {{{{ event.properties.plan | default("free") }}}} plan is waiting.</mj-text>
<mj-button href="https://acme.test/finish?c={{{{ contact.id }}}}">Finish registration</mj-button>
</mj-column></mj-section>
{items}
<mj-section><mj-column><mj-text><a href="mailto:help@acme.test">Help</a> ·
<a href="https://acme.test/privacy">Privacy</a></mj-text></mj-column></mj-section>
</mj-body></mjml>"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--links", type=int, default=12, help="roughly how many links the email has")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    channels = {"email": {"subject": "Hi {{ contact.first_name }}", "mjml": newsletter(args.links)}}
    compiled, problems = compile_channels(channels)
    assert not problems, problems
    template = CompiledTemplate(1, "news", channels, compiled)
    settings = load_settings(secret_key="b" * 48, var_dir="/tmp/waymark-bench-tracking", dev_inbox=False)
    tracker = Tracker(settings)
    now = datetime.now(UTC)
    contacts = [
        Contact(id=i, email=f"user{i}@example.com", attributes={"first_name": f"User{i}"}, locale="en")
        for i in range(args.messages)
    ]
    ids = [new_public_id() for _ in contacts]
    contexts = [
        build_context(c, journey_context={"event": {"properties": {"plan": "Pro"}}}, now=now, message={"id": pid})
        for c, pid in zip(contacts, ids, strict=True)
    ]
    rendered = [template.render("email", ctx).fields for ctx in contexts[:10]]  # warm up
    links = len(tracker.email(rendered[0], ids[0], marketing=True, locale="en").links)

    def render_only() -> None:
        for ctx in contexts:
            template.render("email", ctx)

    def render_and_track() -> None:
        for ctx, pid in zip(contexts, ids, strict=True):
            tracker.email(template.render("email", ctx).fields, pid, marketing=True, locale="en")

    fields = [template.render("email", ctx).fields for ctx in contexts]

    def track_only() -> None:
        for f, pid in zip(fields, ids, strict=True):
            tracker.email(f, pid, marketing=True, locale="en")

    results: dict[str, list[float]] = {"render": [], "both": [], "alone": []}
    for _ in range(args.rounds):  # interleaved, CPU time of this process: fair on a busy machine
        for name, fn in (("render", render_only), ("both", render_and_track), ("alone", track_only)):
            started = time.process_time()
            fn()
            results[name].append((time.process_time() - started) / args.messages * 1e6)
    base, both, alone = (min(results[name]) for name in ("render", "both", "alone"))
    print(
        f"messages: {args.messages} × {args.rounds} rounds, {links} tracked links, {len(fields[0]['html'])} bytes HTML"
    )
    print(f"render only:            {base:8.1f} µs/message")
    print(f"render + tracking:      {both:8.1f} µs/message  (+{both - base:.1f} µs, +{(both - base) / base:.0%})")
    print(f"tracking step alone:    {alone:8.1f} µs/message  ({1e6 / alone:,.0f} messages/s on one core)")


if __name__ == "__main__":
    main()
