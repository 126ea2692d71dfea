"""What staff see of setup progress.

The funnel on the staff home, and each organization's checklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlmodel import Session

from dashboard.invites import active_link
from dashboard.models import Organization, utcnow
from dashboard.progress import (
    FUNNEL_STATES,
    IN_PROGRESS,
    FunnelCounts,
    display_state,
    feature_rows,
    funnel_counts,
    stalled_cutoff,
)
from dashboard.reminders import reminder_allowed
from dashboard.templating import feature_name, state_label

POLL_SECONDS = 3
"""How often an open organization page asks for fresh progress while setup runs."""


@dataclass(frozen=True)
class FunnelStep:
    state: str
    label: str
    count: int
    url: str
    active: bool


@dataclass(frozen=True)
class Funnel:
    steps: list[FunnelStep]
    total: int


def funnel_view(
    session: Session,
    stalled_after_days: int,
    active_state: str = "",
    *,
    counter: FunnelCounts | None = None,
) -> Funnel:
    """Counts per state across every organization not deleted, each a link to the filtered list.

    Pass the app's `counter` to reuse counts while no organization changed.
    """
    cutoff = stalled_cutoff(stalled_after_days)
    counts = counter.get(session, cutoff) if counter else funnel_counts(session, cutoff)
    steps = [
        FunnelStep(
            state=state,
            label=state_label(state),
            count=counts[state],
            url="/orgs?" + urlencode({"state": state}),
            active=state == active_state,
        )
        for state in FUNNEL_STATES
    ]
    return Funnel(steps=steps, total=sum(counts.values()))


@dataclass(frozen=True)
class ChecklistItem:
    intent: str
    name: str
    state: str
    """As staff see it: "stalled" when the organization stalled and this is not done."""
    last_step_at: datetime
    detail: str
    done_at: datetime | None


@dataclass(frozen=True)
class Checklist:
    organization_id: int
    state: str
    last_step_at: datetime | None
    items: list[ChecklistItem]
    polling: bool
    """Setup still runs: the page asks for fresh progress every POLL_SECONDS."""
    poll_seconds: int
    can_remind: bool
    last_reminded_at: datetime | None
    url: str


def checklist_view(
    session: Session,
    organization: Organization,
    stalled_after_days: int,
    now: datetime | None = None,
) -> Checklist:
    """One organization's progress per offered feature, with times and WorkOS's words."""
    assert organization.id is not None
    cutoff = stalled_cutoff(stalled_after_days, now or utcnow())
    state = display_state(organization, cutoff)
    items = [
        ChecklistItem(
            intent=row.intent,
            name=feature_name(row.intent),
            state="stalled"
            if state == "stalled" and row.state in IN_PROGRESS
            else row.state,
            last_step_at=row.state_changed_at,
            detail=row.detail,
            done_at=row.done_at,
        )
        for row in feature_rows(session, organization.id)
    ]
    link = active_link(session, organization.id)
    return Checklist(
        organization_id=organization.id,
        state=state,
        last_step_at=organization.last_step_at,
        items=items,
        polling=organization.deleted_at is None
        and any(item.state != "done" for item in items if item.state != "not_invited"),
        poll_seconds=POLL_SECONDS,
        can_remind=reminder_allowed(organization, link),
        last_reminded_at=link.last_reminded_at if link is not None else None,
        url=f"/orgs/{organization.id}/progress",
    )
