"""`dashboard dev`: the whole product on one machine, with no account anywhere."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import uvicorn

from dashboard.app import create_app
from dashboard.logs import configure_logging
from dashboard.migrations import upgrade
from dashboard.settings import DEV_WORKOS_API_KEY, DEV_WORKOS_CLIENT_ID, load_settings

log = logging.getLogger(__name__)


def _dev_secret(data_dir: Path) -> str:
    """A per-checkout secret, kept so sessions and setup URLs survive a restart."""
    path = data_dir / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def dev_environment(port: int, data_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{(data_dir / 'dev.db').resolve()}",
        "SECRET_KEY": _dev_secret(data_dir),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WORKOS_API_KEY": DEV_WORKOS_API_KEY,
        "WORKOS_CLIENT_ID": DEV_WORKOS_CLIENT_ID,
        "WORKOS_BASE_URL": f"http://127.0.0.1:{port + 2}",
    }


def run_dev(port: int = 8000, data_dir: str = "var") -> int:
    configure_logging()
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        dev_environment(port, directory), env_file=None, development=True
    )
    upgrade(settings.database_url)
    app = create_app(settings)
    print(f"App:      http://127.0.0.1:{port}/orgs", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    return 0
