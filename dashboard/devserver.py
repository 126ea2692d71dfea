"""`dashboard dev`: the whole product on one machine, with no account anywhere.

One process, three servers: the app on PORT (SQLite under the data directory,
migrations applied, `staff@example.com` seeded as admin), oidc-provider-mock on
PORT+1 as every identity provider, and the WorkOS emulator on PORT+2, whose
state file sits beside the dev database and whose webhooks go to the app. The
app runs in the main thread, so Ctrl-C stops it and then the other two.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from dashboard.app import create_app
from dashboard.db import Database, create_db_engine
from dashboard.emulator import Faults, ThreadedServer, create_emulator
from dashboard.emulator.server import ServerStartError
from dashboard.logs import configure_logging
from dashboard.migrations import upgrade
from dashboard.services.dev_identity import DevIdentityError, dev_identity_register
from dashboard.settings import (
    DEV_WORKOS_API_KEY,
    DEV_WORKOS_CLIENT_ID,
    Settings,
    load_settings,
)
from dashboard.staff import staff_add

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
STAFF_EMAIL = "staff@example.com"
DEV_WEBHOOK_SECRET = "dev-webhook-secret"  # noqa: S105 (a development value, printed on purpose)
DEV_OIDC_CLIENT_SECRET = "dev-client-secret"  # noqa: S105 (the mock accepts any secret)
DEV_PROVIDER_LABEL = "Sign in with the development provider"


def _dev_secret(data_dir: Path) -> str:
    """A per-checkout secret, kept so sessions and setup URLs survive a restart."""
    path = data_dir / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def dev_environment(port: int, data_dir: Path) -> dict[str, str]:
    """Every setting `dashboard dev` gives the app: the three local servers wired together."""
    issuer = f"http://{HOST}:{port + 1}"
    return {
        "DATABASE_URL": f"sqlite:///{(data_dir / 'dev.db').resolve()}",
        "SECRET_KEY": _dev_secret(data_dir),
        "PUBLIC_URL": f"http://{HOST}:{port}",
        "WORKOS_API_KEY": DEV_WORKOS_API_KEY,
        "WORKOS_CLIENT_ID": DEV_WORKOS_CLIENT_ID,
        "WORKOS_BASE_URL": f"http://{HOST}:{port + 2}",
        "WORKOS_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
        "STAFF_OIDC_ISSUER": issuer,
        "STAFF_OIDC_CLIENT_ID": "dashboard-dev-staff",
        "STAFF_OIDC_CLIENT_SECRET": DEV_OIDC_CLIENT_SECRET,
        "ADMIN_OIDC_PROVIDERS": "dev",
        "ADMIN_OIDC_DEV_ISSUER": issuer,
        "ADMIN_OIDC_DEV_CLIENT_ID": "dashboard-dev-admin",
        "ADMIN_OIDC_DEV_CLIENT_SECRET": DEV_OIDC_CLIENT_SECRET,
        "ADMIN_OIDC_DEV_LABEL": DEV_PROVIDER_LABEL,
    }


def dev_settings(port: int, data_dir: Path) -> Settings:
    return load_settings(
        dev_environment(port, data_dir), env_file=None, development=True
    ).with_overrides(dev_mailbox=True)


def seed_staff(settings: Settings) -> None:
    """Make `staff@example.com` an admin, so the first sign-in just works."""
    db = Database(create_db_engine(settings.database_url))
    try:
        with db.session() as session:
            staff_add(session, STAFF_EMAIL, "admin")
    finally:
        db.dispose()


@contextmanager
def identity_provider(port: int) -> Iterator[str]:
    """oidc-provider-mock on loopback, with the staff user registered; yields its issuer."""
    from werkzeug.serving import make_server

    with warnings.catch_warnings():
        # It imports authlib.jose, which announces its own deprecation: not ours to fix.
        warnings.simplefilter("ignore")
        import oidc_provider_mock  # heavy (Flask, authlib): only `dev` needs it

    server = make_server(HOST, port, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.1,), name="identity", daemon=True
    )
    thread.start()
    issuer = f"http://{HOST}:{port}"
    try:
        dev_identity_register(issuer, STAFF_EMAIL)
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def emulator_server(port: int, data_dir: Path) -> ThreadedServer:
    """The WorkOS emulator, state beside the dev db, webhooks to the app."""
    app = create_emulator(
        data_dir / "workos-emulator.json",
        api_keys=(DEV_WORKOS_API_KEY,),
        client_id=DEV_WORKOS_CLIENT_ID,
        faults=Faults.from_env(),
        public_base_url=f"http://{HOST}:{port + 2}",
        webhook_url=f"http://{HOST}:{port}/webhooks/workos",
        webhook_secret=DEV_WEBHOOK_SECRET,
    )
    return ThreadedServer(app, host=HOST, port=port + 2)


def run_dev(port: int = 8000, data_dir: str = "var") -> int:
    configure_logging()
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    settings = dev_settings(port, directory)
    upgrade(settings.database_url)
    seed_staff(settings)
    app = create_app(settings)

    try:
        with identity_provider(port + 1) as issuer, emulator_server(port, directory):
            print(f"App:               http://{HOST}:{port}/orgs", flush=True)
            print(f"Identity provider: {issuer}", flush=True)
            print(f"WorkOS emulator:   http://{HOST}:{port + 2}", flush=True)
            print(f"Dev mailbox:       http://{HOST}:{port}/dev/mail", flush=True)
            print(
                f"Sign in as {STAFF_EMAIL} (type it as the subject at the provider). Ctrl-C stops everything.",
                flush=True,
            )
            uvicorn.run(
                app,
                host=HOST,
                port=port,
                log_config=None,
                access_log=False,
                server_header=False,
            )
    except OSError as exc:
        print(
            f"cannot start: {exc.strerror or exc} (ports {port}-{port + 2} must be free; try --port)",
            file=sys.stderr,
        )
        return 1
    except (DevIdentityError, ServerStartError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
