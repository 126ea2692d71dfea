import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.settings import Secret, SettingsError, load_settings

GOOD = {
    "DATABASE_URL": "sqlite:///var/x.db",
    "SECRET_KEY": "k" * 40,
    "PUBLIC_URL": "https://onboarding.example.com",
    "WORKOS_API_KEY": "sk_test_abc",
    "WORKOS_CLIENT_ID": "client_abc",
    "STAFF_OIDC_ISSUER": "https://login.example.com",
    "STAFF_OIDC_CLIENT_ID": "dashboard",
}


def _load(**changes: str) -> object:
    return load_settings({**GOOD, **changes}, env_file=None)


def test_a_good_environment_loads() -> None:
    settings = load_settings(GOOD, env_file=None)

    assert settings.public_url == "https://onboarding.example.com"
    assert settings.setup_link_ttl_days == 14
    assert settings.run_outbox_in_process is True


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"WORKOS_API_KEY": "client_abc"}, "WORKOS_API_KEY must start with sk_"),
        (
            {"WORKOS_CLIENT_ID": "sk_test_abc"},
            "WORKOS_CLIENT_ID must start with client_",
        ),
        ({"PUBLIC_URL": "http://onboarding.example.com"}, "PUBLIC_URL must use https"),
        ({"PUBLIC_URL": "onboarding"}, "PUBLIC_URL='onboarding' is not a URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        (
            {"SETUP_LINK_TTL_DAYS": "two weeks"},
            "SETUP_LINK_TTL_DAYS='two weeks' is not a whole number",
        ),
        (
            {"RUN_WORKER_IN_SERVE": "maybe"},
            "RUN_WORKER_IN_SERVE='maybe' is not a yes/no value",
        ),
        ({"ADMIN_OIDC_PROVIDERS": "google"}, "ADMIN_OIDC_GOOGLE_ISSUER is not set"),
    ],
)
def test_each_bad_setting_is_one_line_naming_it(
    change: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(**change)

    message = str(caught.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_http_urls_are_allowed_in_development() -> None:
    settings = load_settings(
        {**GOOD, "PUBLIC_URL": "http://127.0.0.1:8000"}, env_file=None, development=True
    )

    assert settings.public_url == "http://127.0.0.1:8000"


def test_admin_providers_are_read_with_their_labels() -> None:
    settings = load_settings(
        {
            **GOOD,
            "ADMIN_OIDC_PROVIDERS": "google, okta",
            "ADMIN_OIDC_GOOGLE_ISSUER": "https://accounts.google.com",
            "ADMIN_OIDC_GOOGLE_CLIENT_ID": "g",
            "ADMIN_OIDC_GOOGLE_LABEL": "Sign in with Google",
            "ADMIN_OIDC_OKTA_ISSUER": "https://acme.okta.com",
            "ADMIN_OIDC_OKTA_CLIENT_ID": "o",
        },
        env_file=None,
    )

    assert [(p.name, p.label) for p in settings.admin_oidc] == [
        ("google", "Sign in with Google"),
        ("okta", "Sign in with Okta"),
    ]
    assert settings.admin_oidc[1].discovery_url == (
        "https://acme.okta.com/.well-known/openid-configuration"
    )


def test_the_process_environment_overrides_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BRAND_NAME=From the file\nSUPPORT_EMAIL=file@example.com\n")

    settings = load_settings(
        {**GOOD, "BRAND_NAME": "From the process"}, env_file=env_file
    )

    assert settings.brand_name == "From the process"
    assert settings.support_email == "file@example.com"


def test_secrets_never_show_in_a_repr() -> None:
    settings = load_settings(
        {**GOOD, "SMTP_URL": "smtp://u:hunter2@mail:587"}, env_file=None
    )

    shown = repr(settings)
    assert "hunter2" not in shown
    assert GOOD["SECRET_KEY"] not in shown
    assert "sk_test_abc" not in shown
    assert Secret("x").reveal() == "x"


def test_serve_with_a_bad_setting_stops_with_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    env = {**os.environ, **GOOD, "WORKOS_API_KEY": "pk_live_oops"}

    finished = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "configuration error: WORKOS_API_KEY must start with sk_: copy the secret API key from the WorkOS dashboard, not the client id"
    ]
    assert "Traceback" not in finished.stderr
