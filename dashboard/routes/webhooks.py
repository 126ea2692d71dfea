"""`POST /webhooks/workos`: signed WorkOS events, applied once each."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.auth import mark_access
from dashboard.events import (
    SIGNATURE_HEADER,
    EventRejected,
    apply_workos_event,
    verify_webhook,
)
from dashboard.runtime import runtime

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
"""WorkOS events are a few kilobytes; anything far larger is not one."""


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY_BYTES (without reading the rest)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@mark_access("webhook")
async def workos_webhook(request: Request) -> JSONResponse:
    """Verify the SDK way, then record; WorkOS retries anything but a 2xx."""
    rt = runtime(request)
    secret = rt.settings.workos_webhook_secret
    if not secret:
        log.warning("workos_webhook_secret_missing")
        return JSONResponse(
            {
                "error": "webhooks are not configured: set WORKOS_WEBHOOK_SECRET to the endpoint secret shown in the WorkOS dashboard"
            },
            status_code=503,
        )
    body = await _read_body(request)
    if body is None:
        log.warning("workos_webhook_rejected", extra={"reason": "body too large"})
        return JSONResponse({"error": "body too large"}, status_code=413)

    try:
        event = verify_webhook(
            body, request.headers.get(SIGNATURE_HEADER), secret.reveal()
        )
    except EventRejected as exc:
        log.warning("workos_webhook_rejected", extra={"reason": exc.reason})
        return JSONResponse({"error": exc.reason}, status_code=400)
    with rt.db.session() as session:
        result = apply_workos_event(session, event, source="webhook")

    return JSONResponse({"status": "duplicate" if result.duplicate else "received"})
