"""WorkOS events, from the webhook or the poller, turned into setup progress exactly once.

Each event is first inserted into `workos_event` by its WorkOS id; the primary
key makes a replayed or concurrently delivered event a no-op, so applying is
idempotent whatever the source. Events for organizations this app does not
know are kept (for the record) and change nothing else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select
from workos.webhooks import AsyncWebhooks

from dashboard.audit import audit_record
from dashboard.models import Domain, Organization, WorkOSEvent, utcnow
from dashboard.progress import feature_detail, progress_regress, progress_step

log = logging.getLogger(__name__)

ACTOR = "workos"
SIGNATURE_HEADER = "WorkOS-Signature"
SIGNATURE_TOLERANCE_SECONDS = 180
"""How old a signed delivery may be; older ones are refused as possible replays."""

VERIFIED_DOMAIN_STATES = ("verified", "legacy_verified")

Event = dict[str, Any]


class EventRejected(ValueError):
    """A webhook delivery or event body we refuse; `reason` is safe to show and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ApplyResult:
    """What applying one event did."""

    duplicate: bool
    """The event id was seen before: nothing was done."""
    organization_id: int | None
    """The local organization, or None when WorkOS's id matches none of ours."""
    handled: bool
    """The event is one that moves setup progress (and was applied)."""


def parse_event(body: bytes | str) -> Event:
    """Check an event's shape: a JSON object with a string id, event name and a data object."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EventRejected("body is not JSON") from None
    return check_event(event)


def check_event(event: Any) -> Event:
    if not isinstance(event, dict):
        raise EventRejected("event is not a JSON object")
    event_id, name, data = event.get("id"), event.get("event"), event.get("data")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:
        raise EventRejected("event id missing or invalid")
    if not isinstance(name, str) or not 0 < len(name) <= 100:
        raise EventRejected("event name missing or invalid")
    if not isinstance(data, dict):
        raise EventRejected("event data missing or not an object")
    return cast(Event, event)


def verify_webhook(
    body: bytes,
    signature: str | None,
    secret: str,
    *,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> Event:
    """The event a delivery carries, once the SDK has checked its `WorkOS-Signature`.

    Raises EventRejected for a missing, malformed, wrong or too old signature,
    and for a body that is not an event.
    """
    if not signature:
        raise EventRejected("signature header missing")
    # verify_header uses no API client: it is a pure HMAC check.
    verifier = AsyncWebhooks(cast(Any, None))
    try:
        verifier.verify_header(
            event_body=body,
            event_signature=signature,
            secret=secret,
            tolerance=tolerance,
        )
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        text = str(exc.args[0]) if exc.args else ""
        if "tolerance" in text:
            raise EventRejected("signature too old") from None
        raise EventRejected("signature invalid") from None
    return parse_event(body)


def _nested(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def workos_organization_id(event: Event) -> str | None:
    """The WorkOS organization an event is about, wherever its kind puts it."""
    data = event["data"]
    for path in (
        ("organization_id",),
        ("organization_domain", "organization_id"),
        ("connection", "organization_id"),
        ("directory", "organization_id"),
    ):
        value = _nested(data, *path)
        if isinstance(value, str) and value:
            return value[:64]
    if data.get("object") == "organization" and isinstance(data.get("id"), str):
        return str(data["id"])[:64]
    return None


def _occurred_at(event: Event) -> datetime | None:
    raw = event.get("created_at")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def insert_ignoring_duplicate(
    session: Session, model: type[SQLModel], **values: Any
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new.

    One statement instead of insert-and-catch: no savepoint is needed (pysqlite
    would commit an outermost one early), and on PostgreSQL a racing insert of
    the same key waits for the other transaction and then does nothing.
    """
    table = cast(Any, model).__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    key = next(iter(table.primary_key.columns))
    statement = insert(table).values(**values).on_conflict_do_nothing()
    return session.execute(statement.returning(key)).first() is not None


