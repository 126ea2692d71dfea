"""The IT admin's whole flow through the app: real IdP sign-in, real SDK against the emulator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
import workos._base_client
from sqlmodel import SQLModel, col, select
from starlette.testclient import TestClient

import dashboard.services.workos as workos_service
from dashboard.db import Database
from dashboard.invites import invite_revoke
from dashboard.models import (
    AuditEvent,
    Invitee,
    OrganizationFeature,
    SetupLink,
    utcnow,
)
from dashboard.progress import progress_step
from dashboard.settings import Settings
from dashboard.setup_tokens import portal_external_user_id
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.identity import IdentityProvider
from tests.setup_helpers import (
    INVITEE,
    Invite,
    feature_click,
    invite,
    setup_settings,
    setup_sign_in,
    workos_organization_id,
)


@pytest.fixture
def flow_settings(
    settings: Settings, emulator: EmulatorHandle, identity_provider: IdentityProvider
) -> Settings:
    return setup_settings(settings, emulator, identity_provider)


@pytest.fixture
def live_invite(
    db: Database,
    flow_settings: Settings,
    emulator: EmulatorHandle,
    identity_provider: IdentityProvider,
) -> Invite:
    """Globex, at WorkOS and here, with INVITEE invited for SSO and Directory Sync."""
    identity_provider.register(INVITEE)
    return invite(
        db, flow_settings, workos_id=workos_organization_id(emulator, "Globex")
    )


@pytest.fixture
def app_client(
    make_client: Callable[..., TestClient], flow_settings: Settings
) -> TestClient:
    return make_client(flow_settings)


def audit_actions(db: Database) -> list[str]:
    with db.session() as session:
        return [
            e.action
            for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        ]


def feature_states(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {r.intent: r.state for r in session.exec(select(OrganizationFeature))}


def test_invited_admin_signs_in_and_lands_in_the_portal(
    app_client: TestClient, live_invite: Invite, emulator: EmulatorHandle, db: Database
) -> None:
    before = app_client.get(live_invite.path)
    signed_in = setup_sign_in(app_client, live_invite.path, INVITEE)
    page = app_client.get(live_invite.path)

    answer = feature_click(app_client, live_invite.path, "sso")

    assert before.status_code == 200
    assert before.context["admin"] is None
    assert "Sign in with Example ID" in before.text
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == live_invite.path
    assert page.context["admin"].email == INVITEE
    assert '<button type="submit" aria-describedby' in page.text
    assert ">Single Sign-On</button>" in page.text
    assert ">Directory Sync</button>" in page.text
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(emulator.url)
    [minted] = emulator.state()["portal_links"]
    with db.session() as session:
        invitee = session.exec(select(Invitee)).one()
    assert minted["intent"] == "sso"
    assert minted["organization_id"] == live_invite.organization.workos_id
    assert minted["external_user_id"] == portal_external_user_id(
        live_invite.link.public_id, invitee.id or 0
    )
    assert minted["it_contact_emails"] == [INVITEE]
    assert minted["return_url"] == f"http://testserver{live_invite.path}"
    assert minted["success_url"] == f"http://testserver{live_invite.path}?finished=sso"
    portal = httpx.get(location, follow_redirects=True)
    assert portal.status_code == 200
    assert "Admin Portal" in portal.text
    assert invitee.signed_in_at is not None
    assert invitee.portal_opened_at is not None
    assert feature_states(db) == {"sso": "portal_opened", "dsync": "signed_in"}
    assert audit_actions(db)[-3:] == [
        "setup.opened",
        "setup.signed_in",
        "setup.portal_opened",
    ]


def test_opening_is_recorded_once_per_link(
    app_client: TestClient, live_invite: Invite, db: Database
) -> None:
    app_client.get(live_invite.path)
    app_client.get(live_invite.path)

    assert audit_actions(db).count("setup.opened") == 1
    assert feature_states(db) == {"sso": "opened", "dsync": "opened"}


def test_back_from_the_portal_shows_done_and_a_success_message(
    app_client: TestClient, live_invite: Invite, db: Database
) -> None:
    setup_sign_in(app_client, live_invite.path, INVITEE)
    with db.session() as session:
        assert live_invite.organization.id is not None
        progress_step(session, live_invite.organization.id, "done", intents=["sso"])

    page = app_client.get(live_invite.path, params={"finished": "sso"})

    assert page.status_code == 200
    assert page.context["finished_name"] == "Single Sign-On"
    assert "Single Sign-On setup is finished" in page.text
    done = {f.intent: f.done for f in page.context["view"].features}
    assert done == {"sso": True, "dsync": False}


def test_email_is_compared_case_insensitively(
    db: Database,
    flow_settings: Settings,
    app_client: TestClient,
    emulator: EmulatorHandle,
    identity_provider: IdentityProvider,
) -> None:
    identity_provider.register("casey.admin@initech.example")
    setup = invite(
        db,
        flow_settings,
        workos_id=workos_organization_id(emulator, "Initech"),
        emails=("Casey.Admin@Initech.example",),
        name="Initech",
    )

    answer = setup_sign_in(app_client, setup.path, "casey.admin@initech.example")

    assert answer.status_code == 303


def test_a_wrong_account_is_refused_by_name_and_mints_nothing(
    app_client: TestClient,
    live_invite: Invite,
    identity_provider: IdentityProvider,
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    identity_provider.register("mallory@elsewhere.example")

    answer = setup_sign_in(app_client, live_invite.path, "mallory@elsewhere.example")
    click = feature_click(app_client, live_invite.path, "sso")

    assert answer.status_code == 403
    assert answer.template.name == "setup/refused.html"  # type: ignore[attr-defined]
    assert "mallory@elsewhere.example" in answer.text
    assert "not one of the addresses invited" in answer.text
    assert "Sign in with Example ID" in answer.text
    assert INVITEE not in answer.text
    assert click.status_code == 303
    assert click.headers["location"] == live_invite.path
    assert emulator.state()["portal_links"] == []
    with db.session() as session:
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.action == "setup.sign_in_refused")
        ).one()
    assert refused.actor == "it_admin:mallory@elsewhere.example"
    assert refused.organization_id == live_invite.organization.id
    assert refused.detail["reason"] == "not_invited"


def test_an_unverified_email_is_refused(
    app_client: TestClient, live_invite: Invite, identity_provider: IdentityProvider
) -> None:
    httpx.put(
        f"{identity_provider.issuer}/users/unverified-admin",
        json={"email": INVITEE, "email_verified": False},
    ).raise_for_status()

    answer = setup_sign_in(app_client, live_invite.path, "unverified-admin")

    assert answer.status_code == 403
    assert answer.context["reason"] == "email_not_verified"
    assert "has not verified" in answer.text
    assert app_client.get(live_invite.path).context["admin"] is None


@pytest.mark.parametrize("ending", ["revoked", "replaced", "expired"])
def test_a_click_after_the_link_ended_never_mints(
    ending: str,
    app_client: TestClient,
    live_invite: Invite,
    flow_settings: Settings,
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    setup_sign_in(app_client, live_invite.path, INVITEE)
    page = app_client.get(live_invite.path)
    with db.session() as session:
        if ending == "revoked":
            invite_revoke(session, organization=live_invite.organization, staff=None)
        elif ending == "replaced":
            from dashboard.invites import invite_create

            invite_create(
                session,
                flow_settings,
                organization=live_invite.organization,
                features=["sso"],
                emails=[INVITEE],
                staff=None,
            )
        else:
            link = session.get(SetupLink, live_invite.link.id)
            assert link is not None
            link.expires_at = utcnow() - timedelta(minutes=1)
            session.add(link)

    click = app_client.post(
        f"{live_invite.path}/portal/sso",
        data={"csrf_token": page.context["csrf_token"]},
        follow_redirects=False,
    )
    again = app_client.get(live_invite.path)

    assert click.status_code == 410
    assert emulator.state()["portal_links"] == []
    assert again.status_code == 410
    assert again.template.name == "setup/ended.html"  # type: ignore[attr-defined]
    assert "help@acme.test" in again.text
    assert "Globex" not in again.text
    if ending == "replaced":
        assert "A newer invite was sent — use the latest email" in again.text
    else:
        assert ending in again.text


def test_an_expired_session_never_mints(
    make_client: Callable[..., TestClient],
    flow_settings: Settings,
    live_invite: Invite,
    emulator: EmulatorHandle,
) -> None:
    client = make_client(flow_settings.with_overrides(admin_session_max_age_seconds=0))
    signed_in = setup_sign_in(client, live_invite.path, INVITEE)

    click = feature_click(client, live_invite.path, "sso")
    page = client.get(live_invite.path)

    assert signed_in.status_code == 303
    assert click.status_code == 303
    assert click.headers["location"] == live_invite.path
    assert emulator.state()["portal_links"] == []
    assert "Your sign-in has expired" in page.text


@pytest.mark.parametrize("intent", ["audit_logs", "not_a_feature"])
def test_a_feature_not_on_the_link_is_refused_without_minting(
    intent: str,
    app_client: TestClient,
    live_invite: Invite,
    emulator: EmulatorHandle,
) -> None:
    setup_sign_in(app_client, live_invite.path, INVITEE)

    click = feature_click(app_client, live_invite.path, intent)

    assert click.status_code == 404
    assert "not part of this invite" in click.text
    assert emulator.state()["portal_links"] == []


def test_the_session_is_bound_to_one_link(
    app_client: TestClient,
    live_invite: Invite,
    db: Database,
    flow_settings: Settings,
    emulator: EmulatorHandle,
) -> None:
    other = invite(
        db,
        flow_settings,
        workos_id=workos_organization_id(emulator, "Umbrella"),
        name="Umbrella",
    )
    setup_sign_in(app_client, live_invite.path, INVITEE)

    click = feature_click(app_client, other.path, "sso")

    assert click.status_code == 303
    assert click.headers["location"] == other.path
    assert emulator.state()["portal_links"] == []


@pytest.mark.parametrize(
    ("faults", "bound", "expected"),
    [
        ({"next_statuses": [500, 500, 500, 500]}, 4.0, "The portal is unavailable"),
        (
            {"fail_429_rate": 1, "retry_after_seconds": 0},
            4.0,
            "The portal is busy right now",
        ),
        ({"latency_ms": 1500}, 0.5, "The portal took too long to answer"),
    ],
    ids=["5xx", "429", "too-slow"],
)
def test_workos_faults_show_a_clear_page_with_try_again(
    faults: dict[str, object],
    bound: float,
    expected: str,
    app_client: TestClient,
    live_invite: Invite,
    emulator: EmulatorHandle,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Keep the test fast: no SDK backoff sleeps, and a short bound where it is the point.
    monkeypatch.setattr(workos._base_client, "INITIAL_RETRY_DELAY", 0)
    monkeypatch.setattr(workos_service, "PORTAL_LINK_TIMEOUT_SECONDS", bound)
    setup_sign_in(app_client, live_invite.path, INVITEE)
    emulator.set_faults(**faults)

    answer = feature_click(app_client, live_invite.path, "sso")

    assert answer.status_code in (502, 503)
    assert answer.template.name == "setup/problem.html"  # type: ignore[attr-defined]
    assert expected in answer.text
    assert ">Try again</button>" in answer.text
    assert f'action="{live_invite.path}/portal/sso"' in answer.text
    assert "setup.portal_failed" in audit_actions(db)
    assert feature_states(db)["sso"] == "signed_in"


def test_the_portal_link_is_never_logged_or_stored(
    app_client: TestClient,
    live_invite: Invite,
    emulator: EmulatorHandle,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loggers = [
        logging.getLogger(),
        *map(logging.getLogger, logging.root.manager.loggerDict),
    ]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            setup_sign_in(app_client, live_invite.path, INVITEE)
            answer = feature_click(app_client, live_invite.path, "sso")
            landed = app_client.get(live_invite.path, params={"finished": "sso"})
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)

    link = answer.headers["location"]
    secret = urlsplit(link).query.partition("secret=")[2]
    assert answer.status_code == 303
    assert len(secret) >= 20
    needles = {link, secret}
    assert caplog.records
    for record in caplog.records:
        text = repr(record.__dict__) + record.getMessage()
        assert not any(n in text for n in needles), record.name
    assert not any(n in landed.text for n in needles)
    with db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                text = repr(tuple(row))
                assert not any(n in text for n in needles), table.name


def test_a_finished_feature_is_confirmed_with_workos_before_its_event_arrives(
    app_client: TestClient, live_invite: Invite, emulator: EmulatorHandle, db: Database
) -> None:
    setup_sign_in(app_client, live_invite.path, INVITEE)
    assert live_invite.organization.workos_id is not None
    emulator.finish(live_invite.organization.workos_id, "sso")

    page = app_client.get(live_invite.path, params={"finished": "sso"})

    assert page.status_code == 200
    assert "Single Sign-On setup is finished" in page.text
    assert feature_states(db)["sso"] == "done"
    done = {f.intent: f.done for f in page.context["view"].features}
    assert done == {"sso": True, "dsync": False}


def test_the_page_still_answers_when_workos_is_down(
    app_client: TestClient,
    live_invite: Invite,
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workos._base_client, "INITIAL_RETRY_DELAY", 0)
    setup_sign_in(app_client, live_invite.path, INVITEE)
    emulator.set_faults(fail_5xx_rate=1)

    page = app_client.get(live_invite.path, params={"finished": "sso"})

    assert page.status_code == 200
    assert "Single Sign-On setup is finished" in page.text


def test_an_organization_not_yet_at_workos_never_mints(
    db: Database,
    flow_settings: Settings,
    app_client: TestClient,
    identity_provider: IdentityProvider,
    emulator: EmulatorHandle,
) -> None:
    identity_provider.register(INVITEE)
    setup = invite(db, flow_settings, workos_id=None)
    setup_sign_in(app_client, setup.path, INVITEE)

    answer = feature_click(app_client, setup.path, "sso")

    assert answer.status_code == 503
    assert "Setup is not ready yet" in answer.text
    assert emulator.state()["portal_links"] == []


@pytest.mark.parametrize(
    ("intent", "name"), [("audit_logs", "Audit Logs"), ("log_streams", "Log Streams")]
)
def test_features_without_a_workos_event_are_confirmed_from_their_configuration(
    db: Database,
    flow_settings: Settings,
    make_client: Callable[..., TestClient],
    emulator: EmulatorHandle,
    identity_provider: IdentityProvider,
    intent: str,
    name: str,
) -> None:
    identity_provider.register(INVITEE)
    pending = invite(
        db,
        flow_settings,
        workos_id=workos_organization_id(emulator, "Initech"),
        features=(intent,),
        name="Initech",
    )
    client = make_client(flow_settings)
    setup_sign_in(client, pending.path, INVITEE)
    assert pending.organization.workos_id is not None
    emulator.finish(pending.organization.workos_id, intent)

    page = client.get(pending.path, params={"finished": intent})

    assert page.status_code == 200
    assert f"{name} setup is finished" in page.text
    assert feature_states(db)[intent] == "done"
