"""Rate limits: counted in the database per client and route, answered with 429 and Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import select
from starlette.testclient import TestClient

from dashboard.db import Database
from dashboard.models import RateLimitHit
from dashboard.ratelimit import (
    rate_limit_hit,
    rate_limit_prune,
    rate_limit_prune_round,
)
from dashboard.settings import Settings
from dashboard.worker import periodic

NOW = datetime(2020, 1, 1, 12, 0, 20, tzinfo=UTC)


def test_requests_over_the_limit_get_the_seconds_left_in_the_window(
    db: Database,
) -> None:
    with db.session() as session:
        answers = [
            rate_limit_hit(session, "k", limit=2, window_seconds=60, now=NOW)
            for _ in range(3)
        ]

    assert answers == [None, None, 40]


def test_a_new_window_starts_counting_again_and_drops_the_old_one(
    db: Database,
) -> None:
    with db.session() as session:
        for _ in range(3):
            rate_limit_hit(session, "k", limit=2, window_seconds=60, now=NOW)

    with db.session() as session:
        later = rate_limit_hit(
            session, "k", limit=2, window_seconds=60, now=NOW + timedelta(minutes=1)
        )
        rows = session.exec(select(RateLimitHit)).all()

    assert later is None
    assert [(r.key, r.count) for r in rows] == [("k", 1)]


def test_keys_are_counted_apart(db: Database) -> None:
    with db.session() as session:
        first = rate_limit_hit(session, "a", limit=1, window_seconds=60, now=NOW)
        second = rate_limit_hit(session, "b", limit=1, window_seconds=60, now=NOW)

    assert (first, second) == (None, None)


def test_prune_removes_windows_of_clients_that_left(db: Database) -> None:
    with db.session() as session:
        rate_limit_hit(session, "gone", limit=1, window_seconds=60, now=NOW)
        rate_limit_hit(session, "here", limit=1, window_seconds=60)

    with db.session() as session:
        removed = rate_limit_prune(session, older_than_seconds=3600)
        keys = [r.key for r in session.exec(select(RateLimitHit))]

    assert removed == 1
    assert keys == ["here"]


def test_the_worker_prunes_old_windows_on_its_own(db: Database) -> None:
    with db.session() as session:
        rate_limit_hit(session, "gone", limit=1, window_seconds=60, now=NOW)

    async def one_round() -> None:
        loop = periodic("rate_limit_prune", 3600, lambda: rate_limit_prune_round(db))
        task = asyncio.create_task(loop.run())
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(one_round())

    with db.session() as session:
        assert list(session.exec(select(RateLimitHit))) == []


def test_the_setup_page_answers_429_with_retry_after(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    client = make_client(
        settings.with_overrides(rate_limit_setup_page=2, rate_limit_window_seconds=3600)
    )

    answers = [client.get("/setup/probe.token") for _ in range(3)]

    assert [a.status_code for a in answers] == [404, 404, 429]
    retry_after = int(answers[2].headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert f"Wait {retry_after} seconds" in answers[2].text


def test_the_count_is_shared_by_every_app_process(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    limited = settings.with_overrides(
        rate_limit_sign_in=1, rate_limit_window_seconds=3600
    )
    first, second = make_client(limited), make_client(limited)

    one = first.get("/setup/callback/any")
    two = second.get("/setup/callback/any")

    assert one.status_code == 400
    assert two.status_code == 429
