"""Rows an invite test starts from: an organization and the staff member inviting."""

from __future__ import annotations

import secrets

from sqlmodel import Session, select

from dashboard.models import Organization, Staff


def organization_add(
    session: Session, name: str = "Globex", workos_id: str | None = None
) -> Organization:
    organization = Organization(
        name=name,
        name_key=name.casefold(),
        external_id=f"ext_{secrets.token_hex(6)}",
        workos_id=workos_id,
    )
    session.add(organization)
    session.flush()
    return organization


def staff_member(session: Session, email: str = "cs@vendor.example.com") -> Staff:
    existing = session.exec(select(Staff).where(Staff.email == email)).first()
    if existing is not None:
        return existing
    staff = Staff(email=email, role="member", name="Casey Success")
    session.add(staff)
    session.flush()
    return staff
