"""The setup page and its edges, without signing in: tokens, ended links, access marks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard.db import Database
from dashboard.models import Organization, utcnow
from dashboard.routes import app_routes
from dashboard.settings import OIDCProvider, Secret, Settings
from dashboard.setup_tokens import new_public_id, setup_token
from tests.setup_helpers import ADMIN_PROVIDER, INVITEE, form_csrf, invite


@pytest.fixture
def page_settings(settings: Settings) -> Settings:
    """An IT admin provider that is never reached: these tests stop before sign-in."""
    return settings.with_overrides(
        admin_oidc=(
            OIDCProvider(
                name=ADMIN_PROVIDER,
                issuer="http://127.0.0.1:9",
                client_id="dashboard-setup",
                client_secret=Secret("x"),
                label="Example ID",
            ),
        )
    )


@pytest.fixture
def page_client(
    make_client: Callable[..., TestClient], page_settings: Settings
) -> TestClient:
    return make_client(page_settings)


def test_the_page_says_who_invited_whom_for_what_and_asks_to_sign_in(
    page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x", features=("sso", "dsync"))

    page = page_client.get(setup.path)

    assert page.status_code == 200
    assert page.template.name == "setup/page.html"  # type: ignore[attr-defined]
    text = page.text
    assert "Acme Cloud" in text
    assert "Casey Success (cs@vendor.example.com)" in text
    assert "Set up Globex" in text
    assert "Single Sign-On" in text and "Directory Sync" in text
    assert "identity provider" in text
    assert "<time datetime=" in text
    assert page.context["days_left"] in (13, 14)
    assert ">Sign in with Example ID</button>" in text
    assert "/portal/" not in text
    assert INVITEE not in text
    assert "help@acme.test" in text


@pytest.mark.parametrize(
    "token",
    ["nonsense", "abc.def", "x" * 300, "{public_id}.forged", "{unknown}"],
)
def test_a_tampered_or_unknown_token_gets_a_clear_404(
    token: str, page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x")
    token = token.format(
        public_id=setup.link.public_id,
        unknown=setup_token(new_public_id(), page_settings.secret_key),
    )

    page = page_client.get(f"/setup/{token}")

    assert page.status_code == 404
    assert "This setup link is not valid" in page.text
    assert "Globex" not in page.text


def test_a_token_signed_with_an_old_secret_still_works(
    make_client: Callable[..., TestClient], db: Database, page_settings: Settings
) -> None:
    old = page_settings.secret_key
    rotated = page_settings.with_overrides(
        secret_key=Secret("a-brand-new-secret-key-that-is-long-enough-42"),
        old_secret_keys=(old,),
    )
    setup = invite(db, page_settings, workos_id="org_x")
    client = make_client(rotated)

    page = client.get(setup.path)

    assert page.status_code == 200
    assert (
        f"/setup/{setup_token(setup.link.public_id, rotated.secret_key)}/sign-in"
        in page.text
    )


def test_a_deleted_organization_shows_the_ended_page(
    page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x")
    with db.session() as session:
        organization = session.get(Organization, setup.organization.id)
        assert organization is not None
        organization.deleted_at = utcnow()
        session.add(organization)

    page = page_client.get(setup.path)

    assert page.status_code == 410
    assert "no longer available" in page.text
    assert "Globex" not in page.text


def test_without_providers_the_page_says_sign_in_is_unavailable(
    make_client: Callable[..., TestClient], db: Database, settings: Settings
) -> None:
    setup = invite(db, settings, workos_id="org_x")
    client = make_client(settings)

    page = client.get(setup.path)

    assert page.status_code == 200
    assert "no sign-in provider is configured" in page.text


def test_an_unknown_provider_is_a_400(
    page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x")
    csrf = form_csrf(page_client.get(setup.path).text)

    answer = page_client.post(
        f"{setup.path}/sign-in", data={"csrf_token": csrf, "provider": "nope"}
    )

    assert answer.status_code == 400
    assert "Choose one of the sign-in buttons" in answer.text


def test_an_unreachable_provider_gets_a_clear_page(
    page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x")
    csrf = form_csrf(page_client.get(setup.path).text)

    answer = page_client.post(
        f"{setup.path}/sign-in", data={"csrf_token": csrf, "provider": ADMIN_PROVIDER}
    )

    assert answer.status_code == 503
    assert "cannot be reached" in answer.text
    assert f'href="{setup.path}"' in answer.text


def test_a_callback_that_was_not_started_here_is_a_400(
    page_client: TestClient,
) -> None:
    answer = page_client.get(f"/setup/callback/{ADMIN_PROVIDER}?code=x&state=y")

    assert answer.status_code == 400
    assert "Open the setup link from your email" in answer.text


def test_a_feature_click_without_csrf_is_refused(
    page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x")

    answer = page_client.post(f"{setup.path}/portal/sso")

    assert answer.status_code == 403


def test_a_feature_click_without_sign_in_goes_back_to_the_page(
    page_client: TestClient, db: Database, page_settings: Settings
) -> None:
    setup = invite(db, page_settings, workos_id="org_x")
    csrf = form_csrf(page_client.get(setup.path).text)

    answer = page_client.post(
        f"{setup.path}/portal/sso", data={"csrf_token": csrf}, follow_redirects=False
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == setup.path


def test_every_setup_endpoint_declares_its_access() -> None:
    routes = [
        r
        for r in app_routes(development=False)
        if isinstance(r, Route) and r.path.startswith("/setup")
    ]

    access = {r.path: getattr(r.endpoint, "access", None) for r in routes}

    assert len(routes) == 5
    assert access["/setup/{token}"] == "public"
    assert access["/setup/{token}/portal/{intent}"] == "it_admin"
    assert all(value in ("public", "it_admin") for value in access.values())
