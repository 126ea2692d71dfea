"""The identity provider fixture and `dev_identity`: a registered user signs in with a verified email."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dashboard.services.dev_identity import DevIdentityError, dev_identity_register
from tests.fixtures.identity import IdentityProvider

REDIRECT = "http://app.test/auth/callback"


def test_a_registered_user_gets_a_verified_email_claim(
    identity_provider: IdentityProvider,
) -> None:
    subject = identity_provider.register("IT.Admin@Customer.test", name="Ada")

    with httpx.Client(base_url=identity_provider.issuer) as client:
        authorize = client.post(
            "/oauth2/authorize",
            params={
                "client_id": "dashboard-test",
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "openid email profile",
            },
            data={"sub": subject},
        )
        code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
        token = client.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
            },
            auth=("dashboard-test", "secret"),
        ).json()
        claims = client.get(
            "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()

    assert subject == "it.admin@customer.test"
    assert claims["email"] == "it.admin@customer.test"
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada"


def test_an_unreachable_provider_is_a_clear_error() -> None:
    with pytest.raises(DevIdentityError, match="unreachable"):
        dev_identity_register("http://127.0.0.1:9", "someone@example.com", timeout=1)
