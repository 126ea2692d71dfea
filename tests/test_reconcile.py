"""Features no WorkOS event reports are confirmed by asking WorkOS."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from dashboard.db import Database
from dashboard.models import AuditEvent, OrganizationFeature
from dashboard.progress import progress_step
from dashboard.reconcile import reconcile_once
from dashboard.services.workos import SDKWorkOSGateway
from dashboard.settings import Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.setup_helpers import invite, workos_organization_id


def _reconcile(emulator: EmulatorHandle, db: Database) -> int:
    async def once() -> int:
        gateway = SDKWorkOSGateway(
            api_key=emulator.api_key,
            client_id=emulator.client_id,
            base_url=emulator.url,
        )
        try:
            return await reconcile_once(db, gateway)
        finally:
            await gateway.close()

    return asyncio.run(once())


def test_finished_audit_logs_turn_done_without_the_admin_coming_back(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    workos_id = workos_organization_id(emulator, "Initech")
    pending = invite(
        db,
        emulator.settings(settings),
        workos_id=workos_id,
        features=("audit_logs", "log_streams"),
        name="Initech",
    )
    assert pending.organization.id is not None
    with db.session() as session:
        progress_step(session, pending.organization.id, "portal_opened")
    emulator.finish(workos_id, "audit_logs")

    finished = _reconcile(emulator, db)

    with db.session() as session:
        states = {r.intent: r.state for r in session.exec(select(OrganizationFeature))}
        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert finished == 1
    assert states == {"audit_logs": "done", "log_streams": "portal_opened"}
    assert "workos.feature_confirmed" in actions


def test_features_not_yet_in_the_portal_are_not_asked_about(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    workos_id = workos_organization_id(emulator, "Hooli")
    invite(
        db,
        emulator.settings(settings),
        workos_id=workos_id,
        features=("audit_logs",),
        name="Hooli",
    )
    emulator.finish(workos_id, "audit_logs")

    finished = _reconcile(emulator, db)

    with db.session() as session:
        states = {r.intent: r.state for r in session.exec(select(OrganizationFeature))}
    assert finished == 0
    assert states == {"audit_logs": "invited"}
