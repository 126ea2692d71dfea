"""Arrange helpers for the progress tests: organizations at WorkOS (the emulator) and here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import select
from workos.common.models.organization_domain_data_state import (
    OrganizationDomainDataState,
)
from workos.organizations.models import OrganizationDomainData

from dashboard.db import Database
from dashboard.emulator.webhooks import signature_header
from dashboard.models import Domain, Organization, OrganizationFeature
from dashboard.progress import features_set, progress_step
from tests.fixtures.emulator import EmulatorHandle

WEBHOOK_SECRET = "whsec_test_progress"


def workos_organization(
    emulator: EmulatorHandle, name: str, domains: Sequence[str] = ()
) -> tuple[str, dict[str, str]]:
    """An organization at the emulator; returns its id and {domain: domain id}."""

    async def create() -> tuple[str, dict[str, str]]:
        async with emulator.client() as client:
            organization = await client.organizations.create_organization(
                name=name,
                domain_data=[
                    OrganizationDomainData(
                        domain=d, state=OrganizationDomainDataState.PENDING
                    )
                    for d in domains
                ],
            )
        return organization.id, {d.domain: d.id for d in organization.domains}

    return asyncio.run(create())


def local_organization(
    db: Database,
    name: str,
    *,
    workos_id: str | None,
    intents: Sequence[str] = ("sso",),
    step: str | None = "invited",
    domains: dict[str, str] | None = None,
    at: datetime | None = None,
) -> int:
    """Our organization row with its features offered and (by default) invited."""
    with db.session() as session:
        organization = Organization(
            name=name,
            name_key=name.lower(),
            external_id=f"ext-{name.lower().replace(' ', '-')}",
            workos_id=workos_id,
        )
        session.add(organization)
        session.flush()
        assert organization.id is not None
        for domain, domain_id in (domains or {}).items():
            session.add(
                Domain(
                    organization_id=organization.id, domain=domain, workos_id=domain_id
                )
            )
        features_set(session, organization.id, intents)
        if step is not None:
            progress_step(session, organization.id, step, at=at)
        return organization.id


def feature_states(db: Database, organization_id: int) -> dict[str, tuple[str, str]]:
    """{intent: (state, detail)} of one organization."""
    with db.session() as session:
        rows = session.exec(
            select(OrganizationFeature).where(
                OrganizationFeature.organization_id == organization_id
            )
        )
        return {row.intent: (row.state, row.detail) for row in rows}


def organization_state(db: Database, organization_id: int) -> str:
    with db.session() as session:
        organization = session.get(Organization, organization_id)
        assert organization is not None
        return organization.setup_state


def signed_delivery(
    event: dict[str, Any], secret: str = WEBHOOK_SECRET, timestamp_ms: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers as the emulator's webhook sender posts `event`."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, {
        "Content-Type": "application/json",
        "WorkOS-Signature": signature_header(body, secret, timestamp_ms),
    }
