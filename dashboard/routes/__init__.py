"""Every URL of the app, in one table: path, endpoint, methods, name."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard.routes import health
from dashboard.templating import STATIC_DIR


def app_routes(*, development: bool) -> list[BaseRoute]:
    """The routes of `serve`; `development` adds the ones only `dashboard dev` has."""
    routes: list[BaseRoute] = [
        Route("/healthz", health.healthz, methods=["GET"], name="healthz"),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return routes
