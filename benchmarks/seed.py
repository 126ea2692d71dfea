"""Bulk-load a migrated database with a realistic customer base for the benchmarks.

100,000 organizations, 300,000 domains, their features, setup links and
invitees, inserted in large batches through SQLAlchemy Core (so the column
types convert values exactly as the app's own writes do). A marker row keeps
a seeded database from being loaded twice.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from dashboard import models
from dashboard.db import create_db_engine, normalize_url
from dashboard.migrations import alembic_config, upgrade

log = logging.getLogger(__name__)

BENCH_STAFF_EMAIL = "bench-admin@example.com"
SEED_MARKER = "bench_seed"

WORDS = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
    "soylent",
    "hooli",
    "pied",
    "piper",
    "vandelay",
    "kramerica",
    "monarch",
    "oscorp",
    "aperture",
    "black",
    "mesa",
    "nakatomi",
    "gringotts",
    "dunder",
    "mifflin",
    "sterling",
    "cooper",
    "massive",
    "dynamic",
    "wernham",
    "prestige",
    "bluth",
    "duff",
    "krusty",
    "virtucon",
    "rekall",
    "weyland",
    "yutani",
    "zorg",
    "nimbus",
    "northwind",
    "contoso",
    "fabrikam",
    "tailspin",
    "litware",
    "adatum",
    "proseware",
    "wingtip",
    "alpine",
    "coho",
    "fourth",
    "coffee",
    "margie",
    "lucerne",
    "trey",
    "woodgrove",
]
SUFFIXES = ("Inc", "Ltd", "GmbH", "Labs", "Systems", "Group", "Corp", "Holdings")
STATES = models.SETUP_STATES
INTENTS = ("sso", "dsync", "audit_logs", "domain_verification")


@dataclass(frozen=True)
class SeedSize:
    organizations: int = 100_000
    domains_per_organization: int = 3

    def marker(self, database_url: str) -> str:
        """Changes with the size and with the migrations' text, so any schema change
        (a new migration, or an unreleased one edited in place) reseeds from scratch."""
        script = ScriptDirectory.from_config(alembic_config(database_url))
        digest = hashlib.sha256()
        for path in sorted(Path(script.versions).glob("*.py")):
            digest.update(path.read_bytes())
        return f"v3:{self.organizations}:{self.domains_per_organization}:{digest.hexdigest()[:16]}"


def _stored_marker(database_url: str) -> str | None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT value FROM key_value WHERE key = :key"),
                {"key": SEED_MARKER},
            ).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def _wipe(database_url: str) -> None:
    """Start from an empty database, so edited migrations apply in full."""
    url = sa.engine.make_url(normalize_url(database_url))
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def organization_name(index: int, rng: random.Random) -> str:
    first = rng.choice(WORDS).title()
    second = rng.choice(WORDS).title()
    return f"{first} {second} {rng.choice(SUFFIXES)} {index}"


def _batches(
    rows: Iterator[dict[str, Any]], size: int
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows(size: SeedSize, staff_id: int) -> dict[str, Iterator[dict[str, Any]]]:
    """Generators per table; ids are explicit so children can point at parents."""
    rng = random.Random(20240601)
    now = datetime.now(UTC)
    orgs: list[tuple[int, str, str, datetime]] = []
    for i in range(1, size.organizations + 1):
        state = rng.choice(STATES)
        orgs.append(
            (
                i,
                organization_name(i, rng),
                state,
                now - timedelta(minutes=rng.randint(0, 60 * 24 * 60)),
            )
        )

    def organizations() -> Iterator[dict[str, Any]]:
        for i, name, state, at in orgs:
            yield {
                "id": i,
                "name": name,
                "name_key": name.lower(),
                "external_id": f"ext-{i:06d}",
                "workos_id": f"org_bench{i:08d}",
                "setup_state": state,
                "last_step_at": None if state == "not_invited" else at,
                "created_at": at,
                "updated_at": at,
                "created_by_id": staff_id,
            }

    def slug(name: str) -> str:
        return "-".join(name.lower().split()[:2])

    def domains() -> Iterator[dict[str, Any]]:
        next_id = 1
        for i, name, _, at in orgs:
            for j in range(size.domains_per_organization):
                yield {
                    "id": next_id,
                    "organization_id": i,
                    "domain": f"{slug(name)}-{i}-{j}.example.com",
                    "workos_id": f"org_domain_bench{next_id:08d}",
                    "state": "verified" if j == 0 else "pending",
                    "created_at": at,
                }
                next_id += 1

    def features() -> Iterator[dict[str, Any]]:
        next_id = 1
        for i, _, state, at in orgs:
            for intent in INTENTS[: 1 + i % 3]:
                yield {
                    "id": next_id,
                    "organization_id": i,
                    "intent": intent,
                    "state": state,
                    "state_changed_at": at,
                    "done_at": at if state == "done" else None,
                    "detail": "",
                }
                next_id += 1

    invited = [o for o in orgs if o[2] != "not_invited"]

    def links() -> Iterator[dict[str, Any]]:
        for n, (i, _, _, at) in enumerate(invited, start=1):
            yield {
                "id": n,
                "public_id": secrets.token_urlsafe(16),
                "organization_id": i,
                "status": "active",
                "features": list(INTENTS[: 1 + i % 3]),
                "created_at": at,
                "created_by_id": staff_id,
                "expires_at": now + timedelta(days=14),
            }

    def invitees() -> Iterator[dict[str, Any]]:
        for n, (i, name, _, _) in enumerate(invited, start=1):
            email = f"it.admin{i}@{slug(name)}-{i}-0.example.com"
            yield {
                "id": n,
                "setup_link_id": n,
                "email": email,
                "email_key": email,
            }

    return {
        "organization": organizations(),
        "domain": domains(),
        "organization_feature": features(),
        "setup_link": links(),
        "invitee": invitees(),
    }


def seed(database_url: str, size: SeedSize = SeedSize()) -> float:
    """Migrate and load `database_url` unless it already holds this seed; seconds spent."""
    started = time.perf_counter()
    marker = size.marker(database_url)
    if _stored_marker(database_url) == marker:
        return 0.0
    _wipe(database_url)
    upgrade(database_url)
    engine = create_db_engine(database_url)
    try:
        tables = SQLModel.metadata.tables
        with engine.begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())
            staff_id = connection.execute(
                tables["staff"]
                .insert()
                .values(
                    email=BENCH_STAFF_EMAIL,
                    role="admin",
                    name="Bench Admin",
                    created_at=datetime.now(UTC),
                )
                .returning(tables["staff"].c.id)
            ).scalar_one()
            for name, rows in _rows(size, staff_id).items():
                for batch in _batches(rows, 5_000):
                    connection.execute(tables[name].insert(), batch)
            connection.execute(
                tables["key_value"]
                .insert()
                .values(key=SEED_MARKER, value=marker, updated_at=datetime.now(UTC))
            )
            if connection.dialect.name == "postgresql":
                for name in (
                    "organization",
                    "domain",
                    "organization_feature",
                    "setup_link",
                    "invitee",
                ):
                    connection.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 (fixed table names)
                            f"(SELECT MAX(id) FROM {name}))"
                        )
                    )
        with engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def bench_staff_id(database_url: str) -> int:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            table = SQLModel.metadata.tables["staff"]
            value = connection.execute(
                sa.select(table.c.id).where(table.c.email == BENCH_STAFF_EMAIL)
            ).scalar_one()
    finally:
        engine.dispose()
    return int(value)


def postgres_bench_database(server_url: str, name: str = "dashboard_bench") -> str:
    """Create (once) a dedicated database next to `server_url`'s and return its URL."""
    url = sa.engine.make_url(normalize_url(server_url))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": name},
            ).scalar()
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
