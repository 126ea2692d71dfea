from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from dashboard.db import Database, create_db_engine
from dashboard.invites import (
    InviteError,
    active_link,
    invite_create,
    invite_resend,
    invite_revoke,
    link_from_token,
    link_status,
    setup_url,
)
from dashboard.models import (
    AuditEvent,
    Invitee,
    Organization,
    OrganizationFeature,
    OutboxEmail,
    SetupLink,
    utcnow,
)
from dashboard.settings import Secret, Settings
from dashboard.setup_tokens import setup_token
from tests.invite_helpers import organization_add, staff_member


def _invite(
    db: Database, settings: Settings, emails: list[str], features: list[str]
) -> int:
    with db.session() as session:
        organization = organization_add(session)
        staff = staff_member(session)
        invite_create(
            session,
            settings,
            organization=organization,
            features=features,
            emails=emails,
            staff=staff,
        )
        assert organization.id is not None
        return organization.id


def test_invite_creates_link_invitees_emails_and_progress(
    db: Database, settings: Settings
) -> None:
    org_id = _invite(
        db, settings, ["Admin@Globex.example", "it@globex.example"], ["sso", "dsync"]
    )

    with db.session() as session:
        link = active_link(session, org_id)
        invitees = session.exec(select(Invitee)).all()
        emails = session.exec(select(OutboxEmail)).all()
        features = session.exec(select(OrganizationFeature)).all()
        organization = session.get(Organization, org_id)
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert link is not None and link.features == ["sso", "dsync"]
    assert link.expires_at - link.created_at == timedelta(
        days=settings.setup_link_ttl_days
    )
    assert [(i.email, i.email_key) for i in invitees] == [
        ("Admin@globex.example", "admin@globex.example"),
        ("it@globex.example", "it@globex.example"),
    ]
    assert sorted(e.to_address for e in emails) == [
        "Admin@globex.example",
        "it@globex.example",
    ]
    assert {e.status for e in emails} == {"queued"}
    assert {(f.intent, f.state) for f in features} == {
        ("sso", "invited"),
        ("dsync", "invited"),
    }
    assert organization is not None and organization.setup_state == "invited"
    assert actions == ["invite.sent"]


def test_second_invite_replaces_the_first_and_cancels_its_unsent_email(
    db: Database, settings: Settings
) -> None:
    org_id = _invite(db, settings, ["a@globex.example"], ["sso"])

    with db.session() as session:
        organization = session.get(Organization, org_id)
        assert organization is not None
        result = invite_create(
            session,
            settings,
            organization=organization,
            features=["dsync"],
            emails=["b@globex.example"],
            staff=None,
        )

    with db.session() as session:
        links = session.exec(select(SetupLink).order_by(SetupLink.id)).all()  # type: ignore[arg-type]
        old_email = session.exec(
            select(OutboxEmail).where(OutboxEmail.to_address == "a@globex.example")
        ).one()
        offered = {f.intent for f in session.exec(select(OrganizationFeature)).all()}
    assert [link.status for link in links] == ["replaced", "active"]
    assert links[0].ended_at is not None
    assert result.replaced is not None
    assert [i.email for i in result.replaced.invitees] == ["a@globex.example"]
    assert old_email.status == "cancelled"
    assert offered == {"sso", "dsync"}


@pytest.mark.parametrize(
    ("emails", "features", "field"),
    [
        ([], ["sso"], "emails"),
        (["not an email"], ["sso"], "emails"),
        ([f"a{n}@x.example" for n in range(21)], ["sso"], "emails"),
        (["a@x.example"], [], "features"),
        (["a@x.example"], ["teleport"], "features"),
    ],
)
def test_bad_invites_are_refused_by_field_and_save_nothing(
    db: Database, settings: Settings, emails: list[str], features: list[str], field: str
) -> None:
    with db.session() as session:
        organization = organization_add(session)

        with pytest.raises(InviteError) as caught:
            invite_create(
                session,
                settings,
                organization=organization,
                features=features,
                emails=emails,
                staff=None,
            )

    assert caught.value.field == field
    with db.session() as session:
        assert session.exec(select(SetupLink)).first() is None


def test_revoke_ends_the_link_and_resend_then_refuses(
    db: Database, settings: Settings
) -> None:
    org_id = _invite(db, settings, ["a@globex.example"], ["sso"])

    with db.session() as session:
        organization = session.get(Organization, org_id)
        assert organization is not None
        ended = invite_revoke(session, organization=organization, staff=None)

    assert ended.link.status == "revoked"
    assert link_status(ended.link) == "revoked"
    with db.session() as session, pytest.raises(InviteError):
        invite_resend(session, organization=organization, staff=None)


