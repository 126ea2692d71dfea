"""How far each organization got: per-feature setup states and the organization's summary.

States only move forward ("invited" → "opened" → "signed_in" →
"portal_opened" → "done"), except that a new invite brings features that are
not done back to "invited". The organization's `setup_state` is its least
advanced invited feature, so "Done" means every invited feature is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from dashboard.models import SETUP_STATES, Organization, OrganizationFeature, utcnow

_RANK = {state: rank for rank, state in enumerate(SETUP_STATES)}


def feature_rows(session: Session, organization_id: int) -> list[OrganizationFeature]:
    return list(
        session.exec(
            select(OrganizationFeature)
            .where(OrganizationFeature.organization_id == organization_id)
            .order_by(col(OrganizationFeature.id))
        )
    )


def features_set(
    session: Session, organization_id: int, intents: Iterable[str]
) -> None:
    """Make the organization's offered features exactly `intents`, keeping progress of kept ones."""
    wanted = list(dict.fromkeys(intents))
    rows = {row.intent: row for row in feature_rows(session, organization_id)}
    for intent, row in rows.items():
        if intent not in wanted:
            session.delete(row)
    for intent in wanted:
        if intent not in rows:
            session.add(
                OrganizationFeature(organization_id=organization_id, intent=intent)
            )
    session.flush()
    summarize(session, organization_id)


def progress_step(
    session: Session,
    organization_id: int,
    step: str,
    *,
    intents: Iterable[str] | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """Record that `step` happened for `intents` (all offered features when None).

    Moves each feature forward to `step` if it is not already further, then
    refreshes the organization's summary state.
    """
    if step not in _RANK:
        raise ValueError(f"unknown setup step {step!r}")
    when = at or utcnow()
    chosen = None if intents is None else set(intents)
    for row in feature_rows(session, organization_id):
        if chosen is not None and row.intent not in chosen:
            continue
        if _RANK[step] > _RANK[row.state] or (
            step == "invited" and row.state != "done"
        ):
            row.state = step
            row.state_changed_at = when
            if step == "done":
                row.done_at = when
        if detail:
            row.detail = detail
        session.add(row)
    session.flush()
    summarize(session, organization_id, at=when)


def summarize(
    session: Session, organization_id: int, *, at: datetime | None = None
) -> None:
    """Set the organization's `setup_state` to its least advanced feature's state."""
    organization = session.get(Organization, organization_id)
    if organization is None:
        return
    states = [row.state for row in feature_rows(session, organization_id)]
    invited = [s for s in states if s != "not_invited"]
    summary = min(invited, key=_RANK.__getitem__) if invited else "not_invited"
    if summary != organization.setup_state or at is not None:
        organization.setup_state = summary
        organization.last_step_at = at or organization.last_step_at
        organization.updated_at = utcnow()
        session.add(organization)


def stalled_cutoff(stalled_after_days: int, now: datetime | None = None) -> datetime:
    """Organizations whose last step is older than this, and not done, are stalled."""
    return (now or utcnow()) - timedelta(days=stalled_after_days)


IN_PROGRESS = ("invited", "opened", "signed_in", "portal_opened")


def state_condition(state: str, cutoff: datetime) -> ColumnElement[bool]:
    """SQL condition for the staff home's state filter, "stalled" included.

    An organization in progress counts as its state until `cutoff` passes
    without a step, then as "stalled" only, so the funnel's counts add up.
    """
    last = col(Organization.last_step_at)
    if state == "stalled":
        return and_(col(Organization.setup_state).in_(IN_PROGRESS), last < cutoff)
    if state in IN_PROGRESS:
        return and_(
            col(Organization.setup_state) == state, or_(last.is_(None), last >= cutoff)
        )
    return col(Organization.setup_state) == state


def display_state(organization: Organization, cutoff: datetime) -> str:
    """The state staff see for one organization, "stalled" included."""
    last = organization.last_step_at
    if organization.setup_state in IN_PROGRESS and last is not None and last < cutoff:
        return "stalled"
    return organization.setup_state


def progress_regress(
    session: Session,
    organization_id: int,
    intent: str,
    *,
    detail: str,
    at: datetime | None = None,
) -> bool:
    """WorkOS says a finished feature is no longer working: back to "portal_opened".

    The only backward move besides a new invite. A feature that was not done
    keeps its state and only gets the new detail. Returns True when it moved.
    """
    when = at or utcnow()
    moved = False
    for row in feature_rows(session, organization_id):
        if row.intent != intent:
            continue
        if row.state == "done":
            row.state = "portal_opened"
            row.state_changed_at = when
            row.done_at = None
            moved = True
        row.detail = detail[:200]
        session.add(row)
    session.flush()
    summarize(session, organization_id, at=when if moved else None)
    return moved


def feature_detail(
    session: Session, organization_id: int, intent: str, detail: str
) -> None:
    """Record what WorkOS last said about a feature without moving its state."""
    for row in feature_rows(session, organization_id):
        if row.intent == intent:
            row.detail = detail[:200]
            session.add(row)
    session.flush()


FUNNEL_STATES = (*SETUP_STATES, "stalled")


def funnel_counts(session: Session, cutoff: datetime) -> dict[str, int]:
    """How many non-deleted organizations are in each state, "stalled" included.

    Two grouped counts that only read the partial index `ix_organization_funnel`
    (state, last step; live organizations): per state, then the stalled part of
    the states in progress, which moves from its state to "stalled" as
    `state_condition` says, so the counts add up to the total.
    """
    live = col(Organization.deleted_at).is_(None)
    state = col(Organization.setup_state)
    counts = dict.fromkeys(FUNNEL_STATES, 0)
    for name, count in session.exec(
        select(state, func.count()).where(live).group_by(state)
    ):
        if name in counts:
            counts[name] += int(count)
    for name, count in session.exec(
        select(state, func.count())
        .where(live, state.in_(IN_PROGRESS), col(Organization.last_step_at) < cutoff)
        .group_by(state)
    ):
        counts[name] -= int(count)
        counts["stalled"] += int(count)
    return counts


class FunnelCounts:
    """`funnel_counts`, recomputed only when an organization changed.

    Counting every organization on each visit to the staff home cost most of
    the page's time at 100,000 organizations. Every change to a state, a
    last step or a deletion also moves `updated_at`, and every new
    organization a new id, so two index look-ups tell whether the counts
    kept in this process still hold; "stalled" depends on the clock too, so
    the counts are also redone each minute. Each process keeps its own copy,
    checked against the shared database, so several processes never disagree
    for longer than one request.
    """

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._counts: dict[str, int] = {}

    def get(self, session: Session, cutoff: datetime) -> dict[str, int]:
        version = session.exec(
            select(
                select(func.max(Organization.updated_at)).scalar_subquery(),
                select(func.max(Organization.id)).scalar_subquery(),
            )
        ).one()
        key = (version[0], version[1], cutoff.replace(second=0, microsecond=0))
        if key != self._key:
            self._counts = funnel_counts(session, cutoff)
            self._key = key
        return dict(self._counts)
