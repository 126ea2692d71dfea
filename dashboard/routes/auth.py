"""Staff sign-in through the company's OpenID Connect provider, and sign-out."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.audit import audit_record, staff_actor
from dashboard.auth import (
    SESSION_STAFF_ID,
    SESSION_STAFF_SINCE,
    current_staff,
    public,
)
from dashboard.csrf import rotate_csrf_token
from dashboard.flash import flash
from dashboard.runtime import runtime
from dashboard.services.oidc import SignInFailed
from dashboard.staff import staff_by_email, staff_touch_sign_in

log = logging.getLogger(__name__)

PROVIDER = "staff"
HOME = "/orgs"
_SESSION_NEXT = "staff_next"


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else becomes the staff home.

    Refuses absolute URLs, scheme-relative `//host` and backslash tricks, so
    sign-in can never be used to send someone to another site.
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return HOME
    if any(char in value for char in "\\\r\n\t") or value.startswith("/auth/"):
        return HOME
    return value


def _login_page(
    request: Request, target: str, *, error: str = "", status_code: int = 200
) -> Response:
    rt = runtime(request)
    configured = rt.settings.staff_oidc is not None
    return rt.templates.render(
        request,
        "auth/login.html",
        {"next": target, "configured": configured, "error": error},
        status_code=status_code if configured else 503,
    )


def _callback_url(request: Request) -> str:
    return runtime(request).settings.url_for_path("/auth/callback")


@public
async def home(request: Request) -> Response:
    return RedirectResponse(HOME, status_code=303)


@public
async def login_page(request: Request) -> Response:
    """The "Sign in" page; already signed-in staff go straight on."""
    target = safe_next(request.query_params.get("next"))

    if current_staff(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target)


@public
async def login_start(request: Request) -> Response:
    """Send the browser to the provider; `next` waits in the session for the way back."""
    rt = runtime(request)
    form = await request.form()
    raw_next = form.get("next")
    target = safe_next(raw_next if isinstance(raw_next, str) else None)

    if rt.settings.staff_oidc is None:
        return _login_page(request, target)
    request.session[_SESSION_NEXT] = target
    try:
        return await rt.staff_sign_in.begin(request, PROVIDER, _callback_url(request))
    except SignInFailed as exc:
        return _login_page(request, target, error=str(exc), status_code=502)


@public
async def callback(request: Request) -> Response:
    """Finish sign-in: only allow-listed staff with a verified email get a session."""
    rt = runtime(request)
    target = safe_next(request.session.get(_SESSION_NEXT))

    try:
        identity = await rt.staff_sign_in.finish(request, PROVIDER)
    except SignInFailed as exc:
        return _login_page(request, target, error=str(exc), status_code=400)
    with rt.db.session() as session:
        staff = (
            staff_by_email(session, identity.email) if identity.email_verified else None
        )
        if staff is None:
            reason = "not_verified" if not identity.email_verified else "not_staff"
            audit_record(
                session,
                "staff.sign_in_refused",
                actor=staff_actor(identity.email),
                email=identity.email,
                reason=reason,
            )
        else:
            staff_touch_sign_in(session, staff)
            audit_record(session, "staff.signed_in", actor=staff_actor(staff.email))
    if staff is None:
        request.session.clear()
        log.info("staff_sign_in_refused", extra={"reason": reason})
        return rt.templates.render(
            request,
            "auth/refused.html",
            {"email": identity.email, "verified": identity.email_verified},
            status_code=403,
        )

    request.session.clear()
    rotate_csrf_token(request)
    request.session[SESSION_STAFF_ID] = staff.id
    request.session[SESSION_STAFF_SINCE] = int(time.time())
    log.info("staff_signed_in", extra={"staff_id": staff.id})
    return RedirectResponse(target, status_code=303)


@public
async def logout(request: Request) -> Response:
    """Forget the session entirely; the next page asks for sign-in again."""
    staff_id = request.session.get(SESSION_STAFF_ID)

    request.session.clear()
    rotate_csrf_token(request)
    flash(request, "You are signed out.", "info")
    log.info("staff_signed_out", extra={"staff_id": staff_id})
    return RedirectResponse("/auth/login", status_code=303)
