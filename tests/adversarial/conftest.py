"""A world to attack: one organization with a domain, an active setup link with an
invitee and an outbox email, and a client for each kind of visitor.

Every client runs the same app settings: staff sign-in and IT admin sign-in at
the mock identity provider, WorkOS at the emulator, and `/dev/mail` mounted,
so every route of the product exists in the app under attack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.db import Database
from dashboard.models import Domain, ImportJob, OutboxEmail
from dashboard.settings import Secret, Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.identity import IdentityProvider
from tests.fixtures.staff import (
    ADMIN_EMAIL,
    MEMBER_EMAIL,
    OUTSIDER_EMAIL,
    StaffClient,
)
from tests.setup_helpers import (
    INVITEE,
    Invite,
    invite,
    setup_settings,
    setup_sign_in,
    workos_organization_id,
)

WEBHOOK_SECRET = "adversarial-webhook-secret"


@dataclass
class World:
    """The rows every attacked route points at, and the values for its path."""

    invite: Invite
    organization_id: int
    domain_id: int
    email_id: int
    workos_organization_id: str
    import_job_id: int = 0

    def path_values(self) -> dict[str, str]:
        """A value for every path parameter name the app uses; new names must be added."""
        return {
            "organization_id": str(self.organization_id),
            "org_id": str(self.organization_id),
            "domain_id": str(self.domain_id),
            "email_id": str(self.email_id),
            "token": self.invite.token,
            "intent": "sso",
            "provider": "exampleid",
            "job_id": str(self.import_job_id),
        }


@pytest.fixture
def attack_settings(
    staff_settings: Settings,
    emulator: EmulatorHandle,
    identity_provider: IdentityProvider,
) -> Settings:
    """Every route mounted: staff and IT admin sign-in, webhooks, the dev mailbox."""
    return setup_settings(staff_settings, emulator, identity_provider).with_overrides(
        workos_webhook_secret=Secret(WEBHOOK_SECRET),
        dev_mailbox=True,
    )


@pytest.fixture
def world(db: Database, attack_settings: Settings, emulator: EmulatorHandle) -> World:
    workos_id = workos_organization_id(emulator, "Globex")
    made = invite(db, attack_settings, workos_id=workos_id, features=("sso", "dsync"))
    organization_id = made.organization.id
    assert organization_id is not None
    with db.session() as session:
        domain = Domain(organization_id=organization_id, domain="globex.example")
        session.add(domain)
        session.flush()
        email = session.exec(
            select(OutboxEmail).where(OutboxEmail.organization_id == organization_id)
        ).first()
        assert email is not None and domain.id is not None and email.id is not None
        job = ImportJob(filename="customers.csv", status="finished")
        session.add(job)
        session.flush()
        assert job.id is not None
        ids = (domain.id, email.id, job.id)
    return World(made, organization_id, ids[0], ids[1], workos_id, ids[2])


@pytest.fixture
def visitor(
    db: Database,
    attack_settings: Settings,
    world: World,
    identity_provider: IdentityProvider,
    make_staff_client: Callable[..., StaffClient],
) -> Iterator[Callable[[str], TestClient]]:
    """`visitor(kind)`: a client of that kind, signed in through the real flows.

    Kinds: "anonymous", "non_staff" (signed in at the provider, not
    allow-listed), "member", "admin", "it_admin" (an invitee signed in on
    the world's setup link).
    """
    opened: list[TestClient] = []

    def make(kind: str) -> TestClient:
        if kind in ("member", "admin"):
            email = MEMBER_EMAIL if kind == "member" else ADMIN_EMAIL
            return make_staff_client(email, kind, settings=attack_settings)
        if kind == "non_staff":
            outsider = make_staff_client(OUTSIDER_EMAIL, None, settings=attack_settings)
            if not outsider.csrf:
                outsider.get("/auth/login")
            outsider.headers["X-CSRF-Token"] = outsider.csrf
            return outsider
        client = StaffClient(create_app(attack_settings))
        client.secret = attack_settings.secret_key.reveal()
        client.__enter__()
        opened.append(client)
        if kind == "it_admin":
            identity_provider.register(INVITEE)
            answer = setup_sign_in(client, world.invite.path, INVITEE)
            assert answer.status_code == 303, answer.text
        elif kind != "anonymous":
            raise ValueError(f"unknown visitor kind {kind!r}")
        if not client.csrf:
            client.get("/auth/login")  # any page puts a CSRF token in the session
        client.headers["X-CSRF-Token"] = client.csrf
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
