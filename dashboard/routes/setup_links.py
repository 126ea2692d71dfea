"""Staff actions on an organization's setup link: send invite, resend, revoke, retry an email.

Each action answers htmx with the invite panel fragment and a plain form post
with a redirect back to the page (or the page itself, with errors, when the
input was wrong). WorkOS and the development identity provider are called only
after the database commit.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.audit import audit_record, staff_actor
from dashboard.auth import staff_required
from dashboard.flash import flash
from dashboard.htmx import htmx_details, vary_on_htmx
from dashboard.invites import (
    EndedLink,
    InviteError,
    invite_create,
    invite_end_portal_sessions,
    invite_panel,
    invite_register_dev_identities,
    invite_resend,
    invite_revoke,
)
from dashboard.models import Organization, Staff
from dashboard.outbox import OutboxError, outbox_retry
from dashboard.runtime import Runtime, runtime
from dashboard.validation import emails_parse, features_parse, form_values

log = logging.getLogger(__name__)

PANEL = "setup_links/_panel.html"
PAGE = "setup_links/invite.html"


def _organization(session: Session, request: Request) -> Organization:
    organization = session.get(Organization, request.path_params["organization_id"])
    if organization is None or organization.purged_at is not None:
        raise HTTPException(404, "There is no such organization.")
    return organization


def _panel_url(organization_id: int, embedded: bool) -> str:
    if embedded:
        return f"/orgs/{organization_id}#invite-panel"
    return f"/orgs/{organization_id}/invite"


async def _embedded(request: Request) -> bool:
    """Whether the form came from the organization page's panel (hidden field `panel`)."""
    form = await request.form()
    return form_values(form, "panel") == "embedded"


async def _answer(
    request: Request,
    organization_id: int,
    notices: list[dict[str, str]],
    **panel_args: Any,
) -> Response:
    """The panel for htmx; otherwise flash the notices and go back to the page."""
    rt = runtime(request)
    fragment = htmx_details(request).wants_fragment
    embedded = await _embedded(request)
    if fragment or panel_args.get("errors"):
        with rt.db.session() as session:
            organization = _organization(session, request)
            panel = invite_panel(
                session,
                rt.settings,
                organization,
                notices=notices,
                embedded=embedded and fragment,
                **panel_args,
            )
        status = 400 if panel.errors and not fragment else 200
        return vary_on_htmx(
            rt.templates.render(
                request,
                PANEL if fragment else PAGE,
                {"panel": panel, "organization": panel.organization},
                status_code=status,
            )
        )
    for notice in notices:
        flash(request, notice["text"], notice["level"])
    return RedirectResponse(_panel_url(organization_id, embedded), status_code=303)


async def _end_sessions(
    rt: Runtime, ended: EndedLink, workos_id: str | None, staff: Staff
) -> list[dict[str, str]]:
    """After commit: end portal sessions opened from `ended`; report, never raise."""
    failure = await invite_end_portal_sessions(
        rt.workos, workos_id, ended.link, ended.invitees
    )
    if failure is None:
        return []
    with rt.db.session() as session:
        audit_record(
            session,
            "invite.portal_revoke_failed",
            actor=staff_actor(staff.email),
            organization_id=ended.link.organization_id,
            reason=failure.staff_message,
        )
    return [
        {
            "level": "error",
            "text": f"The old link no longer works, but open portal sessions from it could not be ended: {failure.staff_message}",
        }
    ]


@staff_required()
async def setup_link_page(request: Request) -> Response:
    """The invite panel as a page of its own: where plain form posts come back to."""
    rt = runtime(request)

    with rt.db.session() as session:
        organization = _organization(session, request)
        panel = invite_panel(session, rt.settings, organization)

    template = PANEL if htmx_details(request).wants_fragment else PAGE
    return vary_on_htmx(
        rt.templates.render(
            request, template, {"panel": panel, "organization": organization}
        )
    )


