"""Setup progress on the staff side: an organization's checklist (polled by htmx) and reminders."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.audit import staff_actor
from dashboard.auth import staff_required
from dashboard.checklist import checklist_view
from dashboard.errors import render_error
from dashboard.flash import flash
from dashboard.htmx import htmx_details, vary_on_htmx
from dashboard.models import Organization
from dashboard.reminders import ReminderError, reminder_send
from dashboard.runtime import runtime

log = logging.getLogger(__name__)


def _not_found(request: Request) -> Response:
    response = render_error(request, 404, "There is no such organization.")
    assert response is not None
    return response


@staff_required()
async def organization_progress(request: Request) -> Response:
    """The checklist alone: htmx polls it into the organization page; without htmx, a page."""
    rt = runtime(request)
    organization_id: int = request.path_params["organization_id"]

    with rt.db.session() as session:
        organization = session.get(Organization, organization_id)
        if organization is None or organization.purged_at is not None:
            return _not_found(request)
        progress = checklist_view(session, organization, rt.settings.stalled_after_days)

    template = (
        "progress/_checklist.html"
        if htmx_details(request).wants_fragment
        else "progress/page.html"
    )
    context = {"organization": organization, "progress": progress}
    return vary_on_htmx(rt.templates.render(request, template, context))


@staff_required()
async def reminder_submit(request: Request) -> Response:
    """Queue a short reminder with the same setup URL to every invited IT admin."""
    rt = runtime(request)
    organization_id: int = request.path_params["organization_id"]
    staff = request.state.staff

    try:
        with rt.db.session() as session:
            sent = reminder_send(
                session, organization_id, actor=staff_actor(staff.email)
            )
    except ReminderError as exc:
        flash(request, f"No reminder was sent: {exc}", "error")
    else:
        flash(request, f"Reminder queued for {sent} IT admin(s).", "success")

    return RedirectResponse(f"/orgs/{organization_id}", status_code=303)
