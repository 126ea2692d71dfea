"""The emulator's control API under `/_emulator/`: inspect, reset, fault, steer.

Not part of WorkOS: tests and `dashboard dev` use it to look at state, start
clean, inject failures, point webhooks somewhere, move the clock and finish a
feature without clicking. It needs no API key; the emulator binds to loopback.
Portal link secrets never appear here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dashboard.emulator.api import error_response, json_body
from dashboard.emulator.core import emulator_of
from dashboard.emulator.faults import Faults, FaultsError
from dashboard.emulator.store import EmulatorError
from dashboard.emulator.webhooks import WebhookTarget

PREFIX = "/_emulator"


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def state(request: Request) -> Response:
    return JSONResponse(emulator_of(request).store.snapshot())


async def reset(request: Request) -> Response:
    emulator_of(request).reset()
    return Response(status_code=204)


async def faults(request: Request) -> Response:
    plan = emulator_of(request).faults
    if request.method == "PUT":
        try:
            body = await json_body(request)
            plan.set(Faults.from_mapping(body))
        except FaultsError as exc:
            return JSONResponse({"message": str(exc)}, status_code=422)
        except EmulatorError as exc:
            return error_response(exc)
    return JSONResponse(plan.current.as_dict())


async def webhook(request: Request) -> Response:
    sender = emulator_of(request).webhooks
    if request.method == "PUT":
        try:
            body = await json_body(request)
        except EmulatorError as exc:
            return error_response(exc)
        url, secret = body.get("url"), body.get("secret")
        if not all(v is None or isinstance(v, str) for v in (url, secret)):
            return JSONResponse(
                {"message": "url and secret must be strings or null"}, status_code=422
            )
        sender.set_target(WebhookTarget(url=url, secret=secret))
    return JSONResponse(sender.target.public())


async def webhook_deliveries(request: Request) -> Response:
    return JSONResponse({"data": emulator_of(request).webhooks.deliveries()})


async def clock_advance(request: Request) -> Response:
    """Move the emulator's clock forward, e.g. 301 seconds to expire portal links."""
    try:
        body = await json_body(request)
        seconds = float(body.get("seconds", 0))
    except EmulatorError as exc:
        return error_response(exc)
    except (TypeError, ValueError):
        return JSONResponse({"message": "seconds must be a number"}, status_code=422)
    store = emulator_of(request).store
    store.clock.advance(seconds)
    return JSONResponse({"now": store.clock.now().isoformat()})


async def feature_finish(request: Request) -> Response:
    """What "Finish setup" does, without a browser: mark done, emit, deliver."""
    emulator = emulator_of(request)
    try:
        events = emulator.store.feature_finish(
            request.path_params["organization_id"], request.path_params["intent"]
        )
    except EmulatorError as exc:
        return error_response(exc)
    await emulator.webhooks.flush()
    return JSONResponse({"events": events})


async def domain_state(request: Request) -> Response:
    """Put a domain in any WorkOS state (`failed`, `unverified`, `legacy_verified`, ...)."""
    try:
        body = await json_body(request)
        record = emulator_of(request).store.domain_set_state(
            request.path_params["domain_id"], str(body.get("state"))
        )
    except EmulatorError as exc:
        return error_response(exc)
    return JSONResponse(record)
