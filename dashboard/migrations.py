"""Runs the Alembic migrations from code: `dashboard db upgrade`, tests and `dev`."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from dashboard.db import create_db_engine, normalize_url

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = normalize_url(database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree (Alembic's `check`)."""
    command.check(alembic_config(database_url))


def pending(database_url: str) -> list[str]:
    """Revisions not yet applied; empty when the database is at head."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    engine = create_db_engine(database_url, pool=False)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    applied = {rev.revision for rev in script.iterate_revisions(tuple(current), "base")}
    return [
        rev.revision for rev in script.walk_revisions() if rev.revision not in applied
    ]
