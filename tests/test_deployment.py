"""`serve` starts and answers health checks even when every outside peer is down."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from dashboard.settings import OIDCProvider, Secret, Settings


def test_the_app_starts_with_workos_smtp_and_identity_provider_unreachable(
    settings: Settings, make_client: Callable[..., TestClient]
) -> None:
    nowhere = OIDCProvider(
        name="staff",
        issuer="https://127.0.0.1:9",
        client_id="staff",
        client_secret=Secret("x"),
        label="Sign in",
    )
    production = settings.with_overrides(
        development=False,
        public_url="https://onboarding.example.com",
        workos_base_url="https://127.0.0.1:9",
        smtp_url=Secret("smtp://user:pw@127.0.0.1:9"),
        staff_oidc=nowhere,
        admin_oidc=(nowhere,),
        run_outbox_in_process=True,
    )

    client = make_client(production, base_url="https://testserver")
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
