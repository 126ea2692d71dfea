"""The IT admin's setup flow: the setup page, sign-in, and the jump into the portal."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.auth import mark_access, public
from dashboard.csrf import rotate_csrf_token
from dashboard.errors import render_error
from dashboard.flash import flash
from dashboard.models import Organization, SetupLink, utcnow
from dashboard.ratelimit import rate_limited
from dashboard.runtime import runtime
from dashboard.services.oidc import SignInFailed
from dashboard.services.workos import WorkOSFailure
from dashboard.settings import FEATURES
from dashboard.setup_flow import (
    ENDED_TEXT,
    SESSION_PENDING,
    admin_session_begin,
    admin_session_end,
    admin_session_get,
    feature_status_refresh,
    invitee_match,
    link_state,
    portal_link_mint,
    setup_feature_done,
    setup_link_load,
    setup_mark_opened,
    setup_portal_failed,
    setup_portal_opened,
    setup_sign_in_refused,
    setup_signed_in,
    setup_view,
)
from dashboard.setup_tokens import setup_token, verify_setup_token

log = logging.getLogger(__name__)

NOT_FOUND_TEXT = "This setup link is not valid. Check that you opened the whole address from the email; if it still does not work, ask {support} for a new invite."


def _error(request: Request, status: int, text: str) -> Response:
    response = render_error(request, status, text)
    assert response is not None
    return response


def _setup_path(request: Request, link: SetupLink) -> str:
    return "/setup/" + setup_token(link.public_id, runtime(request).settings.secret_key)


def _not_found(request: Request) -> Response:
    support = runtime(request).settings.support_email
    return _error(request, 404, NOT_FOUND_TEXT.format(support=support))


def _ended(request: Request, state: str) -> Response:
    """Says the link no longer works and whom to ask; nothing about the organization."""
    return runtime(request).templates.render(
        request,
        "setup/ended.html",
        {"state": state, "text": ENDED_TEXT[state]},
        status_code=410,
    )


def _problem(
    request: Request,
    status: int,
    title: str,
    text: str,
    *,
    back_url: str | None = None,
    retry_action: str | None = None,
) -> Response:
    return runtime(request).templates.render(
        request,
        "setup/problem.html",
        {
            "title": title,
            "text": text,
            "back_url": back_url,
            "retry_action": retry_action,
        },
        status_code=status,
    )


def _live_link(
    request: Request, session: Session
) -> tuple[SetupLink, Organization] | Response:
    """The link named by the path's token if it still works, else the page to show."""
    rt = runtime(request)
    token = str(request.path_params.get("token", ""))
    public_id = verify_setup_token(
        token, (rt.settings.secret_key, *rt.settings.old_secret_keys)
    )
    found = setup_link_load(session, public_id) if public_id else None
    if found is None:
        return _not_found(request)
    link, organization = found
    state = link_state(link, organization, utcnow())
    if state != "active":
        return _ended(request, state)
    return link, organization


def _sign_in_context(request: Request, link: SetupLink) -> dict[str, Any]:
    providers = runtime(request).admin_sign_in.providers()
    return {
        "setup_path": _setup_path(request, link),
        "providers": [
            {
                "name": p.name,
                "label": p.label
                if "sign in" in p.label.lower()
                else f"Sign in with {p.label}",
            }
            for p in providers
        ],
    }


@public
@rate_limited("setup_page")
async def setup_page(request: Request) -> Response:
    """Who invited whom, for what; sign-in buttons, or the feature buttons once signed in."""
    rt = runtime(request)
    finished = request.query_params.get("finished", "")

    with rt.db.session() as session:
        found = _live_link(request, session)
        if isinstance(found, Response):
            return found
        link, organization = found
        setup_mark_opened(session, link, organization)
        view = setup_view(session, link, organization)
    admin = admin_session_get(
        request.session, link.public_id, rt.settings.admin_session_max_age_seconds
    )
    finished_name = FEATURES[finished] if finished in link.features else None
    if finished_name and not any(f.done for f in view.features if f.intent == finished):
        status = await feature_status_refresh(rt.workos, organization, finished)
        if status is not None and status.done:
            with rt.db.session() as session:
                setup_feature_done(session, organization, finished, status.detail)
                view = setup_view(session, link, organization)
    days_left = max(0, (link.expires_at - utcnow()).days)

    return rt.templates.render(
        request,
        "setup/page.html",
        {
            **_sign_in_context(request, link),
            "view": view,
            "admin": admin,
            "finished_name": finished_name,
            "days_left": days_left,
        },
    )


