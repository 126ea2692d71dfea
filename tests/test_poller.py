"""The events poller against the emulator's `GET /events`, through the real SDK."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from dashboard.db import Database
from dashboard.models import AuditEvent, KeyValue, WorkOSEvent
from dashboard.poller import CURSOR_KEY, EventPoller
from dashboard.services.workos import SDKWorkOSGateway
from dashboard.settings import Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.progress_helpers import (
    feature_states,
    local_organization,
    workos_organization,
)


def _poller(db: Database, settings: Settings, page_size: int = 100) -> EventPoller:
    gateway = SDKWorkOSGateway.from_settings(settings)
    return EventPoller(db, gateway, page_size=page_size)


def _poll(
    db: Database, settings: Settings, page_size: int = 100, *, once: bool = False
) -> int:
    """Start a poller (as a fresh worker would), poll, stop it."""

    async def run() -> int:
        poller = _poller(db, settings, page_size)
        try:
            if once:
                return await poller.poll_once()
            return await poller.poll_until_caught_up()
        finally:
            await poller.workos.close()

    return asyncio.run(run())


def _rows(db: Database) -> tuple[list[str], int, str | None]:
    """Stored event ids, audit entries and the cursor."""
    with db.session() as session:
        events = [e.id for e in session.exec(select(WorkOSEvent))]
        audits = len(session.exec(select(AuditEvent)).all())
        cursor = session.get(KeyValue, CURSOR_KEY)
        return events, audits, cursor.value if cursor else None


def test_poller_applies_events_and_stores_its_cursor(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    workos_id, _ = workos_organization(emulator, "Polled")
    organization_id = local_organization(
        db, "Polled", workos_id=workos_id, intents=["sso", "dsync"]
    )
    emulator.finish(workos_id, "sso")
    [last] = emulator.finish(workos_id, "dsync")

    seen = _poll(db, emulator.settings(settings))

    assert seen == 2
    states = feature_states(db, organization_id)
    assert states == {
        "sso": ("done", "connection active"),
        "dsync": ("done", "directory linked"),
    }
    events, _, cursor = _rows(db)
    assert len(events) == 2
    assert cursor == last["id"]


def test_poller_resumes_from_its_cursor_after_a_restart(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    settings = emulator.settings(settings)
    workos_id, _ = workos_organization(emulator, "Restarted")
    organization_id = local_organization(
        db,
        "Restarted",
        workos_id=workos_id,
        intents=["sso", "dsync", "bring_your_own_key"],
    )
    emulator.finish(workos_id, "sso")
    emulator.finish(workos_id, "dsync")
    _poll(db, settings, page_size=1, once=True)
    events_before, audits_before, cursor_before = _rows(db)
    emulator.finish(workos_id, "bring_your_own_key")

    seen = _poll(db, settings, page_size=1)

    assert len(events_before) == 1 and audits_before == 1
    assert seen == 2
    events, audits, cursor = _rows(db)
    assert len(events) == 3 == len(set(events))
    assert audits == 3
    assert cursor != cursor_before
    assert {s for s, _ in feature_states(db, organization_id).values()} == {"done"}


def test_two_pollers_on_one_database_apply_each_event_once(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    settings = emulator.settings(settings)
    workos_id, _ = workos_organization(emulator, "Twice")
    local_organization(db, "Twice", workos_id=workos_id, intents=["sso", "dsync"])
    emulator.finish(workos_id, "sso")
    emulator.finish(workos_id, "dsync")

    async def both() -> list[int]:
        first, second = _poller(db, settings), _poller(db, settings)
        try:
            return list(await asyncio.gather(first.poll_once(), second.poll_once()))
        finally:
            await first.workos.close()
            await second.workos.close()

    counts = asyncio.run(both())

    assert sorted(counts) == [0, 2]
    events, audits, _ = _rows(db)
    assert len(events) == 2
    assert audits == 2


def test_events_already_received_by_webhook_are_not_applied_again(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    from dashboard.events import apply_workos_event

    workos_id, _ = workos_organization(emulator, "Both Ways")
    local_organization(db, "Both Ways", workos_id=workos_id)
    [event] = emulator.finish(workos_id, "sso")
    with db.session() as session:
        apply_workos_event(session, event, source="webhook")

    _poll(db, emulator.settings(settings))

    events, audits, cursor = _rows(db)
    assert events == [event["id"]]
    assert audits == 1
    assert cursor == event["id"]


def test_a_poller_caught_up_asks_and_changes_nothing(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    seen = _poll(db, emulator.settings(settings))

    assert seen == 0
    assert _rows(db) == ([], 0, None)


def test_concurrent_deliveries_of_one_event_apply_it_once(
    db: Database, emulator: EmulatorHandle
) -> None:
    import threading

    from dashboard.events import apply_workos_event

    workos_id, _ = workos_organization(emulator, "Raced")
    local_organization(db, "Raced", workos_id=workos_id)
    [event] = emulator.finish(workos_id, "sso")
    start = threading.Barrier(4)
    results: list[bool] = []

    def deliver() -> None:
        start.wait()
        with db.session() as session:
            results.append(apply_workos_event(session, event, "webhook").duplicate)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True, True, True]
    events, audits, _ = _rows(db)
    assert events == [event["id"]]
    assert audits == 1
