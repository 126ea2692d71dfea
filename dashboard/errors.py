"""Error pages (400, 403, 404, 405, 429, 500) in the site's layout, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

TITLES = {
    400: "That request could not be understood",
    403: "You cannot do that",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong on our side",
}

DEFAULT_TEXT = {
    400: "Something in the address or the form was not valid. Go back and check it.",
    403: "Your account does not have access to this page.",
    404: "There is nothing at this address. Check the link, or start again from the home page.",
    405: "This address does not accept that kind of request.",
    429: "Too many attempts in a short time. Wait a moment and try again.",
    500: "The error has been logged. Try again in a minute; if it keeps happening, tell the team.",
}


def render_error(
    request: Request, status: int, text: str | None = None
) -> Response | None:
    state = getattr(request.app, "state", None) if "app" in request.scope else None
    rt = getattr(state, "runtime", None) if state is not None else None
    if rt is None:
        return None
    response: Response = rt.templates.render(
        request,
        "errors/error.html",
        {
            "status": status,
            "title": TITLES.get(status, "Error"),
            "text": text or DEFAULT_TEXT.get(status, ""),
        },
        status_code=status,
    )
    return response


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = exc.detail if exc.detail and exc.detail != _reason(exc.status_code) else None
    response = render_error(request, exc.status_code, text)
    assert response is not None
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled_error", exc_info=exc, extra={"route": _route(request)})
    response = render_error(request, 500)
    assert response is not None
    return response


def _route(request: Request) -> str:
    from dashboard.middleware import route_path

    return route_path(request.scope)


def _reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase
