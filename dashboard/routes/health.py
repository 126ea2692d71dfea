"""Health check for load balancers and `make dev`'s first look."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.auth import public
from dashboard.runtime import runtime

log = logging.getLogger(__name__)


@public
async def healthz(request: Request) -> JSONResponse:
    """200 once the database answers; 503 (not a 500) while it does not."""
    try:
        runtime(request).db.ping()
    except SQLAlchemyError as exc:
        log.warning("healthz_database_down", extra={"error": type(exc).__name__})
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"}, status_code=503
        )
    return JSONResponse({"status": "ok"})
