"""CSRF protection for every state-changing request.

The token lives in the signed session; forms carry it as `csrf_token`, htmx
sends it as the `X-CSRF-Token` header (set once on <body> via `hx-headers`).
The middleware checks it before any endpoint runs, so no route can forget.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import parse_qs

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
_SESSION_KEY = "csrf"
MAX_FORM_BYTES = 5 * 1024 * 1024


def csrf_token(request: Request) -> str:
    if "session" not in request.scope:
        return ""
    token = request.session.get(_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[_SESSION_KEY] = token
    return str(token)


def rotate_csrf_token(request: Request) -> None:
    request.session[_SESSION_KEY] = secrets.token_urlsafe(32)


class CSRFMiddleware:
    """Refuses unsafe requests whose token does not match the session's (403)."""

    def __init__(self, app: ASGIApp, exempt_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.exempt = tuple(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return

        request = Request(scope)
        expected = request.session.get(_SESSION_KEY) if "session" in scope else None
        sent = request.headers.get(HEADER)
        body = b""
        if sent is None:
            body, too_big = await _read_body(receive, MAX_FORM_BYTES)
            if too_big:
                await _refuse(scope, receive, send, 413, "That upload is too large.")
                return
            sent = await _form_token(scope, body)
            receive = _replay(body)

        if not expected or not sent or not hmac.compare_digest(str(expected), sent):
            await _refuse(
                scope,
                receive,
                send,
                403,
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            )
            return
        await self.app(scope, receive, send)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _form_token(scope: Scope, body: bytes) -> str | None:
    content_type = Request(scope).headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(
            FORM_FIELD
        )
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        form: FormData
        try:
            form = await Request(scope, _replay(body)).form()
        except Exception:
            return None
        value = form.get(FORM_FIELD)
        await form.close()
        return value if isinstance(value, str) else None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, text: str
) -> None:
    """Plain page: the error templates need a request that passed CSRF."""
    from dashboard.errors import render_error

    response = render_error(Request(scope, receive), status, text)
    if response is None:
        response = HTMLResponse(text, status_code=status)
    await response(scope, receive, send)
