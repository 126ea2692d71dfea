"""Arrange helpers for the IT admin's setup flow: an invite, a configured IdP, a sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import workos
from starlette.testclient import TestClient

from dashboard.db import Database
from dashboard.invites import invite_create
from dashboard.models import Organization, SetupLink
from dashboard.settings import OIDCProvider, Secret, Settings
from dashboard.setup_tokens import setup_token
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.identity import IdentityProvider
from tests.invite_helpers import organization_add, staff_member

ADMIN_PROVIDER = "exampleid"
INVITEE = "it.admin@globex.example"


def setup_settings(
    settings: Settings, emulator: EmulatorHandle, identity: IdentityProvider
) -> Settings:
    """WorkOS at the emulator and one IT admin provider at the mock IdP."""
    return emulator.settings(settings).with_overrides(
        admin_oidc=(
            OIDCProvider(
                name=ADMIN_PROVIDER,
                issuer=identity.issuer,
                client_id="dashboard-setup",
                client_secret=Secret("setup-client-secret"),
                label="Sign in with Example ID",
            ),
        )
    )


@dataclass
class Invite:
    token: str
    path: str
    link: SetupLink
    organization: Organization


def workos_organization_id(emulator: EmulatorHandle, name: str) -> str:
    with workos.WorkOSClient(
        api_key=emulator.api_key, client_id=emulator.client_id, base_url=emulator.url
    ) as client:
        return client.organizations.create_organization(name=name).id


def invite(
    db: Database,
    settings: Settings,
    *,
    workos_id: str | None,
    emails: tuple[str, ...] = (INVITEE,),
    features: tuple[str, ...] = ("sso", "dsync"),
    name: str = "Globex",
) -> Invite:
    """An organization (at WorkOS when `workos_id` is given) with an active invite."""
    with db.session() as session:
        organization = organization_add(session, name, workos_id=workos_id)
        staff = staff_member(session)
        result = invite_create(
            session,
            settings,
            organization=organization,
            features=list(features),
            emails=list(emails),
            staff=staff,
        )
    token = setup_token(result.link.public_id, settings.secret_key)
    return Invite(token, f"/setup/{token}", result.link, organization)


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def setup_sign_in(
    client: TestClient, path: str, subject: str, *, provider: str = ADMIN_PROVIDER
) -> httpx.Response:
    """Click the sign-in button, type `subject` at the IdP, follow back; the callback's answer."""
    page = client.get(path)
    start = client.post(
        f"{path}/sign-in",
        data={"csrf_token": form_csrf(page.text), "provider": provider},
        follow_redirects=False,
    )
    assert start.status_code in (302, 303), start.text
    answer = httpx.post(
        start.headers["location"], data={"sub": subject}, follow_redirects=False
    )
    assert answer.status_code in (302, 303), answer.text
    return client.get(answer.headers["location"], follow_redirects=False)


def feature_click(client: TestClient, path: str, intent: str) -> httpx.Response:
    """Press a feature's button on the setup page (a form POST with its CSRF token)."""
    page = client.get(path)
    return client.post(
        f"{path}/portal/{intent}",
        data={"csrf_token": form_csrf(page.text)},
        follow_redirects=False,
    )
