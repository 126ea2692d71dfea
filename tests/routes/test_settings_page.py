"""The admins' Settings page: the doctor's checks, run on request."""

from __future__ import annotations

from tests.fixtures.staff import StaffClient


def test_admin_sees_every_check_with_a_button_to_run_them_again(
    admin_client: StaffClient,
) -> None:
    response = admin_client.get("/settings")

    assert response.status_code == 200
    assert response.template.name == "settings/page.html"  # type: ignore[attr-defined]
    checks = response.context["checks"]  # type: ignore[attr-defined]
    names = {check.name for check in checks}
    assert {"WORKOS_API_KEY", "WorkOS accepts the key", "Database", "SMTP"} <= names
    assert next(c for c in checks if c.name == "WorkOS accepts the key").ok
    assert "Run checks again" in response.text
    assert 'hx-get="/settings"' in response.text and 'href="/settings"' in response.text
    assert "sk_test_dev" not in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_run_again_answers_only_the_checks_fragment_to_htmx(
    admin_client: StaffClient,
) -> None:
    response = admin_client.get("/settings", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.template.name == "settings/_checks.html"  # type: ignore[attr-defined]
    assert "<html" not in response.text
    assert 'id="doctor-checks"' in response.text


def test_members_are_refused(member_client: StaffClient) -> None:
    response = member_client.get("/settings")

    assert response.status_code == 403
    assert "doctor-checks" not in response.text


def test_signed_out_visitors_are_sent_to_sign_in(
    anonymous_client: StaffClient,
) -> None:
    response = anonymous_client.get("/settings", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login")
