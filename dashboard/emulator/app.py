"""`create_emulator(...)`: the WorkOS emulator as a Starlette app, with its URL table.

Never mounted by `dashboard serve`: `dashboard dev` and the tests run it as a
server of its own, and the app reaches it through the real SDK with
`WORKOS_BASE_URL` pointing here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from dashboard.emulator import api, control, portal
from dashboard.emulator.core import Emulator
from dashboard.emulator.faults import FaultPlan, Faults
from dashboard.emulator.store import EmulatorStore
from dashboard.emulator.webhooks import WebhookSender, WebhookTarget

log = logging.getLogger(__name__)

C = control.PREFIX

ROUTES = [
    # WorkOS API (Bearer sk_... required, faults applied)
    Route("/organizations", api.organization_list, methods=["GET"]),
    Route("/organizations", api.organization_create, methods=["POST"]),
    Route(
        "/organizations/external_id/{external_id}",
        api.organization_by_external_id,
        methods=["GET"],
    ),
    Route("/organizations/{organization_id}", api.organization_get, methods=["GET"]),
    Route("/organizations/{organization_id}", api.organization_update, methods=["PUT"]),
    Route(
        "/organizations/{organization_id}", api.organization_delete, methods=["DELETE"]
    ),
    Route(
        "/organizations/{organization_id}/audit_log_configuration",
        api.audit_log_configuration,
        methods=["GET"],
    ),
    Route("/organization_domains", api.domain_create, methods=["POST"]),
    Route("/organization_domains/{domain_id}", api.domain_get, methods=["GET"]),
    Route("/organization_domains/{domain_id}", api.domain_delete, methods=["DELETE"]),
    Route(
        "/organization_domains/{domain_id}/verify", api.domain_verify, methods=["POST"]
    ),
    Route("/portal/generate_link", api.portal_generate_link, methods=["POST"]),
    Route("/portal/revoke_link", api.portal_revoke_link, methods=["POST"]),
    Route("/connections", api.connection_list, methods=["GET"]),
    Route("/connections/{connection_id}", api.connection_get, methods=["GET"]),
    Route("/directories", api.directory_list, methods=["GET"]),
    Route("/directories/{directory_id}", api.directory_get, methods=["GET"]),
    Route("/events", api.event_list, methods=["GET"]),
    # The Admin Portal pages a minted link opens (browser, no key)
    Route(
        "/portal/launch",
        portal.portal_launch,
        methods=["GET"],
        name="emulator_portal_launch",
    ),
    Route(
        "/portal/sessions/{session_id}",
        portal.portal_session,
        methods=["GET"],
        name="emulator_portal_session",
    ),
    Route(
        "/portal/sessions/{session_id}/finish",
        portal.portal_finish,
        methods=["POST"],
        name="emulator_portal_finish",
    ),
    # Control API for tests and development (not WorkOS)
    Route(f"{C}/health", control.health, methods=["GET"]),
    Route(f"{C}/state", control.state, methods=["GET"]),
    Route(f"{C}/reset", control.reset, methods=["POST"]),
    Route(f"{C}/faults", control.faults, methods=["GET", "PUT"]),
    Route(f"{C}/webhook", control.webhook, methods=["GET", "PUT"]),
    Route(f"{C}/webhook/deliveries", control.webhook_deliveries, methods=["GET"]),
    Route(f"{C}/clock/advance", control.clock_advance, methods=["POST"]),
    Route(
        f"{C}/organizations/{{organization_id}}/features/{{intent}}/finish",
        control.feature_finish,
        methods=["POST"],
    ),
    Route(
        f"{C}/organization_domains/{{domain_id}}/state",
        control.domain_state,
        methods=["PUT"],
    ),
]


def create_emulator(
    state_path: Path | None = None,
    api_keys: tuple[str, ...] = ("sk_test_dev",),
    client_id: str = "client_dev",
    faults: Faults | None = None,
    public_base_url: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    default_return_url: str | None = None,
    seed: int | None = None,
) -> Starlette:
    """Build the emulator; `app.state.emulator` is the `Emulator` to steer it from Python.

    `faults` defaults to what the EMULATOR_* environment variables say;
    `public_base_url` is the origin put in portal links (default: the
    request's own); `seed` makes injected failures repeatable.
    """
    sender = WebhookSender(WebhookTarget(url=webhook_url, secret=webhook_secret))
    store = EmulatorStore(state_path, on_event=sender.enqueue)
    emulator = Emulator(
        store=store,
        faults=FaultPlan(
            faults if faults is not None else Faults.from_env(), seed=seed
        ),
        webhooks=sender,
        api_keys=api_keys,
        client_id=client_id,
        public_base_url=public_base_url,
        default_return_url=default_return_url,
    )
    app = Starlette(routes=ROUTES)
    app.state.emulator = emulator
    return app
