"""The staff allow-list: who may use the staff pages, and with which role."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from dashboard.models import Staff, utcnow

ROLES = ("admin", "member")


class StaffError(ValueError):
    """The address or role given cannot be used; the message says why."""


def normalize_email(email: str) -> str:
    """The form every email is compared in: trimmed, lower-cased, syntax-checked."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise StaffError(f"{email.strip()!r} is not an email address: {exc}") from None
    return result.normalized.lower()


def staff_add(session: Session, email: str, role: str) -> Staff:
    """Allow `email` in with `role`; for someone already listed, change the role."""
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    key = normalize_email(email)
    staff = session.exec(select(Staff).where(Staff.email == key)).first()
    if staff is None:
        staff = Staff(email=key, role=role)
    else:
        staff.role = role
        staff.disabled_at = None
    session.add(staff)
    session.flush()
    return staff


def staff_by_email(session: Session, email: str) -> Staff | None:
    return session.exec(
        select(Staff).where(
            Staff.email == email.strip().lower(), col(Staff.disabled_at).is_(None)
        )
    ).first()


def staff_touch_sign_in(session: Session, staff: Staff) -> None:
    staff.last_sign_in_at = utcnow()
    session.add(staff)
