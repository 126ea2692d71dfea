"""The setup state machine and the funnel's counts."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import Database
from dashboard.models import Organization, utcnow
from dashboard.progress import FunnelCounts, features_set, progress_step, stalled_cutoff


def _organization(db: Database, name: str, features: list[str]) -> int:
    with db.session() as session:
        organization = Organization(name=name, name_key=name.lower(), external_id=name)
        session.add(organization)
        session.flush()
        assert organization.id is not None
        features_set(session, organization.id, features)
        return organization.id


def test_states_only_move_forward_and_the_organization_shows_its_slowest_feature(
    db: Database,
) -> None:
    org_id = _organization(db, "Globex", ["sso", "dsync"])

    with db.session() as session:
        progress_step(session, org_id, "invited")
        progress_step(session, org_id, "portal_opened", intents=["sso"])
        progress_step(session, org_id, "done", intents=["sso"])
        progress_step(session, org_id, "opened")

    with db.session() as session:
        organization = session.get(Organization, org_id)
        assert organization is not None
        assert organization.setup_state == "opened"


def test_funnel_counts_are_reused_until_an_organization_changes(db: Database) -> None:
    first = _organization(db, "Initech", ["sso"])
    _organization(db, "Umbrella", ["sso"])
    counter = FunnelCounts()
    cutoff = stalled_cutoff(7)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.session() as session:
            before = counter.get(session, cutoff)
            counted = sum("count(" in s.lower() for s in statements)
            again = counter.get(session, cutoff)
            recounted = sum("count(" in s.lower() for s in statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    with db.session() as session:
        progress_step(session, first, "invited")
    with db.session() as session:
        after = counter.get(session, cutoff)

    assert before["not_invited"] == 2
    assert again == before
    assert recounted == counted
    assert after["not_invited"] == 1
    assert after["invited"] == 1


def test_an_invite_with_no_step_for_days_counts_as_stalled(db: Database) -> None:
    org_id = _organization(db, "Hooli", ["sso"])
    long_ago = utcnow() - timedelta(days=30)
    with db.session() as session:
        progress_step(session, org_id, "invited", at=long_ago)

    with db.session() as session:
        counts = FunnelCounts().get(session, stalled_cutoff(7))

    assert counts["stalled"] == 1
    assert counts["invited"] == 0
