"""`waymark` command line: one process for everything (`run`), or the scale-out parts separately."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import secrets
import signal
import sys
import threading

from backend.config import SettingsError, load_settings
from backend.services import Services

log = logging.getLogger("waymark")


def _services() -> Services:
    return Services.create(load_settings())


def _migrate(services: Services) -> None:
    from backend.db.migrate import upgrade

    upgrade(services.engine)


def _freeze_heap() -> None:
    """Move everything built at start-up (models, the app, the block registry) out of the garbage
    collector's sight: otherwise each full collection walks it all again, ~10 ms every few hundred
    requests' worth of allocations, which showed as a third of a group commit's time."""
    gc.collect()
    gc.freeze()


def _address(args: argparse.Namespace, services: Services) -> tuple[str, int]:
    """``--host``/``--port``, else the settings (``WAYMARK_HOST``/``WAYMARK_PORT``)."""
    settings = services.settings
    return args.host or settings.host, args.port or settings.port


def _serve(services: Services, host: str, port: int, *, on_startup=None, on_shutdown=None) -> None:
    import uvicorn

    from backend.api.app import create_app

    app = create_app(services, on_startup=on_startup, on_shutdown=on_shutdown)
    _freeze_heap()
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True, access_log=False)


def cmd_run(args: argparse.Namespace) -> None:
    """API + SPA + scheduler + worker in one process, on SQLite under ./var by default."""
    from backend.runtime import scheduler as sched
    from backend.runtime.worker import Worker
    from backend.seed import credentials_path, seed_demo

    services = _services()
    _migrate(services)
    if not args.no_seed:
        created = seed_demo(services, password=os.environ.get("WAYMARK_DEMO_PASSWORD"))
        if created:
            print("\nCreated the demo workspace. Keep these; they are also in", credentials_path(services))
            print(created.render())
        elif credentials_path(services).exists():
            print("\nDemo credentials (from", str(credentials_path(services)) + "):")
            print(credentials_path(services).read_text())

    inbox = None
    if services.settings.smtp_url is None and services.settings.dev_inbox:
        from backend.channels.devinbox import start_dev_inbox

        inbox = start_dev_inbox(services.settings)
        print(f"No SMTP server configured: mail goes to the dev inbox in {services.settings.var_dir / 'mail'}")

    worker = Worker(services)
    scheduler = sched.background(services)

    def start() -> None:
        worker.start_thread()
        scheduler.start()

    def stop() -> None:
        scheduler.shutdown(wait=False)
        worker.stop()
        if inbox is not None:
            inbox.stop()

    host, port = _address(args, services)
    print(f"Waymark is running at http://{host}:{port}  (API docs: /schema)\n")
    _serve(services, host, port, on_startup=[start], on_shutdown=[stop])


def api_app():
    """The app of one ``waymark api --workers N`` process (each builds its own services and pool)."""
    from backend.api.app import create_app

    app = create_app(_services())
    _freeze_heap()
    return app


def cmd_api(args: argparse.Namespace) -> None:
    services = _services()
    host, port = _address(args, services)
    if args.workers <= 1:
        _serve(services, host, port)
        return
    import uvicorn

    # Several processes, one listening socket: each has its own event loop and its own group-commit
    # writer; SQLite (WAL) lets them take turns writing, PostgreSQL lets them write at once.
    uvicorn.run(
        "backend.cli:api_app",
        factory=True,
        workers=args.workers,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        access_log=False,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from backend.runtime.worker import Worker

    services = _services()
    workers = [Worker(services, name=f"worker-{i + 1}") for i in range(args.threads)]
    stopped = threading.Event()

    def shutdown(*_):
        stopped.set()
        for w in workers:
            w.stop_event.set()
        services.waker.notify()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    for w in workers:
        w.start_thread()
    stopped.wait()
    for w in workers:
        w.stop()


def cmd_scheduler(args: argparse.Namespace) -> None:
    from backend.runtime.scheduler import run_blocking

    run_blocking(_services())


def cmd_migrate(args: argparse.Namespace) -> None:
    _migrate(_services())
    print("database is up to date")


def cmd_seed(args: argparse.Namespace) -> None:
    from backend.seed import seed_demo

    services = _services()
    _migrate(services)
    created = seed_demo(services, password=args.password)
    if created is None:
        print("a workspace already exists; nothing seeded", file=sys.stderr)
        sys.exit(1)
    print(created.render())


def cmd_create_key(args: argparse.Namespace) -> None:
    from backend.workspaces import new_key, workspace_by_slug

    services = _services()
    with services.sessions.begin() as session:
        ws = workspace_by_slug(session, args.workspace)
        if ws is None:
            print(f"no workspace {args.workspace!r}", file=sys.stderr)
            sys.exit(1)
        _, plain = new_key(session, ws.id, args.kind, args.name)
    print(plain)


def cmd_create_user(args: argparse.Namespace) -> None:
    from backend.users import create_user
    from backend.workspaces import workspace_by_slug

    services = _services()
    with services.sessions.begin() as session:
        ws = workspace_by_slug(session, args.workspace)
        if ws is None:
            print(f"no workspace {args.workspace!r}", file=sys.stderr)
            sys.exit(1)
        create_user(session, args.email, args.password, args.name, workspace_id=ws.id, role=args.role)
    print(f"created {args.email} in {args.workspace}")


def cmd_reset_password(args: argparse.Namespace) -> None:
    """For the operator of someone locked out (or a leaked password): every session of the user ends."""
    from backend.users import set_password, user_by_email

    services = _services()
    password = args.password or secrets.token_urlsafe(12)
    with services.sessions.begin() as session:
        user = user_by_email(session, args.email)
        if user is None:
            print(f"no user {args.email!r}", file=sys.stderr)
            sys.exit(1)
        ended = set_password(session, user, password)
    print(f"new password for {user.email}: {password}" if not args.password else f"password changed for {user.email}")
    print(f"signed out of {ended} session(s)")


def _workspace_id(services: Services, slug: str) -> int:
    from backend.workspaces import workspace_by_slug

    with services.sessions.begin() as session:
        ws = workspace_by_slug(session, slug)
        if ws is None:
            print(f"no workspace {slug!r}", file=sys.stderr)
            sys.exit(1)
        return ws.id


def cmd_import(args: argparse.Namespace) -> None:
    """Import a CSV file of contacts the way the web app does (same mapping, same report), in this process."""
    import csv
    from pathlib import Path

    from backend.contacts import exports, imports
    from backend.errors import Refused

    services = _services()
    workspace_id = _workspace_id(services, args.workspace)
    source = Path(args.file)
    if not source.is_file():
        sys.exit(f"waymark: no file {args.file}")

    def refused(exc: Refused) -> None:
        print(f"waymark: {exc.title}", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue.pointer or '/'}: {issue.message}", file=sys.stderr)
        sys.exit(1)

    try:
        job_id = imports.create(services, workspace_id, imports.copy_in(source, services), source.name)
        with services.engine.connect() as conn:
            job = imports.get(conn, workspace_id, job_id)
        mapping = imports.mapping_of(job)
        overrides = {}
        for spec in args.map or ():
            column, sep, target = spec.partition("=")
            if not sep:
                sys.exit(f"waymark: --map {spec!r}: use COLUMN=TARGET, e.g. --map 'E-mail=email'")
            overrides[column.strip()] = target.strip()
        mapping = [
            imports.MappingEntry(column=m.column, target=overrides.get(m.column, m.target), type=m.type)
            for m in mapping
        ]
        for m in mapping:
            print(f"  {m.column!r:30} -> {m.target}")
        if args.dry_run:
            with services.engine.connect() as conn:
                rows = imports.preview(conn, workspace_id, job, mapping)
            for row in rows:
                problems = "; ".join(f"{p.column or 'row'}: {p.reason}" for p in row.problems)
                print(f"row {row.row}: {row.action} {problems or row.values}")
            imports.cancel(services, workspace_id, job_id)
            return
        imports.start(services, workspace_id, job_id, mapping)
    except Refused as exc:
        refused(exc)

    def progress(job) -> None:
        percent = int(min(job.offset, job.bytes_total) * 100 / max(job.bytes_total, 1))
        print(f"\r{percent:3d}%  {job.rows_done} rows", end="", file=sys.stderr, flush=True)

    imports.run_to_end(services, job_id, progress)
    with services.engine.connect() as conn:
        job = imports.get(conn, workspace_id, job_id)
        errors = imports.errors(conn, job_id)
    print(file=sys.stderr)
    print(f"{job.status}: {job.created} created, {job.updated} updated, {job.failed} rows refused")
    if job.message:
        print(job.message, file=sys.stderr)
    if args.errors:
        with open(args.errors, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["row", "column", "value", "reason"])
            writer.writerows(
                [e.row, exports.neutralise(e.column), exports.neutralise(e.value), e.reason] for e in errors
            )
    else:
        for e in errors[:20]:
            print(f"  row {e.row}, {e.column or 'row'}: {e.value!r} {e.reason}")
        if len(errors) > 20:
            print(f"  … and {len(errors) - 20} more (write them all with --errors report.csv)")
    if job.status != "done":
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="waymark", description="Self-hosted journey builder")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def serving(p: argparse.ArgumentParser) -> None:
        # Defaults come from the settings when the command runs, not here: building the parser (and so
        # `--help`) must neither write var/secret_key nor fail on a bad WAYMARK_* variable.
        p.add_argument("--host", help="default: WAYMARK_HOST, else 127.0.0.1")
        p.add_argument("--port", type=int, help="default: WAYMARK_PORT, else 8000")

    run = sub.add_parser("run", help="everything in one process (migrate, seed, serve, schedule, work)")
    serving(run)
    run.add_argument("--no-seed", action="store_true", help="do not create the demo workspace")
    run.set_defaults(func=cmd_run)

    api = sub.add_parser("api", help="serve the API and the web app only")
    serving(api)
    api.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WAYMARK_API_WORKERS", "1")),
        help="processes serving the API (default 1; e.g. one per core)",
    )
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="advance journeys and deliver messages")
    worker.add_argument("--threads", type=int, default=1)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("scheduler", help="fire ticks and scheduled jobs (run exactly one)").set_defaults(func=cmd_scheduler)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed", help="create the demo workspace in an empty database")
    seed.add_argument("--password", help="owner password (default: random)")
    seed.set_defaults(func=cmd_seed)

    key = sub.add_parser("create-key", help="create an API key and print it")
    key.add_argument("--workspace", default="demo")
    key.add_argument("--kind", choices=["write", "admin"], default="admin")
    key.add_argument("--name", default="")
    key.set_defaults(func=cmd_create_key)

    user = sub.add_parser("create-user", help="create a user who can sign in")
    user.add_argument("--workspace", default="demo")
    user.add_argument("--email", required=True)
    user.add_argument("--password", required=True)
    user.add_argument("--name", default="")
    user.add_argument("--role", choices=["owner", "editor", "viewer"], default="editor")
    user.set_defaults(func=cmd_create_user)

    imp = sub.add_parser("import", help="import contacts from a CSV file (re-import updates, never duplicates)")
    imp.add_argument("file", help="CSV file: UTF-8 (with or without BOM), ',' ';' or tab between cells")
    imp.add_argument("--workspace", default="demo")
    imp.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=TARGET",
        help="override a guessed target: email, external_id, tags, consent.email, trait.plan, subscription.end_at,"
        " ignore … (repeatable)",
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="show the first rows as they would be stored; write nothing"
    )
    imp.add_argument("--errors", metavar="REPORT.csv", help="write every refused row (row, column, value, reason)")
    imp.set_defaults(func=cmd_import)

    reset = sub.add_parser("reset-password", help="set a user's password and sign them out everywhere")
    reset.add_argument("email")
    reset.add_argument("--password", help="the new password (default: a random one, printed)")
    reset.set_defaults(func=cmd_reset_password)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # A tick every second and an SMTP conversation per message are not news.
        for noisy in ("apscheduler", "mail.log", "alembic", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        args.func(args)
    except SettingsError as exc:
        sys.exit(f"waymark: {exc}")


if __name__ == "__main__":
    main()
