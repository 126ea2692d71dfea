from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from email.message import Message

import pytest
import sqlalchemy as sa
from sqlmodel import select

from dashboard.db import Database, create_db_engine
from dashboard.invites import active_link, invite_create, setup_url
from dashboard.models import AuditEvent, OutboxEmail, utcnow
from dashboard.outbox import OutboxError, OutboxSender, outbox_retry
from dashboard.services.mail import SMTPMailer, parse_smtp_url
from dashboard.settings import Settings
from tests.fixtures.smtp import SMTPServer
from tests.invite_helpers import organization_add, staff_member


def _invite(db: Database, settings: Settings, emails: list[str]) -> tuple[int, str]:
    with db.session() as session:
        organization = organization_add(session, name="Globex & Sons")
        staff = staff_member(session)
        result = invite_create(
            session,
            settings,
            organization=organization,
            features=["sso", "domain_verification"],
            emails=emails,
            staff=staff,
        )
        assert organization.id is not None
        return organization.id, setup_url(settings, result.link)


def _sender(
    settings: Settings, db: Database, smtp: SMTPServer, **kwargs: object
) -> OutboxSender:
    mailer = SMTPMailer(parse_smtp_url(smtp.url), connect_timeout=2, send_timeout=5)
    return OutboxSender(settings, db, mailer, **kwargs)  # type: ignore[arg-type]


def _part(message: Message, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no {content_type} part")


def test_invite_email_arrives_with_headers_and_both_bodies(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    settings = settings.with_overrides(
        email_from="Acme Onboarding <onboarding@acme.test>"
    )
    _, url = _invite(db, settings, ["it@globex.example"])

    sent = asyncio.run(_sender(settings, db, smtp_server).run_once())

    assert sent == 1
    [delivered] = smtp_server.wait_for(1)
    message = delivered.message
    assert delivered.rcpt_tos == ["it@globex.example"]
    assert message["From"] == "Acme Onboarding <onboarding@acme.test>"
    assert message["To"] == "it@globex.example"
    assert message["Subject"] == "Set up Acme Cloud for Globex & Sons"
    assert message["Date"] and message["Message-ID"].endswith("@acme.test>")
    assert message["Reply-To"] == "help@acme.test"
    assert message.get_content_type() == "multipart/alternative"
    text = _part(message, "text/plain")
    html = _part(message, "text/html")
    assert url in text and f'href="{url}"' in html
    assert "Casey Success (cs@vendor.example.com)" in text
    assert "Single Sign-On: you will connect your identity provider" in text
    assert "Domain Verification" in text
    assert "valid for 14 days" in text
    assert "help@acme.test" in text
    assert "Globex &amp; Sons" in html and "Globex & Sons" in text
    with db.session() as session:
        email = session.exec(select(OutboxEmail)).one()
    assert email.status == "sent" and email.sent_at is not None


def test_mail_server_down_then_up_every_email_arrives(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    smtp_server.stop()
    _invite(db, settings, [f"admin{n}@globex.example" for n in range(5)])
    sender = _sender(settings, db, smtp_server)

    sent_while_down = asyncio.run(sender.run_once())
    with db.session() as session:
        waiting = session.exec(select(OutboxEmail)).all()
    smtp_server.start()
    sent_too_early = asyncio.run(sender.run_once())
    sent_later = asyncio.run(sender.run_once(now=utcnow() + timedelta(hours=1)))

    assert sent_while_down == 0
    assert {e.status for e in waiting} == {"queued"}
    assert {e.attempts for e in waiting} == {1}
    assert all("could not connect to the mail server" in e.last_error for e in waiting)
    assert all(e.next_attempt_at > utcnow() for e in waiting)
    assert sent_too_early == 0
    assert sent_later == 5
    delivered = smtp_server.wait_for(5)
    assert sorted(d.rcpt_tos[0] for d in delivered) == [
        f"admin{n}@globex.example" for n in range(5)
    ]


def test_refused_address_fails_at_once_with_reason_and_timeline_entry(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    org_id, _ = _invite(db, settings, ["refuse-me@globex.example", "ok@globex.example"])

    asyncio.run(_sender(settings, db, smtp_server).run_once())

    with db.session() as session:
        failed = session.exec(
            select(OutboxEmail).where(OutboxEmail.status == "failed")
        ).one()
        timeline = session.exec(
            select(AuditEvent).where(AuditEvent.action == "invite.email_failed")
        ).one()
    assert failed.to_address == "refuse-me@globex.example"
    assert "refused the address (550" in failed.last_error
    assert timeline.organization_id == org_id
    assert [d.rcpt_tos for d in smtp_server.wait_for(1)] == [["ok@globex.example"]]


def test_failed_email_after_max_attempts_can_be_retried_by_staff(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    org_id, _ = _invite(db, settings, ["it@globex.example"])
    smtp_server.stop()
    sender = _sender(settings, db, smtp_server, max_attempts=2)
    asyncio.run(sender.run_once())
    asyncio.run(sender.run_once(now=utcnow() + timedelta(days=1)))
    smtp_server.start()
    with db.session() as session:
        email = session.exec(select(OutboxEmail)).one()
        assert email.status == "failed"
        assert email.id is not None

    with db.session() as session:
        outbox_retry(session, email.id, organization_id=org_id)
    sent = asyncio.run(sender.run_once())

    assert sent == 1
    assert len(smtp_server.wait_for(1)) == 1
    with db.session() as session, pytest.raises(OutboxError):
        outbox_retry(session, email.id, organization_id=org_id)


def test_sender_skips_email_whose_link_was_replaced(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    org_id, _ = _invite(db, settings, ["old@globex.example"])
    with db.session() as session:
        link = active_link(session, org_id)
        assert link is not None
        # A link ended by hand, behind the services' back: the sender still checks.
        session.execute(sa.update(OutboxEmail).values(status="queued"))
        link.status = "revoked"
        session.add(link)

    sent = asyncio.run(_sender(settings, db, smtp_server).run_once())

    assert sent == 0
    assert smtp_server.messages == []


@pytest.mark.postgres_only
def test_two_senders_never_send_the_same_email_twice(
    db: Database,
    settings: Settings,
    smtp_server: SMTPServer,
    is_postgres: bool,
    database_url: str,
) -> None:
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks")
    _invite(db, settings, [f"admin{n}@globex.example" for n in range(20)])
    for _ in range(4):
        _invite(db, settings, [f"more{n}@globex.example" for n in range(20)])
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def run() -> None:
        engine = create_db_engine(database_url)
        sender = _sender(settings, Database(engine), smtp_server, batch_size=7)
        barrier.wait()
        total = 0
        while True:
            sent = asyncio.run(sender.run_once())
            if sent == 0:
                break
            total += sent
        counts.append(total)
        engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    delivered = smtp_server.wait_for(100)
    assert sum(counts) == 100
    assert len(delivered) == 100
    assert len({d.message["Message-ID"] for d in delivered}) == 100
    assert sum(1 for c in counts if c > 0) >= 2
