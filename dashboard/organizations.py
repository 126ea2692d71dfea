"""Organizations: search and paging for the staff home, and every change staff make to one.

Changes that concern WorkOS are made there first and recorded here after, so
a WorkOS failure leaves nothing local to undo; a create that succeeded at
WorkOS but was lost here is finished on retry by finding the organization
through its external id.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import idna
from sqlalchemy import ColumnElement, and_, func, or_, tuple_, union_all
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dashboard.audit import audit_record, staff_actor
from dashboard.db import Database
from dashboard.models import (
    AuditEvent,
    Domain,
    Invitee,
    Organization,
    SetupLink,
    Staff,
    utcnow,
)
from dashboard.progress import (
    display_state,
    feature_rows,
    features_set,
    state_condition,
)
from dashboard.services.workos import WorkOSFailure, WorkOSGateway
from dashboard.templating import feature_name
from dashboard.validation import (
    OrganizationInput,
    domain_display,
    domain_parse,
    name_key,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 25
DELETED_FILTER = "deleted"
_TOP = "\U0010ffff"
"""Sorts after every other character: `[q, q + _TOP)` is the range of keys starting with q."""


class OrganizationInvalid(Exception):
    """The input cannot be saved; `errors` maps form field names to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class OrganizationGone(Exception):
    """No such organization (never existed, or purged)."""


