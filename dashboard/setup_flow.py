"""The IT admin's side of a setup link: open it, sign in as an invitee, open the portal.

Endpoints in `dashboard.routes.setup` stay thin and call these. The portal
link minted here is returned to the caller only, which puts it in one
`Location` header: it is never stored, logged or rendered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dashboard.audit import VISITOR_ACTOR, audit_record, it_admin_actor
from dashboard.invites import link_status, setup_url
from dashboard.models import (
    SETUP_STATES,
    Invitee,
    Organization,
    OrganizationFeature,
    SetupLink,
    Staff,
    utcnow,
)
from dashboard.progress import progress_step
from dashboard.services.workos import FeatureStatus, WorkOSFailure, WorkOSGateway
from dashboard.settings import FEATURES, Settings
from dashboard.setup_tokens import portal_external_user_id
from dashboard.validation import email_key

log = logging.getLogger(__name__)

SESSION_SIGNED_IN = "setup_admin"
"""Session key: the one setup link this browser is signed in for, and as whom."""
SESSION_PENDING = "setup_pending"
"""Session key: the setup link a sign-in in progress is for."""

FEATURE_ASKS: dict[str, str] = {
    "sso": "Connect your identity provider (such as Okta, Entra ID or Google Workspace) so your people sign in with their work accounts. You will need admin access to that provider to create an application and copy a few values.",
    "dsync": "Connect your user directory so people and groups are added and removed automatically. You will need admin access to your directory or identity provider.",
    "audit_logs": "Review the record of who did what in your organization's account. Nothing to configure unless you want to.",
    "log_streams": "Send the audit log to your own log or security tool (a SIEM such as Datadog or Splunk). You will need an endpoint or credentials for that tool.",
    "domain_verification": "Prove that your organization owns its email domains by adding a DNS TXT record. You will need access to your domain's DNS settings.",
    "certificate_renewal": "Upload a renewed SAML signing certificate before the current one expires. You will need admin access to your identity provider.",
    "bring_your_own_key": "Connect an encryption key that you manage in your own cloud key service. You will need admin access to that key service.",
}
"""What each portal feature will ask of the IT admin, in plain words."""

PORTAL_OPENED = SETUP_STATES.index("portal_opened")

ENDED_TEXT = {
    "revoked": "This setup link was revoked and no longer works.",
    "replaced": "A newer invite was sent — use the latest email. This older setup link no longer works.",
    "expired": "This setup link has expired.",
    "unavailable": "This setup link is no longer available.",
}


def link_state(link: SetupLink, organization: Organization, now: datetime) -> str:
    """ "active", or why the link no longer works: revoked, replaced, expired, unavailable."""
    if organization.deleted_at is not None:
        return "unavailable"
    status = link_status(link, now)
    return status if status == "active" or status in ENDED_TEXT else "unavailable"


def setup_link_load(
    session: Session, public_id: str
) -> tuple[SetupLink, Organization] | None:
    """The link and its organization in one query."""
    row = session.exec(
        select(SetupLink, Organization)
        .join(Organization, col(Organization.id) == col(SetupLink.organization_id))
        .where(SetupLink.public_id == public_id)
    ).first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class FeatureItem:
    intent: str
    name: str
    asks: str
    done: bool
    started: bool
    detail: str


@dataclass(frozen=True)
class SetupView:
    """What the setup page shows about a live link."""

    organization_name: str
    inviter: str
    expires_at: datetime
    features: list[FeatureItem]


def setup_view(
    session: Session, link: SetupLink, organization: Organization
) -> SetupView:
    inviter = session.get(Staff, link.created_by_id) if link.created_by_id else None
    assert organization.id is not None
    rows = {
        row.intent: row
        for row in session.exec(
            select(OrganizationFeature).where(
                OrganizationFeature.organization_id == organization.id
            )
        )
    }
    features = []
    for intent in link.features:
        row = rows.get(intent)
        state = row.state if row is not None else "invited"
        features.append(
            FeatureItem(
                intent=intent,
                name=FEATURES.get(intent, intent),
                asks=FEATURE_ASKS.get(intent, ""),
                done=state == "done",
                started=state == "portal_opened",
                detail=row.detail if row is not None else "",
            )
        )
    inviter_text = ""
    if inviter is not None:
        inviter_text = (
            f"{inviter.name} ({inviter.email})" if inviter.name else inviter.email
        )
    return SetupView(
        organization_name=organization.name,
        inviter=inviter_text,
        expires_at=link.expires_at,
        features=features,
    )


FINISHED_CHECK_SECONDS = 2.0
"""How long the setup page waits for WorkOS to confirm a feature the admin just finished."""


async def feature_status_refresh(
    workos: WorkOSGateway, organization: Organization, intent: str
) -> FeatureStatus | None:
    """Ask WorkOS whether `intent` is done, in case its event has not arrived yet.

    Bounded and forgiving: on any failure the page shows what it knows.
    """
    if not organization.workos_id:
        return None
    try:
        status = await asyncio.wait_for(
            workos.feature_status(organization.workos_id, [intent]),
            FINISHED_CHECK_SECONDS,
        )
    except (WorkOSFailure, TimeoutError) as exc:
        log.warning(
            "setup_feature_status_failed",
            extra={"organization_id": organization.id, "error": type(exc).__name__},
        )
        return None
    return status.get(intent)


def setup_feature_done(
    session: Session, organization: Organization, intent: str, detail: str
) -> None:
    assert organization.id is not None
    progress_step(session, organization.id, "done", intents=[intent], detail=detail)


def setup_mark_opened(
    session: Session, link: SetupLink, organization: Organization
) -> bool:
    """Record the first opening of a link, exactly once even under concurrent opens."""
    if link.first_opened_at is not None:
        return False
    now = utcnow()
    table = SetupLink.__table__  # type: ignore[attr-defined]
    result = session.execute(
        sa.update(table)
        .where(table.c.id == link.id, table.c.first_opened_at.is_(None))
        .values(first_opened_at=now)
    )
    if not getattr(result, "rowcount", 0):
        return False
    assert organization.id is not None
    link.first_opened_at = now
    progress_step(session, organization.id, "opened", intents=link.features, at=now)
    audit_record(
        session,
        "setup.opened",
        actor=VISITOR_ACTOR,
        organization_id=organization.id,
        link_id=link.id,
    )
    return True


def email_keys(email: str) -> list[str]:
    """The keys an address may be stored under in `Invitee.email_key`."""
    keys = [email.strip().lower()]
    key = email_key(email)
    if key is not None and key not in keys:
        keys.append(key)
    return keys


def invitee_match(session: Session, link: SetupLink, email: str) -> Invitee | None:
    """The invitee of `link` with this address, compared case-insensitively."""
    return session.exec(
        select(Invitee).where(
            Invitee.setup_link_id == link.id,
            col(Invitee.email_key).in_(email_keys(email)),
        )
    ).first()


@dataclass(frozen=True)
class AdminSession:
    """An IT admin signed in for one setup link; lives in the signed session cookie."""

    link_public_id: str
    invitee_id: int
    email: str
    signed_in_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "link": self.link_public_id,
            "invitee": self.invitee_id,
            "email": self.email,
            "since": self.signed_in_at,
        }


def admin_session_get(
    session_data: Mapping[str, Any], link_public_id: str, max_age_seconds: int
) -> AdminSession | None:
    """The signed-in admin for this link, or None (other link, expired, malformed)."""
    raw = session_data.get(SESSION_SIGNED_IN)
    if not isinstance(raw, dict):
        return None
    link, invitee, email, since = (
        raw.get("link"),
        raw.get("invitee"),
        raw.get("email"),
        raw.get("since"),
    )
    if (
        link != link_public_id
        or not isinstance(invitee, int)
        or not isinstance(email, str)
        or not isinstance(since, (int, float))
    ):
        return None
    if time.time() - since >= max_age_seconds:
        return None
    return AdminSession(link_public_id, invitee, email, float(since))


def admin_session_begin(
    session_data: MutableMapping[str, Any],
    link: SetupLink,
    invitee: Invitee,
    email: str,
) -> AdminSession:
    """Bind this browser to one link and invitee, replacing any earlier binding."""
    assert invitee.id is not None
    admin = AdminSession(link.public_id, invitee.id, email, time.time())
    session_data[SESSION_SIGNED_IN] = admin.as_dict()
    return admin


def admin_session_end(session_data: MutableMapping[str, Any]) -> None:
    session_data.pop(SESSION_SIGNED_IN, None)


def setup_signed_in(
    session: Session,
    link: SetupLink,
    organization: Organization,
    invitee: Invitee,
    email: str,
) -> None:
    assert organization.id is not None
    now = utcnow()
    invitee.signed_in_at = now
    session.add(invitee)
    progress_step(session, organization.id, "signed_in", intents=link.features, at=now)
    audit_record(
        session,
        "setup.signed_in",
        actor=it_admin_actor(email),
        organization_id=organization.id,
        email=email,
        link_id=link.id,
    )


def setup_sign_in_refused(
    session: Session,
    link: SetupLink,
    organization: Organization,
    email: str,
    reason: str,
) -> None:
    """Put the refused attempt on the organization's timeline: who, and why."""
    audit_record(
        session,
        "setup.sign_in_refused",
        actor=it_admin_actor(email),
        organization_id=organization.id,
        email=email,
        reason=reason,
        link_id=link.id,
    )


