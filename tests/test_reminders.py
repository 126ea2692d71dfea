"""Reminders: the same setup URL in a short email, by staff or automatically, at most once per period."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from dashboard.db import Database
from dashboard.invites import invite_create, setup_url
from dashboard.models import AuditEvent, Organization, OutboxEmail, SetupLink, utcnow
from dashboard.outbox import OutboxSender
from dashboard.progress import progress_step
from dashboard.reminders import ReminderError, reminder_send, reminders_send_due
from dashboard.services.mail import SMTPMailer, parse_smtp_url
from dashboard.settings import Settings
from tests.fixtures.smtp import SMTPServer
from tests.invite_helpers import organization_add, staff_member


def _invite(
    db: Database, settings: Settings, *, days_ago: float = 0
) -> tuple[int, str]:
    """An organization invited `days_ago` days ago with no step since; returns id and setup URL."""
    with db.session() as session:
        organization = organization_add(session, name="Stalled Corp")
        result = invite_create(
            session,
            settings,
            organization=organization,
            features=["sso", "dsync"],
            emails=["it@stalled.example", "ops@stalled.example"],
            staff=staff_member(session),
        )
        assert organization.id is not None
        past = utcnow() - timedelta(days=days_ago)
        result.link.created_at = past
        organization.last_step_at = past
        session.add_all([result.link, organization])
        return organization.id, setup_url(settings, result.link)


def _reminders(db: Database) -> list[OutboxEmail]:
    with db.session() as session:
        return list(
            session.exec(select(OutboxEmail).where(OutboxEmail.template == "reminder"))
        )


def test_reminder_email_carries_the_same_setup_url(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    organization_id, url = _invite(db, settings, days_ago=9)
    with db.session() as session:
        progress_step(session, organization_id, "done", intents=["sso"])
        session.get(Organization, organization_id)
    mailer = SMTPMailer(
        parse_smtp_url(smtp_server.url), connect_timeout=2, send_timeout=5
    )

    with db.session() as session:
        queued = reminder_send(
            session, organization_id, actor="staff:cs@vendor.example.com"
        )
    with db.session() as session:
        for email in session.exec(
            select(OutboxEmail).where(OutboxEmail.template == "invite")
        ):
            email.status = "sent"
            session.add(email)
    asyncio.run(OutboxSender(settings, db, mailer).run_once())

    assert queued == 2
    delivered = smtp_server.wait_for(2)
    subjects = {d.message["Subject"] for d in delivered}
    assert subjects == {"Reminder: finish setting up Acme Cloud for Stalled Corp"}
    [text] = [
        part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in delivered[0].message.walk()
        if part.get_content_type() == "text/plain"
    ]
    assert url in text
    assert "Directory Sync" in text
    assert "Single Sign-On" not in text
    with db.session() as session:
        [audit] = session.exec(
            select(AuditEvent).where(AuditEvent.action == "invite.reminded")
        ).all()
        assert audit.actor == "staff:cs@vendor.example.com"
        assert audit.detail["automatic"] is False
        link = session.exec(select(SetupLink)).one()
        assert link.last_reminded_at is not None


def test_a_second_reminder_right_away_is_refused(
    db: Database, settings: Settings
) -> None:
    organization_id, _ = _invite(db, settings)
    with db.session() as session:
        reminder_send(session, organization_id, actor="staff:a@vendor.example.com")

    with (
        pytest.raises(ReminderError, match="a few minutes ago"),
        db.session() as session,
    ):
        reminder_send(session, organization_id, actor="staff:b@vendor.example.com")

    assert len(_reminders(db)) == 2


def test_no_reminder_for_a_finished_setup(db: Database, settings: Settings) -> None:
    organization_id, _ = _invite(db, settings)
    with db.session() as session:
        progress_step(session, organization_id, "done")

    with pytest.raises(ReminderError, match="Setup is done"), db.session() as session:
        reminder_send(session, organization_id, actor="staff:a@vendor.example.com")

    assert _reminders(db) == []


def test_automatic_reminders_go_once_per_period_to_stalled_setups_only(
    db: Database, settings: Settings
) -> None:
    stalled_id, _ = _invite(db, settings, days_ago=4)
    with db.session() as session:
        fresh = organization_add(session, name="Fresh Corp")
        invite_create(
            session,
            settings,
            organization=fresh,
            features=["sso"],
            emails=["it@fresh.example"],
            staff=None,
        )

    first = reminders_send_due(db, every_days=3)
    again = reminders_send_due(db, every_days=3)
    next_day = reminders_send_due(db, every_days=3, now=utcnow() + timedelta(days=1))
    later = reminders_send_due(
        db, every_days=3, now=utcnow() + timedelta(days=3, hours=1)
    )

    assert (first, again, next_day, later) == (1, 0, 0, 2)
    assert [e.organization_id for e in _reminders(db)].count(stalled_id) == 4
    with db.session() as session:
        audits = session.exec(
            select(AuditEvent).where(AuditEvent.action == "invite.reminded")
        ).all()
        assert [a.actor for a in audits] == ["system"] * 3
        assert all(a.detail["automatic"] is True for a in audits)


def test_automatic_reminders_are_off_by_default(
    db: Database, settings: Settings
) -> None:
    _invite(db, settings, days_ago=30)

    assert reminders_send_due(db, every_days=settings.reminder_every_days) == 0
    assert _reminders(db) == []
