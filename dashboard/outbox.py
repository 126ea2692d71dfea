"""The email outbox: emails are queued in the database and sent later, with retries.

An invite is never lost because the mail server was down: the row is written
in the same transaction as the invite, and a sender (inside the app's lifespan
or `dashboard worker`) claims due rows, sends them, and backs off on failure.
Bodies are never stored: they carry the setup URL, which is rebuilt from the
link's public id and the app secret at send time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment
from sqlmodel import Session, col, select

from dashboard.audit import audit_record
from dashboard.db import Database
from dashboard.models import Organization, OutboxEmail, SetupLink, Staff, utcnow
from dashboard.services.mail import Mailer, MailError
from dashboard.settings import FEATURES, Settings
from dashboard.setup_tokens import setup_token
from dashboard.templating import email_environment

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
"""After this many failed tries an email is "failed"; staff can retry it."""
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
LEASE_SECONDS = 300.0
"""How long a claimed email belongs to its sender before another may take it."""
SEND_MARGIN_SECONDS = 60.0
"""A sender stops starting sends this long before its lease ends, so a send in
flight always finishes before another sender could reclaim the row."""

FEATURE_ASKS: dict[str, str] = {
    "sso": "connect your identity provider (for example Okta, Entra ID or Google Workspace) so your people sign in with their work accounts; you will need admin access to that provider",
    "dsync": "connect your user directory so people and groups stay in sync automatically; you will need admin access to the directory",
    "audit_logs": "choose where audit events are exported and review what is recorded",
    "log_streams": "send a stream of audit events to your logging or SIEM tool; you will need its endpoint and credentials",
    "domain_verification": "prove you own your company's email domains by adding a DNS TXT record; you will need access to your DNS settings",
    "certificate_renewal": "upload a renewed SAML signing certificate from your identity provider before the current one expires",
    "bring_your_own_key": "connect your own encryption key from your cloud key management service; you will need permission to grant access to the key",
}
"""What each feature will ask of the IT admin, in plain words (emails and setup page)."""


class OutboxError(ValueError):
    """A staff action on the outbox that cannot be done; the message says why."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def outbox_enqueue(
    session: Session,
    *,
    template: str,
    to_address: str,
    organization_id: int | None,
    setup_link_id: int | None,
    context: dict[str, Any],
) -> OutboxEmail:
    """Queue one email in the caller's transaction.

    `context` holds plain values the template needs beyond the organization and
    the link (ids, names); never a URL or a token.
    """
    email = OutboxEmail(
        template=template,
        to_address=to_address,
        organization_id=organization_id,
        setup_link_id=setup_link_id,
        context=context,
    )
    session.add(email)
    return email


def setup_url_for(settings: Settings, link: SetupLink) -> str:
    return settings.url_for_path(
        "/setup/" + setup_token(link.public_id, settings.secret_key)
    )


def render_email(
    settings: Settings, session: Session, email: OutboxEmail
) -> RenderedEmail:
    """Build subject and bodies from the template, the ids in the row and the settings."""
    organization = (
        session.get(Organization, email.organization_id)
        if email.organization_id is not None
        else None
    )
    link = (
        session.get(SetupLink, email.setup_link_id)
        if email.setup_link_id is not None
        else None
    )
    inviter = None
    inviter_id = email.context.get("inviter_id")
    if isinstance(inviter_id, int):
        inviter = session.get(Staff, inviter_id)
    return render_email_from(settings, email, organization, link, inviter)


@functools.cache
def _environment() -> Environment:
    """One environment per process, so each template is compiled once, not per email."""
    return email_environment()


def render_email_from(
    settings: Settings,
    email: OutboxEmail,
    organization: Organization | None,
    link: SetupLink | None,
    inviter: Staff | None,
) -> RenderedEmail:
    features = list(link.features) if link is not None else []
    context: dict[str, Any] = {
        "brand": {
            "name": settings.brand_name,
            "logo_url": settings.brand_logo_url,
            "support_email": settings.support_email,
        },
        "to_address": email.to_address,
        "organization": organization,
        "link": link,
        "setup_url": setup_url_for(settings, link) if link is not None else "",
        "features": [
            {"intent": f, "name": FEATURES.get(f, f), "asks": FEATURE_ASKS.get(f, "")}
            for f in features
        ],
        "expires_at": link.expires_at if link is not None else None,
        "expires_on": link.expires_at.strftime("%-d %B %Y") if link is not None else "",
        "valid_for": _valid_for(link.expires_at) if link is not None else "",
        "resent": False,
        "inviter_name": (inviter.name or inviter.email) if inviter else "",
        "inviter_email": inviter.email if inviter else "",
        **email.context,
    }
    env = _environment()
    folder = f"email/{email.template}"
    return RenderedEmail(
        subject=" ".join(
            env.get_template(f"{folder}/subject.txt").render(context).split()
        ),
        text=env.get_template(f"{folder}/body.txt").render(context),
        html=env.get_template(f"{folder}/body.html").render(context),
    )


