"""Asks WorkOS about features that no WorkOS event reports finished.

Audit Logs and Log Streams raise no event when an IT admin finishes them in
the portal. The setup page checks when the admin comes back; this loop
covers an admin who closed the tab instead, so staff still see "Done".
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlmodel import col, select

from dashboard.audit import audit_record
from dashboard.db import Database
from dashboard.models import Organization, OrganizationFeature
from dashboard.progress import progress_step
from dashboard.services.workos import WorkOSFailure, WorkOSGateway

log = logging.getLogger(__name__)

SILENT_FEATURES = ("audit_logs", "log_streams")
RECONCILE_EVERY_SECONDS = 60.0
BATCH = 50
"""Organizations asked about per round, so a backlog cannot flood WorkOS."""


async def reconcile_once(db: Database, workos: WorkOSGateway) -> int:
    """One round: returns how many features turned done."""
    with db.session() as session:
        rows = session.exec(
            select(Organization.id, Organization.workos_id, OrganizationFeature.intent)
            .join(
                OrganizationFeature,
                col(OrganizationFeature.organization_id) == Organization.id,
            )
            .where(
                col(OrganizationFeature.intent).in_(SILENT_FEATURES),
                OrganizationFeature.state == "portal_opened",
                col(Organization.workos_id).is_not(None),
                col(Organization.deleted_at).is_(None),
            )
            .order_by(col(OrganizationFeature.state_changed_at))
            .limit(BATCH * len(SILENT_FEATURES))
        ).all()
    waiting: dict[tuple[int, str], list[str]] = defaultdict(list)
    for organization_id, workos_id, intent in rows:
        if organization_id is not None and workos_id:
            waiting[(organization_id, workos_id)].append(intent)

    finished = 0
    for (organization_id, workos_id), intents in list(waiting.items())[:BATCH]:
        try:
            status = await workos.feature_status(workos_id, intents)
        except WorkOSFailure as failure:
            log.warning(
                "reconcile_failed",
                extra={"organization_id": organization_id, "kind": failure.kind},
            )
            continue
        done = [i for i in intents if i in status and status[i].done]
        if not done:
            continue
        with db.session() as session:
            for intent in done:
                progress_step(
                    session,
                    organization_id,
                    "done",
                    intents=[intent],
                    detail=status[intent].detail,
                )
                audit_record(
                    session,
                    "workos.feature_confirmed",
                    actor="workos",
                    organization_id=organization_id,
                    feature=intent,
                )
        finished += len(done)
    return finished
