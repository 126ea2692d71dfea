from collections.abc import Callable

from sqlmodel import select
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.db import Database
from dashboard.models import AuditEvent
from dashboard.routes.auth import safe_next
from dashboard.settings import Settings
from tests.fixtures.staff import (
    OUTSIDER_EMAIL,
    StaffClient,
    session_of,
    sign_in,
)


def test_login_page_shows_the_sign_in_button_and_keeps_next(
    anonymous_client: StaffClient,
) -> None:
    response = anonymous_client.get("/auth/login", params={"next": "/orgs?q=acme"})

    assert response.status_code == 200
    assert response.template.name == "auth/login.html"  # type: ignore[attr-defined]
    assert response.context["next"] == "/orgs?q=acme"  # type: ignore[attr-defined]
    assert ">Sign in</button>" in response.text


def test_login_page_says_so_when_no_provider_is_configured(
    client: TestClient,
) -> None:
    response = client.get("/auth/login")

    assert response.status_code == 503
    assert "Staff sign-in is not configured" in response.text
    assert ">Sign in</button>" not in response.text


def test_safe_next_accepts_only_local_paths() -> None:
    assert safe_next("/orgs/3?x=1") == "/orgs/3?x=1"
    assert safe_next("https://evil.example") == "/orgs"
    assert safe_next("//evil.example/x") == "/orgs"
    assert safe_next("/\\evil.example") == "/orgs"
    assert safe_next("/auth/login") == "/orgs"
    assert safe_next(None) == "/orgs"


def test_home_redirects_to_the_staff_home(anonymous_client: StaffClient) -> None:
    response = anonymous_client.get("/", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/orgs"


def test_staff_sign_in_rotates_the_session_and_returns_to_next(
    make_staff_client: Callable[..., StaffClient],
    db: Database,
    identity_provider,
) -> None:
    client = make_staff_client("ann@staff.example.com", "member")
    client.post("/auth/logout")
    client.cookies.clear()
    client.get("/auth/login")
    before = session_of(client, client.secret)["csrf"]

    response = sign_in(client, "ann@staff.example.com", next_path="/activity")

    assert response.status_code == 303
    assert response.headers["location"] == "/activity"
    session = session_of(client, client.secret)
    assert session["staff_id"] == client.staff_id
    assert session["csrf"] != before
    with db.session() as s:
        actions = [e.action for e in s.exec(select(AuditEvent))]
    assert actions.count("staff.signed_in") == 2


def test_session_cookie_is_httponly_lax_and_secure_outside_development(
    staff_settings: Settings,
) -> None:
    production = staff_settings.with_overrides(
        development=False, public_url="https://testserver"
    )
    client = StaffClient(
        create_app(production),
        base_url="https://testserver",
    )

    with client:
        response = client.get("/auth/login")

    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" in cookie.lower()
    assert "Max-Age=28800" in cookie


def test_session_cookie_is_not_secure_in_development(
    anonymous_client: StaffClient,
) -> None:
    response = anonymous_client.get("/auth/login")

    assert "secure" not in response.headers["set-cookie"].lower()


def test_a_non_staff_address_is_refused_by_name_and_recorded(
    outsider_client: StaffClient, db: Database
) -> None:
    response = outsider_client.get("/orgs", follow_redirects=False)

    assert response.status_code == 303
    assert "staff_id" not in session_of(outsider_client, outsider_client.secret)
    with db.session() as session:
        event = session.exec(select(AuditEvent)).one()
    assert event.action == "staff.sign_in_refused"
    assert event.detail == {"email": OUTSIDER_EMAIL, "reason": "not_staff"}


def test_refusal_page_names_the_address(
    make_staff_client: Callable[..., StaffClient], identity_provider
) -> None:
    client = make_staff_client("eve@elsewhere.example.com", None)
    identity_provider.register("eve@elsewhere.example.com")

    response = sign_in(client, "eve@elsewhere.example.com")

    assert response.status_code == 403
    assert response.template.name == "auth/refused.html"  # type: ignore[attr-defined]
    assert "eve@elsewhere.example.com" in response.text
    assert "not on the list of staff" in response.text


def test_an_unverified_email_is_refused_even_for_staff(
    make_staff_client: Callable[..., StaffClient], db: Database
) -> None:
    client = make_staff_client("unverified@staff.example.com", "admin", verified=False)

    response = client.get("/orgs", follow_redirects=False)

    assert response.status_code == 303
    with db.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "staff.sign_in_refused")
        ).one()
    assert event.detail["reason"] == "not_verified"


def test_a_callback_without_a_started_sign_in_is_a_clear_400(
    anonymous_client: StaffClient,
) -> None:
    response = anonymous_client.get("/auth/callback?code=x&state=y")

    assert response.status_code == 400
    assert "Start again" in response.text


def test_logout_clears_the_session(member_client: StaffClient) -> None:
    response = member_client.post("/auth/logout", follow_redirects=False)

    assert response.status_code == 303
    assert "staff_id" not in session_of(member_client, member_client.secret)


def test_logout_without_csrf_token_is_refused(member_client: StaffClient) -> None:
    response = member_client.post("/auth/logout", headers={"X-CSRF-Token": ""})

    assert response.status_code == 403
    assert "staff_id" in session_of(member_client, member_client.secret)