def _valid_for(expires_at: datetime) -> str:
    days = max(math.ceil((expires_at - utcnow()).total_seconds() / 86400), 0)
    return "1 day" if days == 1 else f"{days} days"


def _header(value: str) -> str:
    """Non-ASCII text as an RFC 2047 encoded word; ASCII as is."""
    return value if value.isascii() else Header(value, "utf-8").encode()


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def build_message(
    settings: Settings, email: OutboxEmail, rendered: RenderedEmail
) -> Message:
    """A multipart/alternative message with the headers mail servers expect.

    Built with the `email.mime` classes: the newer `EmailMessage` API parses
    every header it is given, which cost 2 ms per email, most of the sender's time.
    """
    message = MIMEMultipart("alternative")
    name, address = parseaddr(settings.email_from)
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = _header(email.to_address)
    message["Subject"] = _header(rendered.subject)
    message["Date"] = formatdate(usegmt=True)
    domain = address.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=f"outbox-{email.id}", domain=domain)
    if settings.support_email:
        message["Reply-To"] = settings.support_email
    message.attach(MIMEText(rendered.text, "plain", _UTF8_QP))  # type: ignore[arg-type]
    message.attach(MIMEText(rendered.html, "html", _UTF8_QP))  # type: ignore[arg-type]
    return message


def backoff_seconds(attempts: int) -> float:
    """Exponential with jitter: 30 s, 1 min, 2 min, ... up to an hour."""
    delay: float = min(
        BACKOFF_BASE_SECONDS * 2.0 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS
    )
    return delay * random.uniform(0.8, 1.2)  # noqa: S311  (jitter, not secrecy)


def outbox_for_link(session: Session, setup_link_id: int) -> list[OutboxEmail]:
    """Emails of one link, newest first."""
    return list(
        session.exec(
            select(OutboxEmail)
            .where(OutboxEmail.setup_link_id == setup_link_id)
            .order_by(col(OutboxEmail.id).desc())
        )
    )


