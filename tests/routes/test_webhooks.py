"""`POST /webhooks/workos` with events the emulator produced and signed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from dashboard.db import Database
from dashboard.models import AuditEvent, WorkOSEvent
from dashboard.settings import Secret, Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.progress_helpers import (
    WEBHOOK_SECRET,
    feature_states,
    local_organization,
    organization_state,
    signed_delivery,
    workos_organization,
)


@pytest.fixture
def webhook_client(
    make_client: Callable[..., TestClient], settings: Settings
) -> TestClient:
    """The app with a webhook secret configured."""
    return make_client(
        settings.with_overrides(workos_webhook_secret=Secret(WEBHOOK_SECRET))
    )


def _event_count(db: Database) -> int:
    with db.session() as session:
        return len(list(session.exec(select(WorkOSEvent))))


def test_finish_setup_event_turns_the_feature_done(
    webhook_client: TestClient, db: Database, emulator: EmulatorHandle
) -> None:
    workos_id, _ = workos_organization(emulator, "Initech")
    organization_id = local_organization(
        db, "Initech", workos_id=workos_id, intents=["sso", "dsync"]
    )
    [event] = emulator.finish(workos_id, "sso")
    body, headers = signed_delivery(event)

    response = webhook_client.post("/webhooks/workos", content=body, headers=headers)

    assert response.status_code == 200
    assert response.json() == {"status": "received"}
    states = feature_states(db, organization_id)
    assert states["sso"] == ("done", "connection active")
    assert states["dsync"][0] == "invited"
    assert organization_state(db, organization_id) == "invited"
    with db.session() as session:
        actions = [a.action for a in session.exec(select(AuditEvent))]
    assert "workos.connection_activated" in actions


def test_every_feature_done_makes_the_organization_done(
    webhook_client: TestClient, db: Database, emulator: EmulatorHandle
) -> None:
    workos_id, domain_ids = workos_organization(
        emulator, "Hooli", domains=["hooli.example", "hooli.example.net"]
    )
    intents = [
        "sso",
        "dsync",
        "domain_verification",
        "certificate_renewal",
        "bring_your_own_key",
    ]
    organization_id = local_organization(
        db, "Hooli", workos_id=workos_id, intents=intents, domains=domain_ids
    )
    events = [e for intent in intents for e in emulator.finish(workos_id, intent)]

    for event in events:
        body, headers = signed_delivery(event)
        assert (
            webhook_client.post(
                "/webhooks/workos", content=body, headers=headers
            ).status_code
            == 200
        )

    states = feature_states(db, organization_id)
    assert {intent: state for intent, (state, _) in states.items()} == dict.fromkeys(
        intents, "done"
    )
    assert states["domain_verification"][1] == "all domains verified"
    assert organization_state(db, organization_id) == "done"


def test_failed_domain_verification_is_shown_with_its_reason(
    webhook_client: TestClient, db: Database, emulator: EmulatorHandle
) -> None:
    workos_id, domain_ids = workos_organization(
        emulator, "Umbrella", domains=["umbrella.invalid"]
    )
    organization_id = local_organization(
        db,
        "Umbrella",
        workos_id=workos_id,
        intents=["domain_verification"],
        domains=domain_ids,
    )
    [event] = emulator.finish(workos_id, "domain_verification")
    body, headers = signed_delivery(event)

    response = webhook_client.post("/webhooks/workos", content=body, headers=headers)

    assert response.status_code == 200
    state, detail = feature_states(db, organization_id)["domain_verification"]
    assert state == "invited"
    assert (
        detail
        == "umbrella.invalid failed verification: domain verification period expired"
    )


def test_deactivated_connection_takes_sso_back_from_done(
    webhook_client: TestClient, db: Database, emulator: EmulatorHandle
) -> None:
    workos_id, _ = workos_organization(emulator, "Vehement")
    organization_id = local_organization(db, "Vehement", workos_id=workos_id)
    [activated] = emulator.finish(workos_id, "sso")
    deactivated = {
        **activated,
        "id": "event_deactivated_1",
        "event": "connection.deactivated",
    }

    for event in (activated, deactivated):
        body, headers = signed_delivery(event)
        webhook_client.post("/webhooks/workos", content=body, headers=headers)

    assert feature_states(db, organization_id)["sso"] == (
        "portal_opened",
        "connection inactive",
    )
    assert organization_state(db, organization_id) == "portal_opened"


def test_a_replayed_event_changes_nothing(
    webhook_client: TestClient, db: Database, emulator: EmulatorHandle
) -> None:
    workos_id, _ = workos_organization(emulator, "Massive Dynamic")
    organization_id = local_organization(db, "Massive Dynamic", workos_id=workos_id)
    [event] = emulator.finish(workos_id, "sso")
    body, headers = signed_delivery(event)
    first = webhook_client.post("/webhooks/workos", content=body, headers=headers)
    with db.session() as session:
        audits_before = len(list(session.exec(select(AuditEvent))))

    again = webhook_client.post(
        "/webhooks/workos", content=body, headers=signed_delivery(event)[1]
    )

    assert first.json() == {"status": "received"}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert _event_count(db) == 1
    with db.session() as session:
        assert len(list(session.exec(select(AuditEvent)))) == audits_before
    assert feature_states(db, organization_id)["sso"][0] == "done"


def test_event_for_an_unknown_organization_is_kept_and_changes_nothing(
    webhook_client: TestClient, db: Database, emulator: EmulatorHandle
) -> None:
    workos_id, _ = workos_organization(emulator, "Elsewhere")
    [event] = emulator.finish(workos_id, "sso")
    body, headers = signed_delivery(event)

    response = webhook_client.post("/webhooks/workos", content=body, headers=headers)

    assert response.status_code == 200
    with db.session() as session:
        [row] = session.exec(select(WorkOSEvent)).all()
        assert row.workos_organization_id == workos_id
        assert row.organization_id is None
        assert session.exec(select(AuditEvent)).all() == []


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda b, h: (b.replace(b"active", b"ACTIVE"), h), id="body changed"
        ),
        pytest.param(
            lambda b, h: (
                b,
                {**h, "WorkOS-Signature": h["WorkOS-Signature"][:-2] + "00"},
            ),
            id="signature changed",
        ),
        pytest.param(
            lambda b, h: (b, {"Content-Type": "application/json"}), id="no signature"
        ),
        pytest.param(
            lambda b, h: (b, {**h, "WorkOS-Signature": "garbage"}),
            id="malformed signature",
        ),
        pytest.param(
            lambda b, h: signed_delivery(
                __import__("json").loads(b), secret="whsec_other"
            ),
            id="other secret",
        ),
        pytest.param(
            lambda b, h: signed_delivery(
                __import__("json").loads(b),
                timestamp_ms=int((time.time() - 600) * 1000),
            ),
            id="too old",
        ),
    ],
)
def test_bad_signature_is_refused_and_changes_nothing(
    webhook_client: TestClient,
    db: Database,
    emulator: EmulatorHandle,
    tamper: Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]],
) -> None:
    workos_id, _ = workos_organization(emulator, "Soylent")
    organization_id = local_organization(db, "Soylent", workos_id=workos_id)
    [event] = emulator.finish(workos_id, "sso")
    body, headers = tamper(*signed_delivery(event))

    response = webhook_client.post("/webhooks/workos", content=body, headers=headers)

    assert response.status_code == 400
    assert _event_count(db) == 0
    assert feature_states(db, organization_id)["sso"][0] == "invited"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"id": "event_1"}',
        b'{"id": 5, "event": "connection.activated", "data": {}}',
        b'{"id": "e", "event": "x", "data": []}',
        b"\xff\xfe",
    ],
)
def test_malformed_body_with_a_good_signature_is_a_400(
    webhook_client: TestClient, db: Database, body: bytes
) -> None:
    from dashboard.emulator.webhooks import signature_header

    headers = (
        {"WorkOS-Signature": signature_header(body, WEBHOOK_SECRET)}
        if body != b"\xff\xfe"
        else {"WorkOS-Signature": "t=1, v1=00"}
    )

    response = webhook_client.post("/webhooks/workos", content=body, headers=headers)

    assert response.status_code == 400
    assert _event_count(db) == 0


def test_without_a_secret_webhooks_answer_503_and_say_why(
    client: TestClient, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = signed_delivery(
        {"id": "event_x", "event": "connection.activated", "data": {}}
    )

    with caplog.at_level(logging.WARNING):
        response = client.post("/webhooks/workos", content=body, headers=headers)

    assert response.status_code == 503
    assert "WORKOS_WEBHOOK_SECRET" in response.json()["error"]
    assert "workos_webhook_secret_missing" in caplog.messages
    assert _event_count(db) == 0


def test_an_oversized_body_is_refused(webhook_client: TestClient, db: Database) -> None:
    body = b"{" + b" " * (300 * 1024) + b"}"

    response = webhook_client.post(
        "/webhooks/workos", content=body, headers={"WorkOS-Signature": "t=1, v1=00"}
    )

    assert response.status_code == 413
    assert _event_count(db) == 0


def test_the_emulator_delivers_to_a_live_app(
    settings: Settings, db: Database, emulator: EmulatorHandle
) -> None:
    from dashboard.app import create_app
    from dashboard.emulator import ThreadedServer

    app = create_app(
        settings.with_overrides(workos_webhook_secret=Secret(WEBHOOK_SECRET))
    )
    workos_id, _ = workos_organization(emulator, "Live Co")
    organization_id = local_organization(db, "Live Co", workos_id=workos_id)

    with ThreadedServer(app) as server:
        emulator.set_webhook(f"{server.url}/webhooks/workos", WEBHOOK_SECRET)
        emulator.finish(workos_id, "sso")
        deadline = time.monotonic() + 5
        while (
            feature_states(db, organization_id)["sso"][0] != "done"
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)

    assert feature_states(db, organization_id)["sso"] == ("done", "connection active")
    assert [d["status_code"] for d in emulator.deliveries()] == [200]