def apply_workos_event(session: Session, event: Event, source: str) -> ApplyResult:
    """Record `event` once and move setup progress as it says, in the caller's transaction.

    `source` is "webhook" or "poller". A duplicate id does nothing, also when
    two deliveries race: the insert goes first, under the primary key.
    """
    event = check_event(event)
    event_id = event["id"]
    if session.get(WorkOSEvent, event_id) is not None:
        log.info("workos_event_duplicate", extra={"event_id": event_id})
        return ApplyResult(duplicate=True, organization_id=None, handled=False)
    workos_org = workos_organization_id(event)
    organization = None
    if workos_org is not None:
        organization = session.exec(
            select(Organization).where(Organization.workos_id == workos_org)
        ).first()
    occurred = _occurred_at(event)
    inserted = insert_ignoring_duplicate(
        session,
        WorkOSEvent,
        id=event_id,
        event=event["event"],
        workos_organization_id=workos_org,
        organization_id=organization.id if organization else None,
        payload=event,
        occurred_at=occurred,
        received_at=utcnow(),
        source=source,
    )
    if not inserted:
        log.info("workos_event_duplicate", extra={"event_id": event_id})
        return ApplyResult(duplicate=True, organization_id=None, handled=False)

    handler = HANDLERS.get(event["event"])
    if organization is None or organization.id is None:
        log.info(
            "workos_event_unknown_organization",
            extra={"event_id": event_id, "event": event["event"]},
        )
        return ApplyResult(duplicate=False, organization_id=None, handled=False)
    if handler is None:
        log.info(
            "workos_event_ignored",
            extra={"event_id": event_id, "event": event["event"]},
        )
        return ApplyResult(
            duplicate=False, organization_id=organization.id, handled=False
        )
    now = utcnow()
    at = occurred if occurred is not None and occurred <= now else now
    handler(_Context(session, organization.id, event_id, event["data"], at))
    log.info(
        "workos_event_applied",
        extra={
            "event_id": event_id,
            "event": event["event"],
            "organization_id": organization.id,
            "source": source,
        },
    )
    return ApplyResult(duplicate=False, organization_id=organization.id, handled=True)


@dataclass(frozen=True)
class _Context:
    session: Session
    organization_id: int
    event_id: str
    data: dict[str, Any]
    at: datetime

    def audit(self, action: str, **detail: Any) -> None:
        audit_record(
            self.session,
            action,
            actor=ACTOR,
            organization_id=self.organization_id,
            event_id=self.event_id,
            **detail,
        )

    def done(self, intent: str, detail: str) -> None:
        progress_step(
            self.session,
            self.organization_id,
            "done",
            intents=[intent],
            detail=detail,
            at=self.at,
        )

    def regress(self, intent: str, detail: str) -> None:
        progress_regress(
            self.session, self.organization_id, intent, detail=detail, at=self.at
        )

    def text(self, *path: str) -> str:
        value = _nested(self.data, *path)
        return str(value)[:100] if isinstance(value, (str, int, float)) else ""


def _connection_activated(ctx: _Context) -> None:
    kind = ctx.text("connection_type")
    ctx.done("sso", "connection active")
    ctx.audit(
        "workos.connection_activated",
        connection_id=ctx.text("id"),
        connection_type=kind,
    )


def _connection_deactivated(ctx: _Context) -> None:
    ctx.regress("sso", "connection inactive")
    ctx.audit("workos.connection_deactivated", connection_id=ctx.text("id"))


def _connection_deleted(ctx: _Context) -> None:
    ctx.regress("sso", "connection deleted")
    ctx.audit("workos.connection_deleted", connection_id=ctx.text("id"))


def _dsync_activated(ctx: _Context) -> None:
    ctx.done("dsync", "directory linked")
    ctx.audit(
        "workos.directory_activated",
        directory_id=ctx.text("id"),
        directory_type=ctx.text("type"),
    )


def _dsync_deleted(ctx: _Context) -> None:
    ctx.regress("dsync", "directory deleted")
    ctx.audit("workos.directory_deleted", directory_id=ctx.text("id"))


def _domain_row(ctx: _Context, record: Mapping[str, Any]) -> Domain | None:
    """Our row for a WorkOS domain record: by its WorkOS id, else by name within the org."""
    workos_id = record.get("id")
    name = record.get("domain")
    if isinstance(workos_id, str) and workos_id:
        row = ctx.session.exec(
            select(Domain).where(
                Domain.workos_id == workos_id,
                Domain.organization_id == ctx.organization_id,
            )
        ).first()
        if row is not None:
            return row
    if isinstance(name, str) and name:
        return ctx.session.exec(
            select(Domain).where(
                Domain.domain == name.strip().lower(),
                Domain.organization_id == ctx.organization_id,
            )
        ).first()
    return None