@staff_required()
async def setup_link_invite(request: Request) -> Response:
    """ "Send invite": a new link for the chosen features and addresses, replacing the old."""
    rt = runtime(request)
    staff: Staff = request.state.staff
    form = await request.form()
    chosen = [v for v in form.getlist("features") if isinstance(v, str)]
    emails_text = form_values(form, "emails")
    errors: dict[str, str] = {}
    features, error = features_parse(chosen, required=True)
    if error:
        errors["features"] = error
    addresses, error = emails_parse(emails_text, required=True)
    if error:
        errors["emails"] = error

    org_id: int = request.path_params["organization_id"]
    if errors:
        return await _answer(
            request,
            org_id,
            [],
            errors=errors,
            form_features=chosen,
            form_emails=emails_text,
        )
    try:
        with rt.db.session() as session:
            organization = _organization(session, request)
            result = invite_create(
                session,
                rt.settings,
                organization=organization,
                features=features,
                emails=[a.address for a in addresses],
                staff=staff,
            )
            workos_id = organization.workos_id
    except InviteError as exc:
        return await _answer(
            request,
            org_id,
            [],
            errors={exc.field or "emails": exc.message},
            form_features=chosen,
            form_emails=emails_text,
        )

    count = len(result.invitees)
    notices = [
        {
            "level": "success",
            "text": f"Invite queued for {count} IT admin{'s' if count != 1 else ''}"
            + (" and the previous link no longer works." if result.replaced else "."),
        }
    ]
    if result.replaced is not None:
        notices += await _end_sessions(rt, result.replaced, workos_id, staff)
    notices += await invite_register_dev_identities(
        rt.settings, [i.email for i in result.invitees]
    )
    return await _answer(request, org_id, notices)


@staff_required()
async def setup_link_resend(request: Request) -> Response:
    """ "Resend": the same URL again, to everyone or (with `invitee_id`) one address."""
    rt = runtime(request)
    staff: Staff = request.state.staff
    form = await request.form()
    raw = form_values(form, "invitee_id")
    invitee_id = int(raw) if raw.isdigit() else None
    if raw and invitee_id is None:
        raise HTTPException(400, "That address is not one of this link's.")

    org_id: int = request.path_params["organization_id"]
    try:
        with rt.db.session() as session:
            organization = _organization(session, request)
            queued = invite_resend(
                session, organization=organization, staff=staff, invitee_id=invitee_id
            )
    except InviteError as exc:
        return await _answer(request, org_id, [{"level": "error", "text": exc.message}])

    text = (
        f"The setup link was queued again for {queued[0].to_address}."
        if len(queued) == 1
        else f"The setup link was queued again for {len(queued)} IT admins."
    )
    return await _answer(request, org_id, [{"level": "success", "text": text}])


@staff_required()
async def setup_link_revoke(request: Request) -> Response:
    """ "Revoke": the link stops working, and so do portal sessions opened from it."""
    rt = runtime(request)
    staff: Staff = request.state.staff

    org_id: int = request.path_params["organization_id"]
    try:
        with rt.db.session() as session:
            organization = _organization(session, request)
            ended = invite_revoke(session, organization=organization, staff=staff)
            workos_id = organization.workos_id
    except InviteError as exc:
        return await _answer(request, org_id, [{"level": "error", "text": exc.message}])

    notices = [
        {"level": "success", "text": "The setup link was revoked; it no longer works."}
    ]
    notices += await _end_sessions(rt, ended, workos_id, staff)
    return await _answer(request, org_id, notices)


@staff_required()
async def outbox_email_retry(request: Request) -> Response:
    """Retry a failed email now (the sender picks it up within seconds)."""
    rt = runtime(request)
    staff: Staff = request.state.staff

    org_id: int = request.path_params["organization_id"]
    try:
        with rt.db.session() as session:
            organization = _organization(session, request)
            assert organization.id is not None
            email = outbox_retry(
                session,
                request.path_params["email_id"],
                organization_id=organization.id,
            )
            audit_record(
                session,
                "invite.email_retried",
                actor=staff_actor(staff.email),
                organization_id=organization.id,
                to=email.to_address,
            )
    except OutboxError as exc:
        return await _answer(request, org_id, [{"level": "error", "text": str(exc)}])

    return await _answer(
        request,
        org_id,
        [
            {
                "level": "success",
                "text": f"The email to {email.to_address} was queued again.",
            }
        ],
    )
