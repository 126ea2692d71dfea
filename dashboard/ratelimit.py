"""Fixed-window rate limits per client address and route, counted in the database.

The count lives in `rate_limit_hit`, so every app process shares it; one
upsert per request both counts and reads. Used on the IT admin's routes so
setup tokens cannot be probed at speed.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from dashboard.db import Database
from dashboard.errors import render_error
from dashboard.models import RateLimitHit, utcnow
from dashboard.runtime import runtime
from dashboard.settings import Settings

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

SCOPES = ("setup_page", "sign_in", "portal")
"""The limited routes; each has a `rate_limit_<scope>` setting."""


def window_start(now: datetime, window_seconds: int) -> datetime:
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % window_seconds, UTC)


def rate_limit_hit(
    session: Session,
    key: str,
    *,
    limit: int,
    window_seconds: int,
    now: datetime | None = None,
) -> int | None:
    """Count one request for `key`; None if allowed, else seconds until the window ends."""
    when = now or utcnow()
    start = window_start(when, window_seconds)
    table = RateLimitHit.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # A counter may lose its last hits in a database crash; it need not
        # wait for the disk, which would double the cost of a setup click.
        session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    statement = (
        insert.values(key=key, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": table.c.count + 1},
        )
        .returning(table.c.count)
    )
    count = int(session.execute(statement).scalar_one())
    if count == 1:
        # A new window for this key: its earlier windows are dead weight.
        session.execute(
            sa.delete(table).where(table.c.key == key, table.c.window_start < start)
        )
    if count <= limit:
        return None
    ends = start + timedelta(seconds=window_seconds)
    return max(1, math.ceil((ends - when).total_seconds()))


def rate_limit_prune(session: Session, *, older_than_seconds: int = 3600) -> int:
    """Delete windows of clients that never came back; for a periodic job."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    table = RateLimitHit.__table__  # type: ignore[attr-defined]
    result = session.execute(sa.delete(table).where(table.c.window_start < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def scope_limit(settings: Settings, scope: str) -> int:
    value: int = getattr(settings, f"rate_limit_{scope}")
    return value


def client_address(request: Request) -> str:
    """The caller's address; `serve` has uvicorn apply trusted proxy headers first."""
    return request.client.host if request.client else "unknown"


def rate_limited(scope: str) -> Callable[[Endpoint], Endpoint]:
    """Answer 429 with `Retry-After` once a client exceeds the scope's limit."""
    if scope not in SCOPES:
        raise ValueError(f"unknown rate limit scope {scope!r}")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            rt = runtime(request)
            key = f"{scope}:{client_address(request)}"[:128]
            with rt.db.session() as session:
                retry_after = rate_limit_hit(
                    session,
                    key,
                    limit=scope_limit(rt.settings, scope),
                    window_seconds=rt.settings.rate_limit_window_seconds,
                )
            if retry_after is None:
                return await endpoint(request)
            log.warning(
                "rate_limited", extra={"scope": scope, "retry_after": retry_after}
            )
            response = render_error(
                request,
                429,
                f"Too many attempts from your network in a short time. Wait {retry_after} seconds and try again.",
            )
            assert response is not None
            response.headers["Retry-After"] = str(retry_after)
            return response

        return wrapper

    return decorate


PRUNE_EVERY_SECONDS = 3600.0
"""How often the worker removes windows of clients that never came back."""


def rate_limit_prune_round(db: Database) -> None:
    """One round of the worker's clean-up; a database hiccup waits for the next."""
    try:
        with db.session() as session:
            removed = rate_limit_prune(session)
    except SQLAlchemyError as exc:
        log.warning("rate_limit_prune_failed", extra={"error": type(exc).__name__})
        return
    log.info("rate_limit_pruned", extra={"rows": removed})
