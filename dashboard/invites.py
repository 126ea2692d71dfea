"""Setup links and invites: create, replace, revoke and resend, with the emails they send.

An organization has at most one active setup link (a partial unique index
says so, also under concurrent invites). A new invite replaces the active
link; revoking or replacing also ends the portal sessions opened from it,
which is a WorkOS call made after the database commit (`invite_end_portal_sessions`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dashboard.audit import audit_record, staff_actor
from dashboard.models import (
    Invitee,
    Organization,
    OutboxEmail,
    SetupLink,
    Staff,
    utcnow,
)
from dashboard.outbox import outbox_cancel_for_link, outbox_enqueue, setup_url_for
from dashboard.progress import feature_rows, features_set, progress_step
from dashboard.services.dev_identity import (
    DevIdentityError,
    dev_identity_register_async,
)
from dashboard.services.workos import WorkOSFailure, WorkOSGateway
from dashboard.settings import Secret, Settings
from dashboard.setup_tokens import (
    new_public_id,
    portal_external_user_id,
    verify_setup_token,
)
from dashboard.validation import MAX_EMAILS, email_parse, features_parse

log = logging.getLogger(__name__)

INVITE_TEMPLATE = "invite"
INVITE_ATTEMPTS = 10
LINK_STATUSES = ("active", "expired", "revoked", "replaced")


class InviteError(ValueError):
    """The invite cannot be made as asked; `field` names the form field to show it by."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class EndedLink:
    """A link that stopped working, with the invitees whose portal sessions must end."""

    link: SetupLink
    invitees: list[Invitee]


@dataclass(frozen=True)
class InviteResult:
    link: SetupLink
    invitees: list[Invitee]
    emails: list[OutboxEmail]
    replaced: EndedLink | None = None
    notes: list[str] = field(default_factory=list)


def setup_url(settings: Settings, link: SetupLink) -> str:
    """The stable URL mailed to the IT admins; rebuilt, never stored."""
    return setup_url_for(settings, link)


def signing_keys(settings: Settings) -> tuple[Secret, ...]:
    return (settings.secret_key, *settings.old_secret_keys)


def link_status(link: SetupLink, now: datetime | None = None) -> str:
    """ "active", "expired", "revoked" or "replaced": what the link does right now."""
    if link.status != "active":
        return link.status
    if link.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def link_from_token(
    session: Session, settings: Settings, token: str
) -> SetupLink | None:
    """The link a setup URL's token names, or None when the token is forged or unknown."""
    public_id = verify_setup_token(token, signing_keys(settings))
    if public_id is None:
        return None
    return session.exec(
        select(SetupLink).where(SetupLink.public_id == public_id)
    ).first()


def active_link(session: Session, organization_id: int) -> SetupLink | None:
    """The organization's active link (possibly past its expiry), if any."""
    return session.exec(
        select(SetupLink).where(
            SetupLink.organization_id == organization_id, SetupLink.status == "active"
        )
    ).first()


def link_invitees(session: Session, link_id: int) -> list[Invitee]:
    return list(
        session.exec(
            select(Invitee)
            .where(Invitee.setup_link_id == link_id)
            .order_by(col(Invitee.id))
        )
    )


def _end_link(
    session: Session, link: SetupLink, status: str, staff: Staff | None, now: datetime
) -> EndedLink:
    link.status = status
    link.ended_at = now
    link.ended_by_id = staff.id if staff is not None else None
    session.add(link)
    assert link.id is not None
    outbox_cancel_for_link(
        session, link.id, f"Not sent: the setup link was {status} first."
    )
    return EndedLink(link, link_invitees(session, link.id))


def _clean_emails(emails: Sequence[str]) -> list[tuple[str, str]]:
    cleaned: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in emails:
        address, error = email_parse(raw)
        if error or address is None:
            raise InviteError(error or "Enter an email address", field="emails")
        if address.key not in seen:
            seen.add(address.key)
            cleaned.append((address.address, address.key))
    if not cleaned:
        raise InviteError("Enter at least one IT admin email", field="emails")
    if len(cleaned) > MAX_EMAILS:
        raise InviteError(
            f"At most {MAX_EMAILS} email addresses, {len(cleaned)} were given",
            field="emails",
        )
    return cleaned