def outbox_cancel_for_link(session: Session, setup_link_id: int, reason: str) -> int:
    """Stop emails of a link that was revoked or replaced from going out."""
    result = session.execute(
        sa.update(OutboxEmail)
        .where(
            col(OutboxEmail.setup_link_id) == setup_link_id,
            col(OutboxEmail.status).in_(("queued", "failed")),
        )
        .values(status="cancelled", last_error=reason[:500], claimed_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def outbox_retry(
    session: Session, email_id: int, *, organization_id: int
) -> OutboxEmail:
    """Staff asked to try a failed email again now."""
    email = session.get(OutboxEmail, email_id)
    if email is None or email.organization_id != organization_id:
        raise OutboxError("There is no such email for this organization.")
    if email.status != "failed":
        raise OutboxError("Only a failed email can be retried.")
    link = session.get(SetupLink, email.setup_link_id) if email.setup_link_id else None
    if link is not None and link.status != "active":
        raise OutboxError(
            f"This email's setup link was {link.status}; send a new invite instead."
        )
    email.status = "queued"
    email.last_error = ""
    email.attempts = 0
    email.next_attempt_at = utcnow()
    email.claimed_until = None
    session.add(email)
    return email


@dataclass(frozen=True)
class Claimed:
    id: int
    lease_until: datetime


class OutboxSender:
    """Claims due emails, sends them through a `Mailer`, records what happened.

    Several senders may run at once (app processes, workers): a row is claimed
    by one UPDATE (with `FOR UPDATE SKIP LOCKED` on PostgreSQL) that sets a
    lease, and only the holder of the lease marks it sent.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        mailer: Mailer,
        *,
        batch_size: int = 100,
        max_attempts: int = MAX_ATTEMPTS,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.settings = settings
        self.db = db
        self.mailer = mailer
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds

    def claim(self, now: datetime) -> list[int]:
        lease_until = now + timedelta(seconds=self.lease_seconds)
        due = (
            select(OutboxEmail.id)
            .where(
                sa.or_(
                    sa.and_(
                        col(OutboxEmail.status) == "queued",
                        col(OutboxEmail.next_attempt_at) <= now,
                    ),
                    # A sender that died mid-batch: its lease ran out.
                    sa.and_(
                        col(OutboxEmail.status) == "sending",
                        col(OutboxEmail.claimed_until) < now,
                    ),
                )
            )
            .order_by(col(OutboxEmail.next_attempt_at), col(OutboxEmail.id))
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        with self.db.session() as session:
            rows = session.execute(
                sa.update(OutboxEmail)
                .where(col(OutboxEmail.id).in_(due.scalar_subquery()))
                .values(status="sending", claimed_until=lease_until)
                .returning(col(OutboxEmail.id))
            ).all()
        return sorted(int(row[0]) for row in rows)

    async def run_once(self, now: datetime | None = None) -> int:
        """Send what is due now; returns how many emails were sent."""
        started = now or utcnow()
        ids = self.claim(started)
        if not ids:
            return 0
        lease_until = started + timedelta(seconds=self.lease_seconds)

        messages: list[Message] = []
        kept: list[int] = []
        with self.db.session() as session:
            rows = session.exec(
                select(OutboxEmail).where(col(OutboxEmail.id).in_(ids))
            ).all()
            for email in sorted(rows, key=lambda row: row.id or 0):
                email_id = email.id
                assert email_id is not None
                link = (
                    session.get(SetupLink, email.setup_link_id)
                    if email.setup_link_id
                    else None
                )
                if link is not None and link.status != "active":
                    email.status = "cancelled"
                    email.last_error = (
                        f"Not sent: the setup link was {link.status} first."
                    )
                    email.claimed_until = None
                    session.add(email)
                    continue
                rendered = render_email(self.settings, session, email)
                messages.append(build_message(self.settings, email, rendered))
                kept.append(email_id)

        results = await self.mailer.send_batch(
            messages, deadline=lease_until - timedelta(seconds=SEND_MARGIN_SECONDS)
        )
        with self.db.session() as session:
            delivered = [i for i, error in zip(kept, results, strict=True) if not error]
            sent = self._mark_sent(session, delivered, lease_until)
            for email_id, error in zip(kept, results, strict=True):
                if error is not None:
                    self._mark_failed(session, email_id, lease_until, error, started)
        log.info("outbox_batch_sent", extra={"claimed": len(ids), "sent": sent})
        return sent

    def _mark_sent(
        self, session: Session, email_ids: list[int], lease_until: datetime
    ) -> int:
        """Only rows still under this sender's lease: a reclaimed row is not ours."""
        if not email_ids:
            return 0
        result = session.execute(
            sa.update(OutboxEmail)
            .where(
                col(OutboxEmail.id).in_(email_ids),
                col(OutboxEmail.status) == "sending",
                col(OutboxEmail.claimed_until) == lease_until,
            )
            .values(
                status="sent",
                sent_at=utcnow(),
                claimed_until=None,
                last_error="",
                attempts=col(OutboxEmail.attempts) + 1,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _mark_failed(
        self,
        session: Session,
        email_id: int,
        lease_until: datetime,
        error: MailError,
        now: datetime,
    ) -> None:
        email = session.get(OutboxEmail, email_id)
        if (
            email is None
            or email.status != "sending"
            or email.claimed_until != lease_until
        ):
            return
        email.attempts += 1
        email.last_error = error.reason[:500]
        email.claimed_until = None
        if error.permanent or email.attempts >= self.max_attempts:
            email.status = "failed"
            audit_record(
                session,
                "invite.email_failed",
                actor="system",
                organization_id=email.organization_id,
                to=email.to_address,
                reason=email.last_error,
            )
            log.warning(
                "outbox_email_failed",
                extra={"email_id": email.id, "attempts": email.attempts},
            )
        else:
            email.status = "queued"
            email.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(email.attempts)
            )
            log.info(
                "outbox_email_deferred",
                extra={"email_id": email.id, "attempts": email.attempts},
            )
        session.add(email)

    async def run_forever(self, interval: float = 2.0) -> None:
        """Poll for due emails until cancelled; a failing round is logged, not fatal."""
        while True:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "outbox_round_failed",
                    extra={"error": type(exc).__name__},
                    exc_info=exc,
                )
                sent = 0
            if sent < self.batch_size:
                await asyncio.sleep(interval)


def outbox_status_label(email: OutboxEmail) -> str:
    """What staff read: "queued", "sent", "failed: reason" (and "cancelled: reason")."""
    if email.status in ("failed", "cancelled") and email.last_error:
        return f"{email.status}: {email.last_error}"
    if email.status in ("queued", "sending") and email.last_error:
        return f"queued (last try: {email.last_error})"
    if email.status == "sending":
        return "queued"
    return email.status


def outbox_list(session: Session, *, limit: int = 100) -> Sequence[OutboxEmail]:
    """Newest emails first, for /dev/mail."""
    return list(
        session.exec(
            select(OutboxEmail).order_by(col(OutboxEmail.id).desc()).limit(limit)
        )
    )
