"""The `dashboard` command: dev, serve, db upgrade, staff add, and the operators' tools."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dashboard.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)


def _settings(development: bool = False) -> Settings:
    try:
        return load_settings(development=development)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    from dashboard.logs import configure_logging

    configure_logging()
    uvicorn.run(
        "dashboard.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from dashboard.devserver import run_dev

    return run_dev(port=args.port, data_dir=args.data_dir)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from dashboard.migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    print("database is at the latest migration")
    return 0


def cmd_staff_add(args: argparse.Namespace) -> int:
    from dashboard.db import Database, create_db_engine
    from dashboard.staff import StaffError, staff_add

    settings = _settings()
    db = Database(create_db_engine(settings.database_url))
    try:
        with db.session() as session:
            staff = staff_add(session, args.email, args.role)
    except StaffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"{staff.email} is staff with role {staff.role}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import asyncio

    from dashboard.doctor import doctor_run, doctor_settings
    from dashboard.logs import configure_logging

    configure_logging(logging.ERROR)  # the report says it all; no warnings in between
    settings, results = doctor_settings()
    if settings is not None:
        results += asyncio.run(doctor_run(settings))
    for result in results:
        print(result.line())
    failed = sum(not r.ok for r in results)
    print(f"{len(results)} checks, {failed} failed")
    return 1 if failed else 0


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib

    from dashboard.logs import configure_logging
    from dashboard.worker import worker_run

    settings = _settings()
    configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker_run(settings))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dashboard.import_terminal import import_from_terminal

    return import_from_terminal(
        _settings(),
        Path(args.file),
        skip_invalid=args.skip_invalid,
        as_email=args.as_email,
        out=sys.stdout,
        err=sys.stderr,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser(
        "dev", help="run the app, identity provider and WorkOS emulator locally"
    )
    dev.add_argument(
        "--port", type=int, default=8000, help="app port; provider +1, emulator +2"
    )
    dev.add_argument(
        "--data-dir",
        default="var",
        help="where the dev database and emulator state live",
    )
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="run the production server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="TASK")
    db_sub.add_parser("upgrade", help="apply every pending migration").set_defaults(
        func=cmd_db_upgrade
    )

    staff = sub.add_parser("staff", help="manage who may use the staff pages")
    staff_sub = staff.add_subparsers(
        dest="staff_command", required=True, metavar="TASK"
    )
    add = staff_sub.add_parser("add", help="allow EMAIL in, or change their role")
    add.add_argument("email")
    add.add_argument("--role", choices=["admin", "member"], required=True)
    add.set_defaults(func=cmd_staff_add)

    doctor = sub.add_parser(
        "doctor", help="check configuration and reachability, one line per check"
    )
    doctor.set_defaults(func=cmd_doctor)

    bulk = sub.add_parser(
        "import", help="create organizations (and invites) from a CSV file"
    )
    bulk.add_argument(
        "file",
        help="CSV: name, external id, domains, features, IT admin emails, send invite",
    )
    bulk.add_argument(
        "--skip-invalid",
        action="store_true",
        help="create the valid rows even when some rows are invalid",
    )
    bulk.add_argument(
        "--as",
        dest="as_email",
        metavar="EMAIL",
        help="staff member recorded as the creator (default: the system)",
    )
    bulk.set_defaults(func=cmd_import)

    worker = sub.add_parser(
        "worker",
        help="send queued email, poll WorkOS events, send due reminders (when not run inside `serve`)",
    )
    worker.set_defaults(func=cmd_worker)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
