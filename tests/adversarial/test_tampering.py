"""Tampered setup tokens, session cookies and webhook bodies: refused cleanly, never a 500."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import itsdangerous
import pytest
from starlette.testclient import TestClient

from dashboard.app import SESSION_COOKIE
from dashboard.auth import SESSION_STAFF_ID, SESSION_STAFF_SINCE
from dashboard.db import Database
from dashboard.emulator.webhooks import signature_header
from dashboard.models import Staff, WorkOSEvent, utcnow
from dashboard.settings import Secret, Settings
from dashboard.setup_tokens import setup_token
from tests.adversarial.conftest import WEBHOOK_SECRET, World


def _flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1 :]


def tampered_tokens(token: str) -> dict[str, str]:
    public_id, _, signature = token.partition(".")
    return {
        "signature_flipped": f"{public_id}.{_flip(signature, 3)}",
        "public_id_flipped": f"{_flip(public_id, 2)}.{signature}",
        "no_signature": public_id,
        "signature_only": f".{signature}",
        "other_secret": setup_token(public_id, Secret("another-secret-" * 4)),
        "truncated": token[:-1],
        "doubled": token + token,
        "overlong": token + "A" * 500,
        "unicode": token[:10] + "é☃" + token[12:],
        "short": "a.b",
        "encoded_slash": "%2F..%2Fsettings",
    }


def test_tampered_setup_tokens_get_a_clear_page_and_no_sign_in(
    visitor: Callable[[str], TestClient], world: World
) -> None:
    client = visitor("anonymous")
    wrong: list[str] = []

    for label, token in tampered_tokens(world.invite.token).items():
        page = client.get(f"/setup/{token}", follow_redirects=False)
        click = client.post(f"/setup/{token}/portal/sso", follow_redirects=False)
        sign_in = client.post(
            f"/setup/{token}/sign-in",
            data={"provider": "exampleid"},
            follow_redirects=False,
        )
        for name, response in (("page", page), ("click", click), ("sign-in", sign_in)):
            if not 400 <= response.status_code < 500:
                wrong.append(f"{label} {name}: {response.status_code}")
        if "Sign in with" in page.text:
            wrong.append(f"{label}: the page offers sign-in")

    assert not wrong, "\n".join(wrong)


def test_the_genuine_token_still_works_after_the_attempts(
    visitor: Callable[[str], TestClient], world: World
) -> None:
    client = visitor("anonymous")

    response = client.get(world.invite.path)

    assert response.status_code == 200
    assert "Sign in with Example ID" in response.text


def _cookie(secret: str, session: dict[str, object]) -> str:
    data = base64.b64encode(json.dumps(session).encode())
    return itsdangerous.TimestampSigner(secret).sign(data).decode()


def _admin_id(db: Database) -> int:
    with db.session() as session:
        staff = Staff(email="forged-admin@example.com", role="admin")
        session.add(staff)
        session.flush()
        assert staff.id is not None
        return staff.id


@pytest.mark.parametrize(
    "forgery",
    ["flipped", "other_secret", "expired_sign_in", "disabled_staff", "garbage"],
)
def test_forged_session_cookies_get_sign_in_not_the_staff_pages(
    forgery: str,
    db: Database,
    attack_settings: Settings,
    visitor: Callable[[str], TestClient],
) -> None:
    client = visitor("anonymous")
    staff_id = _admin_id(db)
    secret = attack_settings.secret_key.reveal()
    session = {SESSION_STAFF_ID: staff_id, SESSION_STAFF_SINCE: int(time.time())}
    genuine = _cookie(secret, session)
    cookies = {
        "flipped": _flip(genuine, 5),
        "other_secret": _cookie("not-the-secret-" * 4, session),
        "expired_sign_in": _cookie(
            secret, {SESSION_STAFF_ID: staff_id, SESSION_STAFF_SINCE: 1}
        ),
        "disabled_staff": genuine,
        "garbage": "%%%not-a-cookie\x7f",
    }
    if forgery == "disabled_staff":
        with db.session() as s:
            staff = s.get(Staff, staff_id)
            assert staff is not None
            staff.disabled_at = utcnow()
            s.add(staff)

    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookies[forgery])
    response = client.get("/orgs", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login")


def test_a_genuine_forged_cookie_proves_the_forgeries_were_refused_for_their_flaw(
    db: Database, attack_settings: Settings, visitor: Callable[[str], TestClient]
) -> None:
    """The control: the same cookie, correctly signed, does open the staff home."""
    client = visitor("anonymous")
    staff_id = _admin_id(db)
    session = {SESSION_STAFF_ID: staff_id, SESSION_STAFF_SINCE: int(time.time())}

    client.cookies.clear()
    client.cookies.set(
        SESSION_COOKIE, _cookie(attack_settings.secret_key.reveal(), session)
    )
    response = client.get("/orgs", follow_redirects=False)

    assert response.status_code == 200


def _event(world: World) -> bytes:
    return json.dumps(
        {
            "id": "event_01TAMPERTEST",
            "event": "connection.activated",
            "data": {
                "organization_id": world.workos_organization_id,
                "state": "active",
            },
            "created_at": "2026-01-01T00:00:00.000Z",
        }
    ).encode()


def tampered_webhooks(body: bytes) -> dict[str, tuple[bytes, dict[str, str]]]:
    good = signature_header(body, WEBHOOK_SECRET)
    stale = signature_header(body, WEBHOOK_SECRET, int(time.time() * 1000) - 3_600_000)
    return {
        "no_signature": (body, {}),
        "body_changed": (
            body.replace(b"activated", b"deleted"),
            {"WorkOS-Signature": good},
        ),
        "wrong_secret": (body, {"WorkOS-Signature": signature_header(body, "wrong")}),
        "stale_timestamp": (body, {"WorkOS-Signature": stale}),
        "garbage_header": (body, {"WorkOS-Signature": "t=abc, v1=zz"}),
        "signed_garbage": (
            b"\xff\xfe not json",
            {"WorkOS-Signature": "t=1, v1=00"},
        ),
        "signed_not_json": (
            b"[1, 2, 3",
            {"WorkOS-Signature": signature_header(b"[1, 2, 3", WEBHOOK_SECRET)},
        ),
        "signed_wrong_shape": (
            b'{"event": 5}',
            {"WorkOS-Signature": signature_header(b'{"event": 5}', WEBHOOK_SECRET)},
        ),
    }


def test_tampered_webhooks_are_refused_and_record_nothing(
    visitor: Callable[[str], TestClient], world: World, db: Database
) -> None:
    client = visitor("anonymous")
    wrong: list[str] = []

    for label, (body, headers) in tampered_webhooks(_event(world)).items():
        response = client.post(
            "/webhooks/workos",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        if not 400 <= response.status_code < 500:
            wrong.append(f"{label}: {response.status_code}")

    assert not wrong, "\n".join(wrong)
    with db.session() as session:
        assert session.get(WorkOSEvent, "event_01TAMPERTEST") is None