def test_resend_queues_the_same_url(db: Database, settings: Settings) -> None:
    org_id = _invite(db, settings, ["a@globex.example", "b@globex.example"], ["sso"])

    with db.session() as session:
        organization = session.get(Organization, org_id)
        assert organization is not None
        link = active_link(session, org_id)
        assert link is not None
        url_before = setup_url(settings, link)
        invitee = session.exec(
            select(Invitee).where(Invitee.email_key == "b@globex.example")
        ).one()
        queued = invite_resend(
            session, organization=organization, staff=None, invitee_id=invitee.id
        )

    assert [e.to_address for e in queued] == ["b@globex.example"]
    with db.session() as session:
        link_again = active_link(session, org_id)
        assert link_again is not None
        assert setup_url(settings, link_again) == url_before


def test_link_status_and_tokens(db: Database, settings: Settings) -> None:
    org_id = _invite(db, settings, ["a@globex.example"], ["sso"])
    with db.session() as session:
        link = active_link(session, org_id)
        assert link is not None
    token = setup_token(link.public_id, settings.secret_key)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_key = setup_token(
        link.public_id, Secret("another-secret-key-0123456789abcdef")
    )
    rotated = settings.with_overrides(
        secret_key=Secret("the-new-secret-key-0123456789abcdef"),
        old_secret_keys=(settings.secret_key,),
    )

    with db.session() as session:
        found = link_from_token(session, settings, token)
        found_after_rotation = link_from_token(session, rotated, token)
        refused = [
            link_from_token(session, settings, t)
            for t in (tampered, other_key, link.public_id, "", "x." * 200)
        ]

    assert found is not None and found.id == link.id
    assert found_after_rotation is not None
    assert refused == [None] * 5
    assert link_status(link) == "active"
    assert link_status(link, now=link.expires_at + timedelta(seconds=1)) == "expired"
    assert len(link.public_id) >= 22  # 128 random bits, URL-safe base64


def test_expired_link_cannot_be_resent(db: Database, settings: Settings) -> None:
    org_id = _invite(db, settings, ["a@globex.example"], ["sso"])
    with db.session() as session:
        session.execute(
            sa.update(SetupLink).values(expires_at=utcnow() - timedelta(minutes=1))
        )

    with db.session() as session:
        organization = session.get(Organization, org_id)
        assert organization is not None
        with pytest.raises(InviteError) as caught:
            invite_resend(session, organization=organization, staff=None)

    assert "expired" in caught.value.message


def test_database_holds_no_setup_token_or_url(db: Database, settings: Settings) -> None:
    org_id = _invite(db, settings, ["a@globex.example"], ["sso", "dsync"])
    with db.session() as session:
        link = active_link(session, org_id)
        assert link is not None
        url = setup_url(settings, link)
    signature = url.rsplit(".", 1)[1]

    dump: list[str] = []
    with db.engine.connect() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection)
        for table in metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                dump.extend(str(value) for value in row)

    text = "\n".join(dump)
    assert link.public_id in text
    assert signature not in text
    assert "/setup/" not in text


@pytest.mark.postgres_only
def test_concurrent_invites_leave_exactly_one_active_link(
    db: Database, settings: Settings, is_postgres: bool, database_url: str
) -> None:
    if not is_postgres:
        pytest.skip("needs PostgreSQL for truly concurrent writers")
    with db.session() as session:
        org_id = organization_add(session).id
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def invite(n: int) -> None:
        database = Database(create_db_engine(database_url, pool=False))
        try:
            barrier.wait()
            with database.session() as session:
                organization = session.get(Organization, org_id)
                assert organization is not None
                invite_create(
                    session,
                    settings,
                    organization=organization,
                    features=["sso"],
                    emails=[f"admin{n}@globex.example"],
                    staff=None,
                )
        except InviteError as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=invite, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    with db.session() as session:
        statuses = [link.status for link in session.exec(select(SetupLink)).all()]
        features = session.exec(select(OrganizationFeature)).all()
    assert statuses.count("active") == 1
    assert statuses.count("replaced") == len(statuses) - 1
    assert len(statuses) + len(errors) == 8
    assert errors == []
    assert len(features) == 1