@public
@rate_limited("sign_in")
async def setup_sign_in(request: Request) -> Response:
    """Start an OpenID Connect sign-in with the chosen provider, for this link only."""
    rt = runtime(request)
    form = await request.form()
    provider = str(form.get("provider") or "")

    with rt.db.session() as session:
        found = _live_link(request, session)
    if isinstance(found, Response):
        return found
    link, _organization = found
    if provider not in {p.name for p in rt.admin_sign_in.providers()}:
        return _error(
            request, 400, "Choose one of the sign-in buttons on the setup page."
        )
    request.session[SESSION_PENDING] = link.public_id
    redirect_uri = rt.settings.url_for_path(f"/setup/callback/{provider}")
    try:
        return await rt.admin_sign_in.begin(request, provider, redirect_uri)
    except SignInFailed as exc:
        request.session.pop(SESSION_PENDING, None)
        return _problem(
            request,
            503,
            "Sign-in is not available",
            str(exc),
            back_url=_setup_path(request, link),
        )


@public
@rate_limited("sign_in")
async def setup_callback(request: Request) -> Response:
    """Finish sign-in; only a verified, invited address is bound to the link."""
    rt = runtime(request)
    provider = str(request.path_params["provider"])
    public_id = request.session.pop(SESSION_PENDING, None)
    if not isinstance(public_id, str):
        return _error(
            request,
            400,
            "This sign-in was not started from a setup link, or the browser lost track of it. Open the setup link from your email and sign in again.",
        )

    with rt.db.session() as session:
        found = setup_link_load(session, public_id)
    if found is None:
        return _not_found(request)
    link, organization = found
    state = link_state(link, organization, utcnow())
    if state != "active":
        return _ended(request, state)
    try:
        identity = await rt.admin_sign_in.finish(request, provider)
    except SignInFailed as exc:
        return _problem(
            request,
            400,
            "Sign-in did not complete",
            str(exc),
            back_url=_setup_path(request, link),
        )
    reason = "not_invited" if identity.email_verified else "email_not_verified"
    with rt.db.session() as session:
        invitee = (
            invitee_match(session, link, identity.email)
            if identity.email_verified
            else None
        )
        if invitee is None:
            setup_sign_in_refused(session, link, organization, identity.email, reason)
        else:
            setup_signed_in(session, link, organization, invitee, identity.email)

    if invitee is None:
        admin_session_end(request.session)
        return rt.templates.render(
            request,
            "setup/refused.html",
            {
                **_sign_in_context(request, link),
                "email": identity.email,
                "reason": reason,
                "organization_name": organization.name,
            },
            status_code=403,
        )
    admin_session_begin(request.session, link, invitee, identity.email)
    rotate_csrf_token(request)
    flash(request, f"Signed in as {identity.email}.", "success")
    return RedirectResponse(_setup_path(request, link), status_code=303)


@mark_access("it_admin")
async def setup_sign_out(request: Request) -> Response:
    rt = runtime(request)

    with rt.db.session() as session:
        found = _live_link(request, session)
    admin_session_end(request.session)
    if isinstance(found, Response):
        return found

    flash(request, "Signed out.", "info")
    return RedirectResponse(_setup_path(request, found[0]), status_code=303)


@mark_access("it_admin")
@rate_limited("portal")
async def setup_portal(request: Request) -> Response:
    """Mint a portal link for one invited feature and answer 303 to it at once.

    The link goes into the `Location` header and nowhere else: not the
    database, not a log record, not a page.
    """
    rt = runtime(request)
    intent = str(request.path_params["intent"])

    with rt.db.session() as session:
        found = _live_link(request, session)
    if isinstance(found, Response):
        return found
    link, organization = found
    if intent not in FEATURES or intent not in link.features:
        return _error(request, 404, "That feature is not part of this invite.")
    page = _setup_path(request, link)
    admin = admin_session_get(
        request.session, link.public_id, rt.settings.admin_session_max_age_seconds
    )
    if admin is None:
        flash(request, "Your sign-in has expired. Sign in again to continue.", "error")
        return RedirectResponse(page, status_code=303)
    if organization.workos_id is None:
        return _problem(
            request,
            503,
            "Setup is not ready yet",
            f"This organization is still being prepared. Try again in a few minutes, or write to {rt.settings.support_email}.",
            back_url=page,
        )
    try:
        location = await portal_link_mint(
            rt.workos,
            rt.settings,
            link=link,
            organization=organization,
            admin=admin,
            intent=intent,
        )
    except WorkOSFailure as failure:
        with rt.db.session() as session:
            setup_portal_failed(session, organization, admin, intent, failure.kind)
        return _problem(
            request,
            503 if failure.retryable else 502,
            "The portal did not open",
            failure.admin_message,
            back_url=page,
            retry_action=f"{page}/portal/{intent}",
        )
    with rt.db.session() as session:
        setup_portal_opened(session, link, organization, admin, intent)

    return RedirectResponse(location, status_code=303)
