"""The WorkOS REST endpoints the SDK calls, with WorkOS's auth, errors and faults.

Each endpoint is wrapped by `api_endpoint`, which does what WorkOS does around
every handler: refuse a missing or unknown key with 401, apply the injected
latency and failures, replay the answer to a POST whose `Idempotency-Key` was
seen before (the SDK resends one key on its retries), and turn
`EmulatorError` into WorkOS's JSON error shape. Events a call emits go to
the webhook after the answer is sent, so an app that calls WorkOS inside a
database transaction never waits on its own webhook handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dashboard.emulator.core import Emulator, emulator_of
from dashboard.emulator.store import EmulatorError, Page

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def error_response(
    error: EmulatorError, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _authorized(emulator: Emulator, request: Request) -> bool:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and any(
        secrets.compare_digest(key, allowed) for allowed in emulator.api_keys
    )


def api_endpoint(handler: Endpoint) -> Endpoint:
    """Auth, faults, error shape and webhook hand-off around one API handler."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        emulator = emulator_of(request)
        request_id = "req_" + secrets.token_hex(12)
        headers = {"X-Request-ID": request_id}
        if not _authorized(emulator, request):
            log.info("emulator_unauthorized", extra={"path": request.url.path})
            return error_response(
                EmulatorError(
                    401,
                    "Could not authorize the request. Maybe your API key is invalid?",
                    "unauthorized",
                ),
                headers,
            )
        delay, status = emulator.faults.draw()
        if delay:
            await asyncio.sleep(delay)
        if status == 429:
            retry_after = emulator.faults.current.retry_after_seconds
            log.info(
                "emulator_fault_injected",
                extra={"status": status, "path": request.url.path},
            )
            return error_response(
                EmulatorError(
                    429,
                    "Rate limit exceeded (injected by the emulator).",
                    "rate_limit_exceeded",
                ),
                {**headers, "Retry-After": str(retry_after)},
            )
        if status is not None:
            log.info(
                "emulator_fault_injected",
                extra={"status": status, "path": request.url.path},
            )
            return error_response(
                EmulatorError(
                    status,
                    "Internal server error (injected by the emulator).",
                    "server_error",
                ),
                headers,
            )
        key = request.headers.get("idempotency-key")
        replay_key = (
            (key, request.url.path) if key and request.method == "POST" else None
        )
        if replay_key is not None and replay_key in emulator.idempotent_answers:
            status_code, content = emulator.idempotent_answers[replay_key]
            return Response(
                content, status_code, headers=headers, media_type="application/json"
            )
        try:
            response = await handler(request)
        except EmulatorError as error:
            response = error_response(error)
        if replay_key is not None and response.status_code < 400:
            emulator.idempotent_answers[replay_key] = (
                response.status_code,
                bytes(response.body),
            )
        response.headers.update(headers)
        response.background = BackgroundTask(emulator.webhooks.flush)
        return response

    return endpoint


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; a 400 in WorkOS's shape for anything else."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise EmulatorError(
            400, "The request body is not valid JSON.", "invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise EmulatorError(
            400, "The request body must be a JSON object.", "invalid_json"
        )
    return body


def _page(page: Page) -> JSONResponse:
    return JSONResponse(page.body())


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@api_endpoint
async def organization_list(request: Request) -> Response:
    return _page(emulator_of(request).store.organization_list(_query(request)))


@api_endpoint
async def organization_create(request: Request) -> Response:
    body = await json_body(request)
    return JSONResponse(
        emulator_of(request).store.organization_create(body), status_code=201
    )


@api_endpoint
async def organization_get(request: Request) -> Response:
    organization_id = request.path_params["organization_id"]
    return JSONResponse(emulator_of(request).store.organization_get(organization_id))


@api_endpoint
async def organization_by_external_id(request: Request) -> Response:
    external_id = request.path_params["external_id"]
    return JSONResponse(
        emulator_of(request).store.organization_by_external_id(external_id)
    )


@api_endpoint
async def organization_update(request: Request) -> Response:
    body = await json_body(request)
    organization_id = request.path_params["organization_id"]
    return JSONResponse(
        emulator_of(request).store.organization_update(organization_id, body)
    )


@api_endpoint
async def organization_delete(request: Request) -> Response:
    emulator_of(request).store.organization_delete(
        request.path_params["organization_id"]
    )
    return Response(status_code=204)


@api_endpoint
async def audit_log_configuration(request: Request) -> Response:
    organization_id = request.path_params["organization_id"]
    return JSONResponse(
        emulator_of(request).store.audit_log_configuration(organization_id)
    )


@api_endpoint
async def domain_create(request: Request) -> Response:
    body = await json_body(request)
    return JSONResponse(emulator_of(request).store.domain_create(body), status_code=201)


@api_endpoint
async def domain_get(request: Request) -> Response:
    return JSONResponse(
        emulator_of(request).store.domain_get(request.path_params["domain_id"])
    )


@api_endpoint
async def domain_delete(request: Request) -> Response:
    emulator_of(request).store.domain_delete(request.path_params["domain_id"])
    return Response(status_code=204)


@api_endpoint
async def domain_verify(request: Request) -> Response:
    domain_id = request.path_params["domain_id"]
    return JSONResponse(
        emulator_of(request).store.domain_verify(domain_id), status_code=201
    )


@api_endpoint
async def portal_generate_link(request: Request) -> Response:
    """Mint a link to this emulator's own portal page; the answer is its only copy."""
    emulator = emulator_of(request)
    body = await json_body(request)
    link = emulator.store.portal_link_create(body, emulator.default_return_url)
    base = emulator.public_base_url or str(request.base_url)
    url = f"{base.rstrip('/')}/portal/launch?secret={link.secret}"
    return JSONResponse({"link": url}, status_code=201)


@api_endpoint
async def portal_revoke_link(request: Request) -> Response:
    body = await json_body(request)
    emulator_of(request).store.portal_link_revoke(body)
    return Response(status_code=204)


@api_endpoint
async def connection_list(request: Request) -> Response:
    return _page(emulator_of(request).store.connection_list(_query(request)))


@api_endpoint
async def connection_get(request: Request) -> Response:
    return JSONResponse(
        emulator_of(request).store.connection_get(request.path_params["connection_id"])
    )


@api_endpoint
async def directory_list(request: Request) -> Response:
    return _page(emulator_of(request).store.directory_list(_query(request)))


@api_endpoint
async def directory_get(request: Request) -> Response:
    return JSONResponse(
        emulator_of(request).store.directory_get(request.path_params["directory_id"])
    )


@api_endpoint
async def event_list(request: Request) -> Response:
    return _page(emulator_of(request).store.events_list(_query(request)))
