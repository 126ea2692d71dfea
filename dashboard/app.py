"""`create_app(settings)`: the one place that wires routes, middleware and lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from dashboard.csrf import CSRFMiddleware
from dashboard.db import Database, create_db_engine
from dashboard.errors import http_exception, server_error
from dashboard.logs import configure_logging
from dashboard.middleware import RequestLogMiddleware, SecurityHeadersMiddleware
from dashboard.routes import app_routes
from dashboard.runtime import Runtime
from dashboard.services.oidc import AuthlibSignIn
from dashboard.services.workos import SDKWorkOSGateway
from dashboard.settings import Settings
from dashboard.templating import Templates

log = logging.getLogger(__name__)

SESSION_COOKIE = "dashboard_session"
CSRF_EXEMPT = ("/webhooks/workos",)
"""Webhooks prove themselves with WorkOS's signature instead of a CSRF token."""


def build_runtime(settings: Settings) -> Runtime:
    brand = {
        "name": settings.brand_name,
        "logo_url": settings.brand_logo_url,
        "support_email": settings.support_email,
    }
    return Runtime(
        settings=settings,
        db=Database(create_db_engine(settings.database_url)),
        templates=Templates(brand),
        workos=SDKWorkOSGateway.from_settings(settings),
        staff_sign_in=AuthlibSignIn(
            [settings.staff_oidc] if settings.staff_oidc else []
        ),
        admin_sign_in=AuthlibSignIn(list(settings.admin_oidc)),
    )


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    configure_logging()
    rt = runtime or build_runtime(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("app_started", extra={"development": settings.development})
        if settings.run_outbox_in_process:
            from dashboard.worker import background_loops, background_start

            rt.background.extend(
                background_start(background_loops(settings, rt.db, workos=rt.workos))
            )
        try:
            yield
        finally:
            for task in rt.background:
                task.cancel()
            for task in rt.background:
                with contextlib.suppress(BaseException):
                    await task
            rt.background.clear()
            # The SDK's HTTP pool belongs to this event loop: close it here.
            with contextlib.suppress(Exception):
                await rt.workos.close()
            rt.db.dispose()
            log.info("app_stopped")

    middleware = [
        Middleware(RequestLogMiddleware),
        Middleware(SecurityHeadersMiddleware, hsts=not settings.development),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key.reveal(),
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age_seconds,
            same_site="lax",
            https_only=settings.secure_cookies,
        ),
        Middleware(CSRFMiddleware, exempt_paths=CSRF_EXEMPT),
    ]
    app = Starlette(
        routes=app_routes(
            development=settings.development, dev_mailbox=settings.dev_mailbox
        ),
        middleware=middleware,
        exception_handlers={HTTPException: http_exception, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.runtime = rt
    return app