def invite_create(
    session: Session,
    settings: Settings,
    *,
    organization: Organization,
    features: list[str],
    emails: list[str],
    staff: Staff | None,
) -> InviteResult:
    """Make a new setup link for `emails`, replacing the active one, and queue the emails.

    Runs in the caller's transaction (a savepoint, retried while a concurrent
    invite made its link first); the caller commits, then calls
    `invite_end_portal_sessions` for `result.replaced`.
    """
    chosen, error = features_parse(features, required=True)
    if error:
        raise InviteError(error, field="features")
    addresses = _clean_emails(emails)
    if organization.deleted_at is not None:
        raise InviteError("This organization is deleted; restore it before inviting.")
    assert organization.id is not None

    # Each conflict means another invite committed first; retrying sees and
    # replaces its link, so a handful of simultaneous clicks all succeed in turn.
    for attempt in range(1, INVITE_ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _invite_create_once(
                    session, settings, organization.id, chosen, addresses, staff
                )
        except IntegrityError:
            log.warning(
                "invite_create_conflict",
                extra={"organization_id": organization.id, "attempt": attempt},
            )
    raise InviteError(
        "Someone else sent an invite for this organization at the same moment. Reload the page to see it, then try again if needed."
    )


def _invite_create_once(
    session: Session,
    settings: Settings,
    organization_id: int,
    features: list[str],
    addresses: list[tuple[str, str]],
    staff: Staff | None,
) -> InviteResult:
    now = utcnow()
    actor = staff_actor(staff.email) if staff is not None else "system"

    replaced: EndedLink | None = None
    current = active_link(session, organization_id)
    if current is not None:
        replaced = _end_link(session, current, "replaced", staff, now)
        session.flush()
        audit_record(
            session,
            "invite.replaced",
            actor=actor,
            organization_id=organization_id,
            link=current.public_id,
        )

    link = SetupLink(
        public_id=new_public_id(),
        organization_id=organization_id,
        features=features,
        created_at=now,
        created_by_id=staff.id if staff is not None else None,
        expires_at=now + timedelta(days=settings.setup_link_ttl_days),
    )
    session.add(link)
    session.flush()
    assert link.id is not None

    invitees = [
        Invitee(setup_link_id=link.id, email=address, email_key=key)
        for address, key in addresses
    ]
    session.add_all(invitees)
    session.flush()

    queued = []
    for invitee in invitees:
        queued.append(
            outbox_enqueue(
                session,
                template=INVITE_TEMPLATE,
                to_address=invitee.email,
                organization_id=organization_id,
                setup_link_id=link.id,
                context={
                    "invitee_id": invitee.id,
                    "inviter_id": staff.id if staff is not None else None,
                },
            )
        )

    offered = [row.intent for row in feature_rows(session, organization_id)]
    features_set(session, organization_id, [*offered, *features])
    progress_step(session, organization_id, "invited", intents=features)
    audit_record(
        session,
        "invite.sent",
        actor=actor,
        organization_id=organization_id,
        emails=[invitee.email for invitee in invitees],
        features=features,
        expires_at=link.expires_at.isoformat(timespec="seconds"),
    )
    session.flush()
    return InviteResult(link=link, invitees=invitees, emails=queued, replaced=replaced)


def invite_revoke(
    session: Session, *, organization: Organization, staff: Staff | None
) -> EndedLink:
    """Stop the active link from working; the caller then ends its portal sessions."""
    assert organization.id is not None
    link = active_link(session, organization.id)
    if link is None:
        raise InviteError("There is no active setup link to revoke.")
    ended = _end_link(session, link, "revoked", staff, utcnow())
    audit_record(
        session,
        "invite.revoked",
        actor=staff_actor(staff.email) if staff is not None else "system",
        organization_id=organization.id,
        link=link.public_id,
    )
    session.flush()
    return ended


def invite_resend(
    session: Session,
    *,
    organization: Organization,
    staff: Staff | None,
    invitee_id: int | None = None,
) -> list[OutboxEmail]:
    """Queue the same setup URL again, to every invitee or to one."""
    assert organization.id is not None
    link = active_link(session, organization.id)
    if link is None:
        raise InviteError("There is no active setup link: send a new invite.")
    if link_status(link) == "expired":
        raise InviteError(
            "This setup link has expired: send a new invite to make a fresh one."
        )
    assert link.id is not None
    invitees = link_invitees(session, link.id)
    if invitee_id is not None:
        invitees = [i for i in invitees if i.id == invitee_id]
        if not invitees:
            raise InviteError("That address is not invited on the current link.")
    queued = [
        outbox_enqueue(
            session,
            template=INVITE_TEMPLATE,
            to_address=invitee.email,
            organization_id=organization.id,
            setup_link_id=link.id,
            context={
                "invitee_id": invitee.id,
                "inviter_id": staff.id if staff is not None else link.created_by_id,
                "resent": True,
            },
        )
        for invitee in invitees
    ]
    audit_record(
        session,
        "invite.resent",
        actor=staff_actor(staff.email) if staff is not None else "system",
        organization_id=organization.id,
        emails=[invitee.email for invitee in invitees],
    )
    session.flush()
    return queued


async def invite_end_portal_sessions(
    workos: WorkOSGateway,
    organization_workos_id: str | None,
    link: SetupLink,
    invitees: Sequence[Invitee],
) -> WorkOSFailure | None:
    """End portal sessions minted from `link`; call after the commit that ended it.

    Tries every invitee even when one fails, and returns the first failure for
    the caller to show and record; never raises.
    """
    if not organization_workos_id:
        return None
    first: WorkOSFailure | None = None
    for invitee in invitees:
        assert invitee.id is not None
        try:
            await workos.revoke_portal_links(
                organization_id=organization_workos_id,
                external_user_id=portal_external_user_id(link.public_id, invitee.id),
            )
        except WorkOSFailure as failure:
            first = first or failure
            log.warning(
                "invite_portal_revoke_failed",
                extra={"setup_link_id": link.id, "kind": failure.kind},
            )
    return first


@dataclass
class InviteeRow:
    """One invited address as staff see it, with its latest email's state."""

    invitee: Invitee
    email: OutboxEmail | None
    email_status: str
    can_retry: bool


@dataclass
class InvitePanel:
    """Everything the invite panel shows for one organization."""

    organization: Organization
    link: SetupLink | None
    link_state: str
    setup_url: str
    rows: list[InviteeRow]
    last_ended: SetupLink | None
    inviter: Staff | None
    form_features: list[str]
    form_emails: str
    errors: dict[str, str] = field(default_factory=dict)
    notices: list[dict[str, str]] = field(default_factory=list)
    embedded: bool = False
    """On the organization page, whose Features section already picks the features."""


def invite_panel(
    session: Session,
    settings: Settings,
    organization: Organization,
    *,
    form_features: list[str] | None = None,
    form_emails: str | None = None,
    errors: dict[str, str] | None = None,
    notices: list[dict[str, str]] | None = None,
    embedded: bool = False,
) -> InvitePanel:
    """The invite panel of the organization page: link, addresses, email states, form."""
    from dashboard.outbox import outbox_for_link, outbox_status_label

    assert organization.id is not None
    link = session.exec(
        select(SetupLink)
        .where(SetupLink.organization_id == organization.id)
        .order_by(col(SetupLink.id).desc())
        .limit(1)
    ).first()
    rows: list[InviteeRow] = []
    inviter = None
    state = "none"
    url = ""
    last_ended = None
    if link is not None and link.status != "active":
        last_ended, link = link, None
    if link is not None:
        assert link.id is not None
        state = link_status(link)
        url = setup_url(settings, link) if state == "active" else ""
        inviter = session.get(Staff, link.created_by_id) if link.created_by_id else None
        latest: dict[str, OutboxEmail] = {}
        for queued in outbox_for_link(session, link.id):
            latest.setdefault(queued.to_address, queued)
        for invitee in link_invitees(session, link.id):
            email = latest.get(invitee.email)
            rows.append(
                InviteeRow(
                    invitee=invitee,
                    email=email,
                    email_status=outbox_status_label(email) if email else "not queued",
                    can_retry=email is not None and email.status == "failed",
                )
            )
    offered = [row.intent for row in feature_rows(session, organization.id)]
    if form_features is None:
        form_features = list(link.features) if link and not embedded else offered
    if form_emails is None:
        form_emails = "\n".join(row.invitee.email for row in rows)
    return InvitePanel(
        organization=organization,
        link=link,
        link_state=state,
        setup_url=url,
        rows=rows,
        last_ended=last_ended,
        inviter=inviter,
        form_features=form_features,
        form_emails=form_emails,
        errors=errors or {},
        notices=notices or [],
        embedded=embedded,
    )


async def invite_register_dev_identities(
    settings: Settings, emails: Sequence[str]
) -> list[dict[str, str]]:
    """`dashboard dev` only: make each invitee able to sign in at the development provider.

    Returns messages for the staff page about addresses that could not be
    registered; outside development it does nothing.
    """
    if not settings.dev_mailbox:
        return []
    notices: list[dict[str, str]] = []
    for issuer in sorted({provider.issuer for provider in settings.admin_oidc}):
        for email in emails:
            try:
                await dev_identity_register_async(issuer, email)
            except DevIdentityError as exc:
                notices.append(
                    {
                        "level": "error",
                        "text": f"{email} could not be registered with the development identity provider: {exc}",
                    }
                )
    return notices
