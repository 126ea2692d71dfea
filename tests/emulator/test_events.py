"""Events on /events and signed webhook deliveries, read back through the real SDK."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import workos
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from workos.organizations.models import OrganizationDomainData

from dashboard.emulator import ThreadedServer
from dashboard.emulator.store import INTENTS
from tests.emulator.conftest import SDKRunner
from tests.fixtures.emulator import EmulatorHandle

SECRET = "whsec_test"

EXPECTED_EVENTS = {
    "sso": ["connection.activated"],
    "dsync": ["dsync.activated"],
    "domain_verification": ["organization_domain.verified"],
    "certificate_renewal": ["connection.saml_certificate_renewed"],
    "bring_your_own_key": ["vault.byok_key.verification_completed"],
    "audit_logs": [],
    "log_streams": [],
}


class Receiver:
    """A webhook endpoint that checks each delivery with the SDK's own verification."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.rejected: list[str] = []
        self.arrived = threading.Event()
        self.sdk = workos.WorkOSClient(api_key="sk_test_dev", client_id="client_dev")

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            event = self.sdk.webhooks.verify_event(
                event_body=body,
                event_signature=request.headers.get("WorkOS-Signature", ""),
                secret=SECRET,
            )
        except ValueError as exc:
            self.rejected.append(str(exc))
            return Response(status_code=400)
        self.events.append(event)
        self.arrived.set()
        return Response(status_code=200)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(
        routes=[Route("/webhooks/workos", receiver.endpoint, methods=["POST"])]
    )
    with ThreadedServer(app) as server:
        yield receiver, server.url + "/webhooks/workos"


def _org_with_domain(sdk: SDKRunner) -> str:
    return sdk(
        lambda c: c.organizations.create_organization(
            name="Acme",
            domain_data=[OrganizationDomainData(domain="acme.test", state="pending")],
        )
    ).id


@pytest.mark.parametrize("intent", INTENTS)
def test_finishing_a_feature_queues_its_events(
    sdk: SDKRunner, emulator: EmulatorHandle, intent: str
) -> None:
    organization_id = _org_with_domain(sdk)

    emulator.finish(organization_id, intent)
    names = EXPECTED_EVENTS[intent] or ["organization.created"]
    page = sdk(
        lambda c: c.events.list_events(
            events=names, organization_id=organization_id, order="asc"
        )
    )

    assert [e.event for e in page.data] == names
    assert all(type(e).__name__ != "EventSchemaUnknown" for e in page.data)


def test_events_page_forward_with_after(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    organization_id = _org_with_domain(sdk)
    for intent in ("sso", "dsync", "domain_verification"):
        emulator.finish(organization_id, intent)
    wanted = ["connection.activated", "dsync.activated", "organization_domain.verified"]

    first = sdk(lambda c: c.events.list_events(events=wanted, limit=2, order="asc"))
    rest = sdk(
        lambda c: c.events.list_events(
            events=wanted, limit=2, order="asc", after=first.data[-1].id
        )
    )
    nothing_new = sdk(
        lambda c: c.events.list_events(
            events=wanted, order="asc", after=rest.data[-1].id
        )
    )

    assert [e.event for e in first.data + rest.data] == wanted
    assert nothing_new.data == []


def test_events_filter_by_organization(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    mine = _org_with_domain(sdk)
    other = sdk(lambda c: c.organizations.create_organization(name="Other")).id
    emulator.finish(mine, "sso")
    emulator.finish(other, "sso")

    page = sdk(
        lambda c: c.events.list_events(
            events=["connection.activated"], organization_id=mine
        )
    )

    assert [e.data.organization_id for e in page.data] == [mine]


def test_webhooks_are_signed_as_the_sdk_verifies(
    sdk: SDKRunner, emulator: EmulatorHandle, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    organization_id = _org_with_domain(sdk)
    emulator.set_webhook(url, SECRET)

    emulator.finish(organization_id, "sso")

    assert endpoint.rejected == []
    assert [e.event for e in endpoint.events] == ["connection.activated"]
    assert emulator.deliveries()[-1]["status_code"] == 200


def test_api_events_are_delivered_after_the_answer(
    sdk: SDKRunner, emulator: EmulatorHandle, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    emulator.set_webhook(url, SECRET)

    sdk(lambda c: c.organizations.create_organization(name="Acme"))

    assert endpoint.arrived.wait(5)
    assert [e.event for e in endpoint.events] == ["organization.created"]


def test_a_wrong_secret_fails_verification(
    sdk: SDKRunner, emulator: EmulatorHandle, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    organization_id = _org_with_domain(sdk)
    emulator.set_webhook(url, "not-the-secret")

    emulator.finish(organization_id, "sso")

    assert endpoint.events == []
    assert endpoint.rejected
    assert emulator.deliveries()[-1]["status_code"] == 400


def test_an_unreachable_webhook_is_recorded_not_raised(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    organization_id = _org_with_domain(sdk)
    emulator.set_webhook("http://127.0.0.1:9/webhooks/workos", SECRET)

    events = emulator.finish(organization_id, "sso")

    assert [e["event"] for e in events] == ["connection.activated"]
    deadline = time.monotonic() + 5
    while not emulator.deliveries() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emulator.deliveries()[-1]["error"] == "ConnectError"
