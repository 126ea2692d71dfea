"""The timeline: every state change is recorded as who did what, to which organization."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from dashboard.models import AuditEvent

log = logging.getLogger(__name__)


VISITOR_ACTOR = "visitor"
"""Someone holding a setup URL who has not signed in yet."""


def staff_actor(email: str) -> str:
    return f"staff:{email}"


def it_admin_actor(email: str) -> str:
    return f"it_admin:{email}"


def audit_record(
    session: Session,
    action: str,
    *,
    actor: str,
    organization_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add a timeline entry in the caller's transaction, so it commits with the change.

    `action` is a fixed name such as "organization.created"; `detail` holds
    plain values for display. Never pass tokens or links.
    """
    event = AuditEvent(
        organization_id=organization_id, actor=actor, action=action, detail=detail
    )
    session.add(event)
    log.info(
        action,
        extra={
            "organization_id": organization_id,
            "actor_kind": actor.split(":", 1)[0],
        },
    )
    return event
