"""Who may call an endpoint: staff (by role), IT admins of one setup link, or anyone.

Endpoints declare it with a decorator; the decorator also marks the endpoint
with `access`, which the route-access test reads so no route is forgotten.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.errors import render_error
from dashboard.htmx import htmx_details, hx_redirect
from dashboard.models import Staff
from dashboard.runtime import runtime

Endpoint = Callable[[Request], Awaitable[Response]]

SESSION_STAFF_ID = "staff_id"
SESSION_STAFF_SINCE = "staff_since"
LOGIN_PATH = "/auth/login"


def public(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint as open to anyone (it must check anything else itself)."""
    endpoint.access = "public"  # type: ignore[attr-defined]
    return endpoint


def current_staff(request: Request) -> Staff | None:
    """The signed-in, still allow-listed staff member, or None."""
    staff_id = request.session.get(SESSION_STAFF_ID)
    since = request.session.get(SESSION_STAFF_SINCE, 0)
    rt = runtime(request)
    if not isinstance(staff_id, int) or not isinstance(since, (int, float)):
        return None
    if time.time() - since > rt.settings.session_max_age_seconds:
        return None
    with rt.db.session() as session:
        staff = session.get(Staff, staff_id)
    if staff is None or staff.disabled_at is not None:
        return None
    return staff


def sign_in_redirect(request: Request) -> Response:
    """Send the browser to sign-in; htmx requests get `HX-Redirect`, never a swapped page."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    details = htmx_details(request)
    if details.request and details.current_url:
        current = details.current_url
        here = request.url.path
        if current.startswith(str(request.base_url).rstrip("/")):
            here = current[len(str(request.base_url).rstrip("/")) :] or "/"
    target = f"{LOGIN_PATH}?next={quote(here, safe='')}"
    if details.request:
        return hx_redirect(Response(status_code=204), target)
    return RedirectResponse(target, status_code=303)


def staff_required(role: str | None = None) -> Callable[[Endpoint], Endpoint]:
    """Only signed-in staff; with `role="admin"`, only admins."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            staff = current_staff(request)
            if staff is None:
                return sign_in_redirect(request)
            if role is not None and staff.role != role:
                response = render_error(
                    request, 403, "Only admins can do this. Ask an admin on your team."
                )
                assert response is not None
                return response
            request.state.staff = staff
            return await endpoint(request)

        wrapper.access = "admin" if role == "admin" else "staff"  # type: ignore[attr-defined]
        return wrapper

    return decorate


def mark_access(kind: str) -> Callable[[Any], Any]:
    """Label an endpoint guarded some other way (e.g. "it_admin", "webhook", "dev")."""

    def decorate(endpoint: Any) -> Any:
        endpoint.access = kind
        return endpoint

    return decorate
