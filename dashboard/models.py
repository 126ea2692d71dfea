"""The database tables of the whole product, as SQLModel classes.

Rules that must hold under concurrency are indexes and foreign keys here (and
in the migrations), not only Python checks: one active setup link per
organization, one row per domain, one progress row per organization and
feature, one application of each WorkOS event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, PostgreSQL does; this makes both return the same thing.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: sa.Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: sa.Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


def _json(default: Any) -> Any:
    return Field(
        default_factory=default, sa_column=sa.Column(sa.JSON(), nullable=False)
    )


# Setup states, in funnel order. "stalled" is derived from time, see progress.
SETUP_STATES = (
    "not_invited",
    "invited",
    "opened",
    "signed_in",
    "portal_opened",
    "done",
)


class Staff(SQLModel, table=True):
    """A customer-success person allowed into the staff pages."""

    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    role: str = Field(max_length=16)  # "admin" or "member"
    name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint("role in ('admin', 'member')", name="ck_staff_role"),
    )


class Organization(SQLModel, table=True):
    """A customer; mirrors one WorkOS organization.

    `workos_id` is empty while the WorkOS side is not created yet: a create
    that failed halfway is finished on retry by looking the organization up by
    `external_id` at WorkOS, which is why every organization has one.
    """

    __tablename__ = "organization"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)
    """Lower-cased name, for prefix search and name ordering."""
    external_id: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    workos_id: str | None = Field(
        default=None, max_length=64, sa_column_kwargs={"unique": True}
    )
    setup_state: str = Field(default="not_invited", max_length=16)
    """The furthest step across invited features; what the staff home filters on."""
    last_step_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="staff.id")
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_by_id: int | None = Field(default=None, foreign_key="staff.id")
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (
        sa.Index("ix_organization_state_name", "setup_state", "name_key", "id"),
        sa.Index("ix_organization_name_id", "name_key", "id"),
        # Its maximum tells whether the staff home's funnel counts are still current.
        sa.Index("ix_organization_updated_at", "updated_at"),
        # The staff home's funnel counts live organizations per state from this alone.
        sa.Index(
            "ix_organization_funnel",
            "setup_state",
            "last_step_at",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
    )


class Domain(SQLModel, table=True):
    """A domain claimed by one organization (stored lower-case, IDNA A-label form)."""

    __tablename__ = "domain"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    domain: str = Field(max_length=253, sa_column_kwargs={"unique": True})
    workos_id: str | None = Field(default=None, max_length=64)
    state: str = Field(default="pending", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrganizationFeature(SQLModel, table=True):
    """One portal feature offered to an organization, and how far its setup got."""

    __tablename__ = "organization_feature"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    intent: str = Field(max_length=32)
    state: str = Field(default="not_invited", max_length=16)
    state_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    detail: str = Field(default="", max_length=200)
    """What WorkOS last said about it, e.g. "connection active"."""

    __table_args__ = (
        sa.UniqueConstraint(
            "organization_id", "intent", name="uq_organization_feature"
        ),
    )


class SetupLink(SQLModel, table=True):
    """The stable setup URL sent to a customer's IT admins.

    The token is never stored: it is rebuilt by signing `public_id` with the app
    secret, so a database dump alone yields no working URL.
    """

    __tablename__ = "setup_link"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    organization_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default="active", max_length=16)  # active, revoked, replaced
    features: list[str] = _json(list)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="staff.id")
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_by_id: int | None = Field(default=None, foreign_key="staff.id")
    first_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (
        # At most one active link per organization, also under concurrent invites.
        sa.Index(
            "uq_setup_link_one_active",
            "organization_id",
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        ),
    )


class Invitee(SQLModel, table=True):
    """An IT admin address invited on one setup link."""

    __tablename__ = "invitee"

    id: int | None = Field(default=None, primary_key=True)
    setup_link_id: int = Field(foreign_key="setup_link.id")
    email: str = Field(max_length=320)
    """As staff typed it; comparisons use `email_key`."""
    email_key: str = Field(max_length=320, index=True)
    signed_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    portal_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("setup_link_id", "email_key", name="uq_invitee_email"),
    )


class OutboxEmail(SQLModel, table=True):
    """An email waiting to be sent, or the record that it was.

    Holds the template name and the ids it needs, never a rendered body: bodies
    carry the setup URL, which must not sit in the database.
    """

    __tablename__ = "outbox_email"

    id: int | None = Field(default=None, primary_key=True)
    template: str = Field(max_length=64)  # e.g. "invite", "reminder"
    to_address: str = Field(max_length=320)
    organization_id: int | None = Field(
        default=None, foreign_key="organization.id", index=True
    )
    setup_link_id: int | None = Field(
        default=None, foreign_key="setup_link.id", index=True
    )
    context: dict[str, Any] = _json(dict)
    status: str = Field(
        default="queued", max_length=16
    )  # queued, sending, sent, failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)


class AuditEvent(SQLModel, table=True):
    """One line of the timeline: who did what, to which organization, when."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    actor: str = Field(max_length=320)
    """"staff:<email>", "it_admin:<email>", "visitor", "workos" or "system"."""
    action: str = Field(max_length=64)
    detail: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    __table_args__ = (
        sa.Index("ix_audit_event_org_time", "organization_id", "created_at"),
        sa.Index("ix_audit_event_time", "created_at"),
    )


class WorkOSEvent(SQLModel, table=True):
    """A WorkOS event received by webhook or poller; its id makes applying idempotent."""

    __tablename__ = "workos_event"

    id: str = Field(primary_key=True, max_length=64)
    event: str = Field(max_length=100)
    workos_organization_id: str | None = Field(default=None, max_length=64, index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    payload: dict[str, Any] = _json(dict)
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    source: str = Field(default="webhook", max_length=16)  # webhook or poller


class KeyValue(SQLModel, table=True):
    """Small named values that must survive restarts, such as the event poller's cursor."""

    __tablename__ = "key_value"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(default="", max_length=500)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RateLimitHit(SQLModel, table=True):
    """A counter per key and time window, shared by every app process."""

    __tablename__ = "rate_limit_hit"

    key: str = Field(primary_key=True, max_length=128)
    window_start: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    count: int = Field(default=0)


class ImportJob(SQLModel, table=True):
    """A bulk onboarding run from a CSV file, with one result per row."""

    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255)
    status: str = Field(
        default="pending", max_length=16
    )  # pending, running, finished, failed
    total_rows: int = Field(default=0)
    done_rows: int = Field(default=0)
    results: list[dict[str, Any]] = _json(list)
    created_by_id: int | None = Field(default=None, foreign_key="staff.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