# --- the staff home: search, filter, keyset pages -------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or before) this (name_key, id)."""

    key: str
    id: int
    before: bool = False

    def encode(self) -> str:
        raw = json.dumps([1 if self.before else 0, self.key, self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor in `text`, or None when it is missing or not one of ours."""
        if not text or len(text) > 1000:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            before, key, ident = json.loads(raw)
        except (ValueError, binascii.Error, TypeError):
            return None
        if (
            not isinstance(key, str)
            or "\x00" in key
            or not isinstance(ident, int)
            or before not in (0, 1)
        ):
            return None
        return cls(key=key, id=ident, before=bool(before))


@dataclass(frozen=True)
class OrganizationRow:
    """One line of the staff home."""

    organization: Organization
    domains: list[str]
    state: str


@dataclass(frozen=True)
class OrganizationPage:
    rows: list[OrganizationRow]
    next_cursor: str | None
    prev_cursor: str | None


def _prefix(column: Any, text: str) -> ColumnElement[bool]:
    """`column` starts with `text`, as an index range (LIKE cannot use SQLite's indexes).

    The `substr` check keeps results exact under collations that order
    punctuation unusually; the range does the narrowing.
    """
    return and_(
        column >= text,
        column < text + _TOP,
        func.substr(column, 1, len(text)) == text,
    )


def _search_terms(q: str) -> tuple[str, str]:
    """(name key, A-label form for domains and emails) of what was typed."""
    key = name_key(q.strip())
    lowered = q.strip().lower()
    try:
        ascii_form = idna.encode(lowered, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        ascii_form = lowered
    return key, ascii_form


def organization_list(
    session: Session,
    *,
    q: str = "",
    state: str = "",
    cursor: Cursor | None = None,
    stalled_cutoff: datetime,
    limit: int = PAGE_SIZE,
) -> OrganizationPage:
    """One page of organizations ordered by name, matching `q` and `state`.

    `q` matches the start of the name, a domain, an external id or an invited
    email. Each match kind is its own indexed query already cut to the page
    (keyset on (name_key, id), never OFFSET); their union is cut again.
    Domains come in one more query for the whole page.
    """
    key_cols = (col(Organization.name_key), col(Organization.id))
    conditions: list[ColumnElement[bool]] = []
    if state == DELETED_FILTER:
        conditions.append(col(Organization.deleted_at).is_not(None))
        conditions.append(col(Organization.purged_at).is_(None))
    else:
        conditions.append(col(Organization.deleted_at).is_(None))
        if state:
            conditions.append(state_condition(state, stalled_cutoff))
    if cursor is not None:
        position = tuple_(*key_cols)
        mark = tuple_(cursor.key, cursor.id)
        conditions.append(position < mark if cursor.before else position > mark)
    ordering = (
        (key_cols[0].desc(), key_cols[1].desc())
        if cursor and cursor.before
        else key_cols
    )

    def branch(statement: Any, *extra: ColumnElement[bool]) -> Any:
        return statement.where(*conditions, *extra).order_by(*ordering).limit(limit + 1)

    base = select(col(Organization.id), col(Organization.name_key))
    text = q.replace("\x00", "").strip()
    if not text:
        ids_query: Any = branch(base)
    else:
        key, ascii_form = _search_terms(text)
        branches = [
            branch(base, _prefix(col(Organization.name_key), key)),
            branch(base, col(Organization.external_id) == text),
            branch(
                base.join(Domain, col(Domain.organization_id) == Organization.id),
                _prefix(col(Domain.domain), ascii_form),
            ),
        ]
        if "@" in ascii_form or len(ascii_form) >= 3:
            branches.append(
                branch(
                    base.join(
                        SetupLink, col(SetupLink.organization_id) == Organization.id
                    ).join(Invitee, col(Invitee.setup_link_id) == SetupLink.id),
                    _prefix(col(Invitee.email_key), ascii_form),
                )
            )
        merged = union_all(*(b.subquery().select() for b in branches)).subquery()
        ids_query = (
            select(merged.c.id, merged.c.name_key)
            .distinct()
            .order_by(
                *(
                    (merged.c.name_key.desc(), merged.c.id.desc())
                    if cursor and cursor.before
                    else (merged.c.name_key, merged.c.id)
                )
            )
            .limit(limit + 1)
        )
    found = [(str(r[1]), int(r[0])) for r in session.execute(ids_query)]

    more = len(found) > limit
    found = found[:limit]
    if cursor and cursor.before:
        found.reverse()
    organizations = _load(session, [ident for _, ident in found])
    domains = _domains_by_org(session, [ident for _, ident in found])
    rows = [
        OrganizationRow(
            organization=org,
            domains=domains.get(org.id or 0, []),
            state=display_state(org, stalled_cutoff),
        )
        for org in organizations
    ]
    next_cursor = prev_cursor = None
    if found:
        first, last = found[0], found[-1]
        has_next = more if not (cursor and cursor.before) else True
        has_prev = (cursor is not None) if not (cursor and cursor.before) else more
        if has_next:
            next_cursor = Cursor(last[0], last[1]).encode()
        if has_prev:
            prev_cursor = Cursor(first[0], first[1], before=True).encode()
    return OrganizationPage(rows=rows, next_cursor=next_cursor, prev_cursor=prev_cursor)


def _load(session: Session, ids: Sequence[int]) -> list[Organization]:
    if not ids:
        return []
    by_id = {
        org.id: org
        for org in session.exec(
            select(Organization).where(col(Organization.id).in_(ids))
        )
    }
    return [by_id[ident] for ident in ids if ident in by_id]


def _domains_by_org(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    if not ids:
        return result
    rows = session.exec(
        select(Domain.organization_id, Domain.domain)
        .where(col(Domain.organization_id).in_(ids))
        .order_by(col(Domain.organization_id), col(Domain.domain))
    )
    for organization_id, domain in rows:
        result.setdefault(organization_id, []).append(domain_display(domain))
    return result


# --- one organization --------------------------------------------------------


DOMAIN_STATE_WORDS = {
    "pending": "Pending verification",
    "verified": "Verified",
    "legacy_verified": "Verified (legacy)",
    "failed": "Verification failed",
}


@dataclass(frozen=True)
class DomainRow:
    domain: Domain
    display: str
    """Readable form (Unicode for internationalised names)."""
    state_words: str


@dataclass
class OrganizationView:
    """What the organization page shows."""

    organization: Organization
    domains: list[DomainRow]
    features: list[str]
    feature_states: dict[str, str] = field(default_factory=dict)
    created_by: str = ""


def organization_get(session: Session, organization_id: int) -> Organization:
    organization = session.get(Organization, organization_id)
    if organization is None or organization.purged_at is not None:
        raise OrganizationGone(organization_id)
    return organization


def organization_view(session: Session, organization_id: int) -> OrganizationView:
    organization = organization_get(session, organization_id)
    domains = [
        DomainRow(
            domain=row,
            display=domain_display(row.domain),
            state_words=DOMAIN_STATE_WORDS.get(row.state, row.state),
        )
        for row in session.exec(
            select(Domain)
            .where(Domain.organization_id == organization_id)
            .order_by(col(Domain.domain))
        )
    ]
    rows = feature_rows(session, organization_id)
    creator = (
        session.get(Staff, organization.created_by_id)
        if organization.created_by_id
        else None
    )
    return OrganizationView(
        organization=organization,
        domains=domains,
        features=[row.intent for row in rows],
        feature_states={row.intent: row.state for row in rows},
        created_by=creator.email if creator else "",
    )


def domains_claimed(
    session: Session, domains: Sequence[str], *, except_organization: int | None = None
) -> dict[str, Organization]:
    """Which of `domains` another organization (deleted ones too, until purged) holds."""
    if not domains:
        return {}
    query = (
        select(Domain.domain, Organization)
        .join(Organization, col(Organization.id) == Domain.organization_id)
        .where(col(Domain.domain).in_(list(domains)))
    )
    if except_organization is not None:
        query = query.where(Domain.organization_id != except_organization)
    return {domain: org for domain, org in session.exec(query)}


def _claimed_message(claimed: dict[str, Organization]) -> str:
    parts = [
        f"“{domain}” already belongs to {org.name}"
        + (" (deleted)" if org.deleted_at else "")
        for domain, org in claimed.items()
    ]
    return "; ".join(parts) + "."


def _actor(staff: Staff | None) -> str:
    return staff_actor(staff.email) if staff is not None else "system"


async def organization_create(
    db: Database,
    workos: WorkOSGateway,
    data: OrganizationInput,
    *,
    staff: Staff | None,
) -> Organization:
    """Create the organization at WorkOS, then here; safe to call again after any failure.

    Raises OrganizationInvalid (field errors, e.g. a domain held by another
    organization) or WorkOSFailure (nothing saved here; retrying finishes).
    """
    external_id = data.effective_external_id
    with db.session() as session:
        _check_new(session, data, external_id)

    resumed = False
    try:
        remote = await workos.create_organization(
            name=data.name, external_id=external_id, domains=data.domains
        )
    except WorkOSFailure as failure:
        if failure.kind != "conflict":
            raise
        found = await workos.find_organization_by_external_id(external_id)
        if found is None:
            raise OrganizationInvalid(
                {
                    "domains": "WorkOS says one of these domains is already verified by another of your WorkOS organizations; remove it, or remove it there first."
                }
            ) from None
        remote, resumed = found, True
        log.warning(
            "organization_create_resumed", extra={"workos_organization_id": found.id}
        )
    remote_domains = {
        d.domain: (d.id, str(getattr(d.state, "value", d.state)))
        for d in remote.domains
    }
    for domain in data.domains:
        if domain not in remote_domains:
            remote_domains[domain] = await workos.add_domain(remote.id, domain)

    try:
        with db.session() as session:
            organization = _insert(
                session, data, external_id, remote.id, remote_domains, staff, resumed
            )
    except IntegrityError:
        with db.session() as session:
            _check_new(session, data, external_id)
        raise OrganizationInvalid(
            {
                "name": "Someone saved a conflicting organization at the same moment; reload and check."
            }
        ) from None
    log.info(
        "organization_created",
        extra={"organization_id": organization.id, "resumed": resumed},
    )
    return organization


def _check_new(session: Session, data: OrganizationInput, external_id: str) -> None:
    errors: dict[str, str] = {}
    existing = session.exec(
        select(Organization).where(Organization.external_id == external_id)
    ).first()
    if existing is not None:
        errors["external_id"] = (
            f"The organization {existing.name} already has the external ID “{external_id}”."
        )
    claimed = domains_claimed(session, data.domains)
    if claimed:
        errors["domains"] = _claimed_message(claimed)
    if errors:
        raise OrganizationInvalid(errors)


def _insert(
    session: Session,
    data: OrganizationInput,
    external_id: str,
    workos_id: str,
    remote_domains: dict[str, tuple[str, str]],
    staff: Staff | None,
    resumed: bool,
) -> Organization:
    organization = Organization(
        name=data.name,
        name_key=name_key(data.name),
        external_id=external_id,
        workos_id=workos_id,
        created_by_id=staff.id if staff is not None else None,
    )
    session.add(organization)
    session.flush()
    assert organization.id is not None
    for domain in data.domains:
        domain_id, state = remote_domains[domain]
        session.add(
            Domain(
                organization_id=organization.id,
                domain=domain,
                workos_id=domain_id,
                state=state,
            )
        )
    features_set(session, organization.id, data.features)
    audit_record(
        session,
        "organization.created",
        actor=_actor(staff),
        organization_id=organization.id,
        name=data.name,
        external_id=external_id,
        domains=data.domains,
        features=data.features,
        **({"resumed": True} if resumed else {}),
    )
    session.flush()
    return organization


async def domain_add(
    db: Database,
    workos: WorkOSGateway,
    organization_id: int,
    text: str,
    *,
    staff: Staff | None,
) -> Domain:
    """Attach one domain at WorkOS, then here. Raises OrganizationInvalid or WorkOSFailure."""
    domain, error = domain_parse(text)
    if error:
        raise OrganizationInvalid({"domain": error})
    with db.session() as session:
        organization = _changeable(session, organization_id)
        claimed = domains_claimed(session, [domain])
        if claimed:
            owner = claimed[domain]
            message = (
                f"“{domain}” is already on this organization."
                if owner.id == organization_id
                else _claimed_message(claimed)
            )
            raise OrganizationInvalid({"domain": message})
        workos_id = organization.workos_id or ""

    domain_id, state = await workos.add_domain(workos_id, domain)

    with db.session() as session:
        row = Domain(
            organization_id=organization_id,
            domain=domain,
            workos_id=domain_id,
            state=state,
        )
        session.add(row)
        audit_record(
            session,
            "domain.added",
            actor=_actor(staff),
            organization_id=organization_id,
            domain=domain,
        )
    return row


async def domain_remove(
    db: Database,
    workos: WorkOSGateway,
    organization_id: int,
    domain_id: int,
    *,
    staff: Staff | None,
) -> None:
    """Detach a domain at WorkOS (already gone there is fine), then here."""
    with db.session() as session:
        _changeable(session, organization_id)
        row = session.get(Domain, domain_id)
        if row is None or row.organization_id != organization_id:
            raise OrganizationGone(domain_id)
        remote_id = row.workos_id

    if remote_id:
        await workos.remove_domain(remote_id)

    with db.session() as session:
        row = session.get(Domain, domain_id)
        if row is not None:
            session.delete(row)
            audit_record(
                session,
                "domain.removed",
                actor=_actor(staff),
                organization_id=organization_id,
                domain=row.domain,
            )


def _changeable(session: Session, organization_id: int) -> Organization:
    organization = organization_get(session, organization_id)
    if organization.deleted_at is not None:
        raise OrganizationInvalid(
            {"organization": "This organization is deleted; restore it first."}
        )
    return organization


def organization_features_set(
    session: Session, organization_id: int, features: list[str], *, staff: Staff | None
) -> bool:
    """Offer exactly `features` (ours alone: nothing changes at WorkOS). True if changed."""
    _changeable(session, organization_id)
    before = [row.intent for row in feature_rows(session, organization_id)]
    if sorted(before) == sorted(features):
        return False
    features_set(session, organization_id, features)
    audit_record(
        session,
        "organization.features_changed",
        actor=_actor(staff),
        organization_id=organization_id,
        added=[f for f in features if f not in before],
        removed=[f for f in before if f not in features],
    )
    return True


def organization_delete(
    session: Session, organization_id: int, *, staff: Staff | None
) -> Organization:
    """Soft delete: hidden from the staff home, restorable; WorkOS keeps it until a purge."""
    organization = organization_get(session, organization_id)
    if organization.deleted_at is None:
        organization.deleted_at = utcnow()
        organization.deleted_by_id = staff.id if staff is not None else None
        organization.updated_at = utcnow()
        session.add(organization)
        audit_record(
            session,
            "organization.deleted",
            actor=_actor(staff),
            organization_id=organization_id,
        )
    return organization


def organization_restore(
    session: Session, organization_id: int, *, staff: Staff | None
) -> Organization:
    organization = organization_get(session, organization_id)
    if organization.deleted_at is not None:
        organization.deleted_at = None
        organization.deleted_by_id = None
        organization.updated_at = utcnow()
        session.add(organization)
        audit_record(
            session,
            "organization.restored",
            actor=_actor(staff),
            organization_id=organization_id,
        )
    return organization


async def organization_purge(
    db: Database, workos: WorkOSGateway, organization_id: int, *, staff: Staff | None
) -> None:
    """Delete a soft-deleted organization at WorkOS and free its domains here.

    The row stays (purged) so the timeline keeps its history.
    """
    with db.session() as session:
        organization = organization_get(session, organization_id)
        if organization.deleted_at is None:
            raise OrganizationInvalid(
                {
                    "organization": "Only a deleted organization can be purged; delete it first."
                }
            )
        workos_id = organization.workos_id

    if workos_id:
        await workos.delete_organization(workos_id)

    with db.session() as session:
        organization = organization_get(session, organization_id)
        for row in session.exec(
            select(Domain).where(Domain.organization_id == organization_id)
        ):
            session.delete(row)
        organization.purged_at = utcnow()
        organization.workos_id = None
        session.add(organization)
        audit_record(
            session,
            "organization.purged",
            actor=_actor(staff),
            organization_id=organization_id,
            workos_id=workos_id,
        )


# --- timelines -------------------------------------------------------------


@dataclass(frozen=True)
class EventCursor:
    """Where an older page of the timeline starts: before (created_at, id)."""

    at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> EventCursor | None:
        if not text or len(text) > 500:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            at, ident = json.loads(raw)
            moment = datetime.fromisoformat(at)
        except (ValueError, binascii.Error, TypeError):
            return None
        if not isinstance(ident, int) or moment.tzinfo is None:
            return None
        return cls(at=moment, id=ident)


EVENT_WORDS = {
    "organization.created": "created the organization",
    "organization.deleted": "deleted the organization",
    "organization.restored": "restored the organization",
    "organization.purged": "purged the organization at WorkOS",
    "organization.features_changed": "changed the features",
    "domain.added": "added a domain",
    "domain.removed": "removed a domain",
    "organization.updated": "updated the organization",
    "staff.signed_in": "signed in",
    "staff.sign_in_refused": "was refused sign-in",
    "invite.sent": "sent an invite",
    "invite.resent": "resent the invite",
    "invite.revoked": "revoked the setup link",
    "invite.replaced": "replaced the setup link with a new invite",
    "invite.reminded": "sent a reminder",
    "invite.email_failed": "could not deliver an invite email",
    "invite.email_retried": "retried an invite email",
    "invite.portal_revoke_failed": "could not end the portal sessions at WorkOS",
    "setup.opened": "opened the setup link",
    "setup.signed_in": "signed in to the setup page",
    "setup.sign_in_refused": "was refused on the setup page",
    "setup.portal_opened": "opened the Admin Portal",
    "setup.portal_failed": "could not open the Admin Portal",
    "workos.connection_activated": "reported the SSO connection active",
    "workos.connection_deactivated": "reported the SSO connection inactive",
    "workos.connection_deleted": "reported the SSO connection deleted",
    "workos.directory_activated": "reported the directory linked",
    "workos.directory_deleted": "reported the directory deleted",
    "workos.domain_verified": "reported a domain verified",
    "workos.domain_verification_failed": "reported a domain verification failure",
    "workos.certificate_renewed": "reported the SAML certificate renewed",
    "workos.certificate_renewal_required": "reported a SAML certificate renewal is due",
    "workos.byok_key_verified": "reported the encryption key verified",
    "workos.byok_key_verification_failed": "reported the encryption key failed verification",
    "workos.byok_key_deleted": "reported the encryption key deleted",
    "workos.feature_confirmed": "confirmed a feature is set up",
}


def event_words(event: AuditEvent) -> str:
    """A plain-words line for the timeline: the action, then the details that matter."""
    words = EVENT_WORDS.get(
        event.action, event.action.replace(".", " ").replace("_", " ")
    )
    detail = event.detail or {}
    extras: list[str] = []
    for name in ("domain", "email", "reason"):
        if isinstance(detail.get(name), str):
            extras.append(str(detail[name]))
    if isinstance(detail.get("feature"), str):
        extras.append(feature_name(detail["feature"]))
    for name in ("added", "removed", "features", "emails", "domains"):
        value = detail.get(name)
        if isinstance(value, list) and value:
            # Intents read as their human names; anything else is unchanged.
            extras.append(f"{name}: " + ", ".join(feature_name(str(v)) for v in value))
    return words + (f" ({'; '.join(extras)})" if extras else "")


def actor_words(actor: str) -> str:
    kind, _, who = actor.partition(":")
    labels = {
        "staff": "",
        "it_admin": "IT admin ",
        "workos": "WorkOS",
        "system": "The system",
        "visitor": "Someone with the setup link",
    }
    if who:
        return labels.get(kind, "") + who
    return labels.get(kind, actor) or actor


@dataclass(frozen=True)
class TimelineEntry:
    event: AuditEvent
    organization_name: str

    @property
    def words(self) -> str:
        return event_words(self.event)

    @property
    def actor(self) -> str:
        return actor_words(self.event.actor)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    older: str | None


def timeline(
    session: Session,
    *,
    organization_id: int | None = None,
    cursor: EventCursor | None = None,
    limit: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """Audit events, newest first; one organization's, or everyone's for /activity."""
    query = select(AuditEvent, Organization.name).outerjoin(
        Organization, col(Organization.id) == AuditEvent.organization_id
    )
    if organization_id is not None:
        query = query.where(AuditEvent.organization_id == organization_id)
    if cursor is not None:
        query = query.where(
            or_(
                col(AuditEvent.created_at) < cursor.at,
                and_(
                    col(AuditEvent.created_at) == cursor.at,
                    col(AuditEvent.id) < cursor.id,
                ),
            )
        )
    query = query.order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
    rows = list(session.exec(query.limit(limit + 1)))

    entries = [TimelineEntry(event, name or "") for event, name in rows[:limit]]
    older = None
    if len(rows) > limit and entries:
        last = entries[-1].event
        assert last.id is not None
        older = EventCursor(last.created_at, last.id).encode()
    return TimelinePage(entries=entries, older=older)