async def portal_link_mint(
    workos: WorkOSGateway,
    settings: Settings,
    *,
    link: SetupLink,
    organization: Organization,
    admin: AdminSession,
    intent: str,
) -> str:
    """Ask WorkOS for a portal link for this admin and intent; raises WorkOSFailure.

    The organization comes from the link, never from the request. The result
    must go straight into a redirect's `Location` and nowhere else.
    """
    assert organization.workos_id is not None
    page = setup_url(settings, link)
    return await workos.generate_portal_link(
        organization_id=organization.workos_id,
        intent=intent,
        return_url=page,
        success_url=f"{page}?finished={intent}",
        external_user_id=portal_external_user_id(link.public_id, admin.invitee_id),
        it_contact_emails=[admin.email],
    )


def setup_portal_opened(
    session: Session,
    link: SetupLink,
    organization: Organization,
    admin: AdminSession,
    intent: str,
) -> None:
    """Record the click; kept to a few statements, as the admin waits on it.

    The feature's progress is moved only when it is not that far yet, so a
    repeated click costs two updates and an insert.
    """
    assert organization.id is not None
    now = utcnow()
    invitees = Invitee.__table__  # type: ignore[attr-defined]
    session.execute(
        sa.update(invitees)
        .where(invitees.c.id == admin.invitee_id)
        .values(portal_opened_at=now)
    )
    state = session.exec(
        select(OrganizationFeature.state).where(
            OrganizationFeature.organization_id == organization.id,
            OrganizationFeature.intent == intent,
        )
    ).first()
    if state is None or SETUP_STATES.index(state) < PORTAL_OPENED:
        progress_step(
            session, organization.id, "portal_opened", intents=[intent], at=now
        )
    audit_record(
        session,
        "setup.portal_opened",
        actor=it_admin_actor(admin.email),
        organization_id=organization.id,
        feature=intent,
        link_id=link.id,
    )


def setup_portal_failed(
    session: Session,
    organization: Organization,
    admin: AdminSession,
    intent: str,
    kind: str,
) -> None:
    """Staff see on the timeline that the admin hit a WorkOS failure, and which."""
    audit_record(
        session,
        "setup.portal_failed",
        actor=it_admin_actor(admin.email),
        organization_id=organization.id,
        feature=intent,
        kind=kind,
    )
