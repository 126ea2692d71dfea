"""The staff side's organization pages.

The staff home, "New organization", one organization, and activity.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.auth import staff_required
from dashboard.checklist import checklist_view, funnel_view
from dashboard.errors import render_error
from dashboard.flash import flash
from dashboard.htmx import htmx_details, vary_on_htmx
from dashboard.invites import (
    InviteError,
    invite_create,
    invite_panel,
    invite_register_dev_identities,
)
from dashboard.models import SETUP_STATES, Staff
from dashboard.organizations import (
    DELETED_FILTER,
    Cursor,
    EventCursor,
    OrganizationGone,
    OrganizationInvalid,
    domain_add,
    domain_remove,
    organization_create,
    organization_delete,
    organization_features_set,
    organization_list,
    organization_purge,
    organization_restore,
    organization_view,
    timeline,
)
from dashboard.progress import display_state, stalled_cutoff
from dashboard.runtime import runtime
from dashboard.services.workos import WorkOSFailure
from dashboard.templating import STATE_LABELS
from dashboard.validation import (
    OrganizationInput,
    features_parse,
    form_values,
    organization_input,
)

log = logging.getLogger(__name__)

STATE_FILTERS = [("", "Any state")] + [
    (state, STATE_LABELS[state]) for state in (*SETUP_STATES, "stalled")
]
STATE_FILTERS.append((DELETED_FILTER, "Deleted"))
_FILTER_VALUES = {value for value, _ in STATE_FILTERS}


def _staff(request: Request) -> Staff:
    staff: Staff = request.state.staff
    return staff


def _error(request: Request, status: int, text: str | None = None) -> Response:
    response = render_error(request, status, text)
    assert response is not None
    return response


def _org_id(request: Request) -> int:
    value: int = request.path_params["organization_id"]
    return value


def _list_url(q: str, state: str, cursor: str | None = None) -> str:
    params = {k: v for k, v in (("q", q), ("state", state), ("cursor", cursor)) if v}
    return "/orgs" + (f"?{urlencode(params)}" if params else "")


@staff_required()
async def organization_list_page(request: Request) -> Response:
    """The staff home; htmx searches get only the table, from the same URL."""
    rt = runtime(request)
    q = request.query_params.get("q", "")[:200]
    state = request.query_params.get("state", "")
    if state not in _FILTER_VALUES:
        state = ""
    cursor = Cursor.decode(request.query_params.get("cursor"))

    with rt.db.session() as session:
        page = organization_list(
            session,
            q=q,
            state=state,
            cursor=cursor,
            stalled_cutoff=stalled_cutoff(rt.settings.stalled_after_days),
        )
        # Searching as you type swaps only the table: no funnel to count.
        fragment = htmx_details(request).wants_fragment
        funnel = (
            None
            if fragment
            else funnel_view(
                session,
                rt.settings.stalled_after_days,
                state,
                counter=rt.funnel_counts,
            )
        )
    context: dict[str, Any] = {
        "funnel": funnel,
        "page": page,
        "q": q,
        "state": state,
        "state_filters": STATE_FILTERS,
        "next_url": _list_url(q, state, page.next_cursor) if page.next_cursor else None,
        "prev_url": _list_url(q, state, page.prev_cursor) if page.prev_cursor else None,
    }
    template = "orgs/_table.html" if fragment else "orgs/list.html"
    return vary_on_htmx(rt.templates.render(request, template, context))


def _new_form(
    request: Request,
    data: OrganizationInput | None,
    *,
    status_code: int = 200,
    error: str = "",
) -> Response:
    form = data.form if data is not None else {"features": []}
    return runtime(request).templates.render(
        request,
        "orgs/new.html",
        {
            "form": form,
            "errors": data.errors if data is not None else {},
            "generated_external_id": data.external_id_generated if data else "",
            "error": error,
        },
        status_code=status_code,
    )


@staff_required()
async def organization_new_page(request: Request) -> Response:
    return _new_form(request, None)


@staff_required()
async def organization_create_submit(request: Request) -> Response:
    """Create at WorkOS and here, then invite the IT admins if any were given."""
    rt = runtime(request)
    form = await request.form()
    data = organization_input(
        name=form_values(form, "name"),
        external_id=form_values(form, "external_id"),
        domains=form_values(form, "domains"),
        emails=form_values(form, "emails"),
        features=[v for v in form.getlist("features") if isinstance(v, str)],
        generated_external_id=form_values(form, "generated_external_id"),
    )
    if not data.valid:
        return _new_form(request, data, status_code=400)

    staff = _staff(request)
    try:
        organization = await organization_create(rt.db, rt.workos, data, staff=staff)
    except OrganizationInvalid as invalid:
        data.errors.update(invalid.errors)
        return _new_form(request, data, status_code=400)
    except WorkOSFailure as failure:
        return _new_form(request, data, status_code=502, error=failure.staff_message)
    assert organization.id is not None
    flash(request, f"Organization {organization.name} created.", "success")
    if data.emails:
        try:
            with rt.db.session() as session:
                invite_create(
                    session,
                    rt.settings,
                    organization=organization,
                    features=data.features,
                    emails=[e.address for e in data.emails],
                    staff=staff,
                )
        except InviteError as exc:
            flash(request, f"The invite was not sent: {exc.message}", "error")
        else:
            flash(
                request, f"Invite queued for {len(data.emails)} IT admin(s).", "success"
            )
            emails = [e.address for e in data.emails]
            for notice in await invite_register_dev_identities(rt.settings, emails):
                flash(request, notice["text"], notice["level"])
    return RedirectResponse(f"/orgs/{organization.id}", status_code=303)


def detail_context(request: Request, organization_id: int) -> dict[str, Any]:
    """Everything the organization page shows, in one dict (other areas add their keys here)."""
    rt = runtime(request)
    events = EventCursor.decode(request.query_params.get("events"))
    with rt.db.session() as session:
        view = organization_view(session, organization_id)
        events_page = timeline(session, organization_id=organization_id, cursor=events)
        progress = checklist_view(
            session, view.organization, rt.settings.stalled_after_days
        )
        invite = invite_panel(session, rt.settings, view.organization, embedded=True)
    return {
        "progress": progress,
        "panel": invite,
        "view": view,
        "organization": view.organization,
        "setup_state": display_state(
            view.organization, stalled_cutoff(rt.settings.stalled_after_days)
        ),
        "timeline": events_page,
        "timeline_url": f"/orgs/{organization_id}",
        "domain_errors": {},
        "domain_value": "",
        "features_errors": {},
    }


@staff_required()
async def organization_page(request: Request) -> Response:
    """One organization; htmx asking for older timeline events gets only the timeline."""
    rt = runtime(request)
    try:
        context = detail_context(request, _org_id(request))
    except OrganizationGone:
        return _error(
            request, 404, "There is no such organization (it may have been purged)."
        )
    details = htmx_details(request)
    template = (
        "orgs/_timeline.html"
        if details.wants_fragment and details.target == "timeline"
        else "orgs/detail.html"
    )
    return vary_on_htmx(rt.templates.render(request, template, context))


def _domains_answer(
    request: Request,
    organization_id: int,
    *,
    errors: dict[str, str],
    value: str = "",
    status_code: int = 200,
) -> Response:
    """The domains panel for htmx, or back to the page (with a message) without it."""
    rt = runtime(request)
    if not htmx_details(request).request:
        for message in errors.values():
            flash(request, message, "error")
        return RedirectResponse(f"/orgs/{organization_id}#domains", status_code=303)
    context = detail_context(request, organization_id)
    context.update(domain_errors=errors, domain_value=value)
    return rt.templates.render(
        request, "orgs/_domains.html", context, status_code=status_code
    )


@staff_required()
async def domain_add_submit(request: Request) -> Response:
    rt = runtime(request)
    organization_id = _org_id(request)
    form = await request.form()
    text = form_values(form, "domain")

    try:
        row = await domain_add(
            rt.db, rt.workos, organization_id, text, staff=_staff(request)
        )
    except OrganizationGone:
        return _error(request, 404)
    except OrganizationInvalid as invalid:
        errors = {"domain": next(iter(invalid.errors.values()))}
        return _domains_answer(
            request, organization_id, errors=errors, value=text, status_code=400
        )
    except WorkOSFailure as failure:
        return _domains_answer(
            request,
            organization_id,
            errors={"domain": failure.staff_message},
            value=text,
            status_code=502,
        )
    if not htmx_details(request).request:
        flash(request, f"Domain {row.domain} added.", "success")
    return _domains_answer(request, organization_id, errors={})


@staff_required()
async def domain_remove_submit(request: Request) -> Response:
    rt = runtime(request)
    organization_id = _org_id(request)
    domain_id: int = request.path_params["domain_id"]

    try:
        await domain_remove(
            rt.db, rt.workos, organization_id, domain_id, staff=_staff(request)
        )
    except OrganizationGone:
        return _error(request, 404)
    except OrganizationInvalid as invalid:
        return _domains_answer(
            request,
            organization_id,
            errors={"domain": next(iter(invalid.errors.values()))},
            status_code=400,
        )
    except WorkOSFailure as failure:
        return _domains_answer(
            request,
            organization_id,
            errors={"domain": failure.staff_message},
            status_code=502,
        )
    return _domains_answer(request, organization_id, errors={})


@staff_required()
async def features_submit(request: Request) -> Response:
    rt = runtime(request)
    organization_id = _org_id(request)
    form = await request.form()
    features, error = features_parse(
        [v for v in form.getlist("features") if isinstance(v, str)]
    )

    if error is None:
        try:
            with rt.db.session() as session:
                changed = organization_features_set(
                    session, organization_id, features, staff=_staff(request)
                )
        except OrganizationGone:
            return _error(request, 404)
        except OrganizationInvalid as invalid:
            error = next(iter(invalid.errors.values()))
        else:
            if changed:
                flash(request, "Features saved.", "success")
    if error is not None:
        flash(request, error, "error")
    return RedirectResponse(f"/orgs/{organization_id}#features", status_code=303)


@staff_required(role="admin")
async def organization_delete_submit(request: Request) -> Response:
    rt = runtime(request)
    organization_id = _org_id(request)

    try:
        with rt.db.session() as session:
            organization = organization_delete(
                session, organization_id, staff=_staff(request)
            )
    except OrganizationGone:
        return _error(request, 404)
    flash(
        request,
        f"Organization {organization.name} deleted. It stays at WorkOS until an admin purges it; you can restore it.",
        "success",
    )
    return RedirectResponse(f"/orgs/{organization_id}", status_code=303)


@staff_required(role="admin")
async def organization_restore_submit(request: Request) -> Response:
    rt = runtime(request)
    organization_id = _org_id(request)

    try:
        with rt.db.session() as session:
            organization = organization_restore(
                session, organization_id, staff=_staff(request)
            )
    except OrganizationGone:
        return _error(request, 404)
    flash(request, f"Organization {organization.name} restored.", "success")
    return RedirectResponse(f"/orgs/{organization_id}", status_code=303)


@staff_required(role="admin")
async def organization_purge_submit(request: Request) -> Response:
    rt = runtime(request)
    organization_id = _org_id(request)

    try:
        await organization_purge(
            rt.db, rt.workos, organization_id, staff=_staff(request)
        )
    except OrganizationGone:
        return _error(request, 404)
    except OrganizationInvalid as invalid:
        flash(request, next(iter(invalid.errors.values())), "error")
        return RedirectResponse(f"/orgs/{organization_id}", status_code=303)
    except WorkOSFailure as failure:
        flash(request, failure.staff_message, "error")
        return RedirectResponse(f"/orgs/{organization_id}", status_code=303)
    flash(
        request,
        "Organization purged: deleted at WorkOS, its domains are free again.",
        "success",
    )
    return RedirectResponse("/orgs", status_code=303)


@staff_required()
async def activity_page(request: Request) -> Response:
    """Everything everyone did, newest first; htmx "Older" asks for the list only."""
    rt = runtime(request)
    cursor = EventCursor.decode(request.query_params.get("events"))

    with rt.db.session() as session:
        events_page = timeline(session, cursor=cursor)
    context = {
        "timeline": events_page,
        "timeline_url": "/activity",
        "show_organization": True,
    }
    details = htmx_details(request)
    template = (
        "orgs/_timeline.html"
        if details.wants_fragment and details.target == "timeline"
        else "activity/list.html"
    )
    return vary_on_htmx(rt.templates.render(request, template, context))