def _domain_summary(ctx: _Context) -> tuple[bool, str]:
    states = list(
        ctx.session.exec(
            select(Domain.state)
            .where(Domain.organization_id == ctx.organization_id)
            .order_by(col(Domain.id))
        )
    )
    verified = sum(state in VERIFIED_DOMAIN_STATES for state in states)
    if states and verified == len(states):
        return True, "all domains verified"
    return False, f"{verified} of {len(states)} domains verified"


def _domain_verified(ctx: _Context) -> None:
    row = _domain_row(ctx, ctx.data)
    if row is not None:
        row.state = "verified"
        ctx.session.add(row)
        ctx.session.flush()
    all_verified, summary = _domain_summary(ctx)
    if all_verified:
        ctx.done("domain_verification", summary)
    else:
        feature_detail(ctx.session, ctx.organization_id, "domain_verification", summary)
    ctx.audit("workos.domain_verified", domain=ctx.text("domain"))


def _domain_verification_failed(ctx: _Context) -> None:
    record = ctx.data.get("organization_domain")
    record = record if isinstance(record, Mapping) else {}
    row = _domain_row(ctx, record)
    name = str(record.get("domain") or "")[:100]
    reason = ctx.text("reason").replace("_", " ")
    if row is not None:
        row.state = "failed"
        ctx.session.add(row)
        ctx.session.flush()
    detail = f"{name or 'a domain'} failed verification" + (
        f": {reason}" if reason else ""
    )
    ctx.regress("domain_verification", detail)
    ctx.audit("workos.domain_verification_failed", domain=name, reason=reason)


def _certificate_renewed(ctx: _Context) -> None:
    expiry = ctx.text("certificate", "expiry_date")[:10]
    ctx.done(
        "certificate_renewal",
        f"certificate renewed, expires {expiry}" if expiry else "certificate renewed",
    )
    ctx.audit(
        "workos.certificate_renewed",
        connection_id=ctx.text("connection", "id"),
        expires=expiry,
    )


def _certificate_renewal_required(ctx: _Context) -> None:
    days = ctx.text("days_until_expiry")
    ctx.regress(
        "certificate_renewal",
        f"certificate renewal required, expires in {days} days"
        if days
        else "certificate renewal required",
    )
    ctx.audit(
        "workos.certificate_renewal_required",
        connection_id=ctx.text("connection", "id"),
        days_until_expiry=days,
    )


def _byok_verification_completed(ctx: _Context) -> None:
    provider = ctx.text("key_provider")
    if ctx.data.get("verified") is True:
        ctx.done(
            "bring_your_own_key",
            f"key verified ({provider})" if provider else "key verified",
        )
        ctx.audit("workos.byok_key_verified", key_provider=provider)
    else:
        ctx.regress("bring_your_own_key", "key verification failed")
        ctx.audit("workos.byok_key_verification_failed", key_provider=provider)


def _byok_deleted(ctx: _Context) -> None:
    ctx.regress("bring_your_own_key", "key deleted")
    ctx.audit("workos.byok_key_deleted", key_provider=ctx.text("key_provider"))


HANDLERS: dict[str, Callable[[_Context], None]] = {
    "connection.activated": _connection_activated,
    "connection.deactivated": _connection_deactivated,
    "connection.deleted": _connection_deleted,
    "dsync.activated": _dsync_activated,
    "dsync.deleted": _dsync_deleted,
    "organization_domain.verified": _domain_verified,
    "organization_domain.verification_failed": _domain_verification_failed,
    "connection.saml_certificate_renewed": _certificate_renewed,
    "connection.saml_certificate_renewal_required": _certificate_renewal_required,
    "vault.byok_key.verification_completed": _byok_verification_completed,
    "vault.byok_key.deleted": _byok_deleted,
}
"""Every event that moves setup progress; the poller asks WorkOS for exactly these."""

HANDLED_EVENTS = tuple(HANDLERS)
