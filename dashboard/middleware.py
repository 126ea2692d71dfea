"""Request logging and security headers, as plain ASGI middleware."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("dashboard.request")


def route_path(scope: Scope) -> str:
    """The path with every path parameter replaced by its name.

    `/setup/{token}` is logged as such: the token itself never reaches a log.
    """
    path: str = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        if text:
            path = path.replace(text, "{" + name + "}")
    return path


class RequestLogMiddleware:
    """One line per request: method, route, status, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not scope["path"].startswith("/static/"):
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": route_path(scope),
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
"""No inline scripts or styles. No `form-action`: the feature buttons post a
form whose answer redirects to the WorkOS portal, and browsers apply
`form-action` to that redirect."""


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                if scope["path"].startswith("/static/"):
                    headers["Cache-Control"] = "public, max-age=31536000, immutable"
                elif "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_wrapper)
