"""WorkOS failing (5xx, 429, too slow) at each place the app calls it, and the mail
server down: a clear message naming the cause, never a bare 500, nothing half-saved,
no invite lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from dashboard.db import Database
from dashboard.invites import invite_create
from dashboard.models import Organization, OutboxEmail, SetupLink
from dashboard.outbox import OutboxSender
from dashboard.services import workos as workos_service
from dashboard.services.mail import SMTPMailer, parse_smtp_url
from dashboard.settings import Secret, Settings
from tests.adversarial.conftest import World
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.smtp import SMTPServer
from tests.invite_helpers import organization_add, staff_member

FAULTS = {
    "5xx": {"fail_5xx_rate": 1.0, "retry_after_seconds": 0},
    "429": {"fail_429_rate": 1.0, "retry_after_seconds": 0},
}
TRACEBACK_WORDS = ("Traceback", "Exception", "workos._errors", 'File "')


def _organizations(db: Database) -> int:
    with db.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(Organization)
        ).scalar_one()


def _clear(response_text: str) -> bool:
    return not any(word in response_text for word in TRACEBACK_WORDS)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_creating_an_organization_while_workos_fails_explains_and_saves_nothing_half(
    fault: str,
    visitor: Callable[[str], TestClient],
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    client = visitor("admin")
    before = _organizations(db)
    emulator.set_faults(**FAULTS[fault])

    response = client.post(
        "/orgs",
        data={
            "csrf_token": client.headers["X-CSRF-Token"],
            "name": "Faulty Corp",
            "external_id": f"ext-faulty-{fault}",
            "domains": "faulty.example.com",
            "features": ["sso"],
        },
        follow_redirects=False,
    )

    assert response.status_code != 500
    assert "WorkOS" in response.text
    assert _clear(response.text)
    with db.session() as session:
        saved = session.exec(
            select(Organization).where(
                Organization.external_id == f"ext-faulty-{fault}"
            )
        ).all()
    # Either nothing, or one row waiting for WorkOS that a retry finishes.
    assert len(saved) <= 1 and all(o.workos_id is None for o in saved)
    assert _organizations(db) - before == len(saved)

    emulator.set_faults(fail_5xx_rate=0, fail_429_rate=0)
    retry = client.post(
        "/orgs",
        data={
            "csrf_token": client.headers["X-CSRF-Token"],
            "name": "Faulty Corp",
            "external_id": f"ext-faulty-{fault}",
            "domains": "faulty.example.com",
            "features": ["sso"],
        },
        follow_redirects=False,
    )
    assert retry.status_code == 303
    with db.session() as session:
        finished = session.exec(
            select(Organization).where(
                Organization.external_id == f"ext-faulty-{fault}"
            )
        ).one()
    assert finished.workos_id is not None
    workos_ids = [o["id"] for o in emulator.state().get("organizations", [])]
    assert workos_ids.count(finished.workos_id) == 1


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_adding_a_domain_while_workos_fails_explains(
    fault: str,
    visitor: Callable[[str], TestClient],
    world: World,
    emulator: EmulatorHandle,
) -> None:
    client = visitor("member")
    emulator.set_faults(**FAULTS[fault])

    response = client.post(
        f"/orgs/{world.organization_id}/domains",
        data={
            "csrf_token": client.headers["X-CSRF-Token"],
            "domain": "new.example.com",
        },
    )

    assert response.status_code != 500
    assert "WorkOS" in response.text
    assert _clear(response.text)


@pytest.mark.parametrize("fault", [*sorted(FAULTS), "timeout"])
def test_the_portal_click_while_workos_fails_tells_the_admin_to_try_again(
    fault: str,
    visitor: Callable[[str], TestClient],
    world: World,
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = visitor("it_admin")
    if fault == "timeout":
        monkeypatch.setattr(workos_service, "PORTAL_LINK_TIMEOUT_SECONDS", 0.3)
        emulator.set_faults(latency_ms=1500)
    else:
        emulator.set_faults(**FAULTS[fault])

    response = client.post(f"{world.invite.path}/portal/sso", follow_redirects=False)

    assert response.status_code in (502, 503)
    assert "location" not in response.headers
    assert "Try again" in response.text
    assert _clear(response.text)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_revoking_while_workos_fails_still_ends_the_link(
    fault: str,
    visitor: Callable[[str], TestClient],
    world: World,
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    """The link is ours to end; WorkOS's revoke_link failing must not keep it alive."""
    client = visitor("member")
    emulator.set_faults(**FAULTS[fault])

    response = client.post(
        f"/orgs/{world.organization_id}/invite/revoke",
        data={"csrf_token": client.headers["X-CSRF-Token"]},
        follow_redirects=False,
    )

    assert response.status_code != 500
    assert _clear(response.text)
    with db.session() as session:
        link = session.get(SetupLink, world.invite.link.id)
        assert link is not None and link.status == "revoked"
    emulator.set_faults(fail_5xx_rate=0, fail_429_rate=0)
    assert client.get(world.invite.path).status_code in (404, 410)


def test_an_invite_survives_the_mail_server_being_down(
    db: Database, settings: Settings, smtp_server: SMTPServer
) -> None:
    mail_settings = settings.with_overrides(smtp_url=Secret(smtp_server.url))
    with db.session() as session:
        organization = organization_add(session, "Mailless")
        invite_create(
            session,
            mail_settings,
            organization=organization,
            features=["sso"],
            emails=["it@mailless.example.com"],
            staff=staff_member(session),
        )
    sender = OutboxSender(
        mail_settings, db, SMTPMailer(parse_smtp_url(smtp_server.url))
    )
    smtp_server.stop()

    sent_while_down = asyncio.run(sender.run_once())

    assert sent_while_down == 0
    with db.session() as session:
        email = session.exec(select(OutboxEmail)).one()
        assert email.status in ("queued", "failed") and email.last_error
        assert email.attempts == 1
        email.next_attempt_at = email.created_at  # the backoff has passed
        session.add(email)
    smtp_server.start()
    assert asyncio.run(sender.run_once()) == 1
    delivered = smtp_server.wait_for(1)
    assert delivered[0].rcpt_tos == ["it@mailless.example.com"]
