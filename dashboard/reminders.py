"""Reminders for setups that stall: the same setup URL, in a short email, through the outbox.

Staff send one from the organization page; with `REMINDER_EVERY_DAYS` set,
the worker sends them by itself to setups with no step for that many days, at
most once per that many days per link. Claiming a link for a reminder is a
compare-and-set on `last_reminded_at`, so two workers never both send one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dashboard.audit import audit_record
from dashboard.db import Database
from dashboard.invites import active_link, link_invitees, link_status
from dashboard.models import Organization, SetupLink, utcnow
from dashboard.outbox import outbox_enqueue
from dashboard.progress import IN_PROGRESS, feature_rows

log = logging.getLogger(__name__)

REMINDER_TEMPLATE = "reminder"
MANUAL_REMINDER_GAP = timedelta(minutes=10)
"""A second click (or a colleague's) within this gap sends nothing more."""
AUTOMATIC_BATCH = 100


class ReminderError(ValueError):
    """A reminder that cannot be sent; the message says why, for staff."""


def reminder_allowed(organization: Organization, link: SetupLink | None) -> bool:
    """Whether the organization page offers "Send reminder"."""
    return (
        link is not None
        and link_status(link) == "active"
        and organization.deleted_at is None
        and organization.setup_state in IN_PROGRESS
    )


def _claim(session: Session, link: SetupLink, before: datetime, now: datetime) -> bool:
    """Set `last_reminded_at` to now unless someone reminded after `before`."""
    claimed = session.execute(
        sa.update(SetupLink)
        .where(
            col(SetupLink.id) == link.id,
            col(SetupLink.status) == "active",
            sa.or_(
                col(SetupLink.last_reminded_at).is_(None),
                col(SetupLink.last_reminded_at) < before,
            ),
        )
        .values(last_reminded_at=now)
        .returning(col(SetupLink.id))
    ).first()
    if claimed is not None:
        link.last_reminded_at = now
    return claimed is not None


def _send(
    session: Session,
    organization: Organization,
    link: SetupLink,
    *,
    actor: str,
    automatic: bool,
) -> int:
    assert link.id is not None
    invitees = link_invitees(session, link.id)
    assert organization.id is not None
    pending = [
        row.intent
        for row in feature_rows(session, organization.id)
        if row.state != "done" and row.intent in link.features
    ]
    for invitee in invitees:
        outbox_enqueue(
            session,
            template=REMINDER_TEMPLATE,
            to_address=invitee.email,
            organization_id=organization.id,
            setup_link_id=link.id,
            context={
                "invitee_id": invitee.id,
                "inviter_id": link.created_by_id,
                "pending": pending,
            },
        )
    audit_record(
        session,
        "invite.reminded",
        actor=actor,
        organization_id=organization.id,
        emails=[invitee.email for invitee in invitees],
        automatic=automatic,
    )
    return len(invitees)


def reminder_send(
    session: Session, organization_id: int, *, actor: str, now: datetime | None = None
) -> int:
    """Staff asked to remind the organization's IT admins; returns how many emails were queued."""
    now = now or utcnow()
    organization = session.get(Organization, organization_id)
    if organization is None or organization.deleted_at is not None:
        raise ReminderError("There is no such organization.")
    link = active_link(session, organization_id)
    if link is None or link_status(link, now) != "active":
        raise ReminderError(
            "There is no active setup link to remind about: send a new invite instead."
        )
    if organization.setup_state not in IN_PROGRESS:
        raise ReminderError(
            "Setup is done: there is nothing to remind about."
            if organization.setup_state == "done"
            else "Nobody is invited yet: send an invite first."
        )
    if not _claim(session, link, now - MANUAL_REMINDER_GAP, now):
        raise ReminderError("A reminder was sent a few minutes ago; it is on its way.")
    return _send(session, organization, link, actor=actor, automatic=False)


def reminders_due(
    session: Session, every_days: int, now: datetime | None = None
) -> list[int]:
    """Ids of active links due a reminder.

    Their organizations had no step for `every_days`, and no reminder since.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=every_days)
    query = (
        select(SetupLink.id)
        .join(Organization, col(Organization.id) == col(SetupLink.organization_id))
        .where(
            col(SetupLink.status) == "active",
            col(SetupLink.expires_at) > now,
            col(SetupLink.created_at) < cutoff,
            sa.or_(
                col(SetupLink.last_reminded_at).is_(None),
                col(SetupLink.last_reminded_at) < cutoff,
            ),
            col(Organization.deleted_at).is_(None),
            col(Organization.setup_state).in_(IN_PROGRESS),
            sa.or_(
                col(Organization.last_step_at).is_(None),
                col(Organization.last_step_at) < cutoff,
            ),
        )
        .order_by(col(SetupLink.id))
        .limit(AUTOMATIC_BATCH)
    )
    return [int(link_id) for link_id in session.exec(query) if link_id is not None]


def reminders_send_due(
    db: Database, every_days: int, now: datetime | None = None
) -> int:
    """Send every automatic reminder that is due; returns how many links were reminded."""
    if every_days <= 0:
        return 0
    now = now or utcnow()
    cutoff = now - timedelta(days=every_days)
    reminded = 0
    with db.session() as session:
        due = reminders_due(session, every_days, now)
    for link_id in due:
        with db.session() as session:
            link = session.get(SetupLink, link_id)
            if link is None or not _claim(session, link, cutoff, now):
                continue
            organization = session.get(Organization, link.organization_id)
            assert organization is not None
            _send(session, organization, link, actor="system", automatic=True)
            reminded += 1
    if reminded:
        log.info("reminders_sent", extra={"links": reminded})
    return reminded


REMINDER_CHECK_SECONDS = 15 * 60.0
"""How often the worker looks for invites due an automatic reminder."""
