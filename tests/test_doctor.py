"""`dashboard doctor` against real peers: the emulator, aiosmtpd, the identity provider, a database."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dashboard.cli import main
from dashboard.db import Database
from dashboard.doctor import doctor_run
from dashboard.settings import OIDCProvider, Secret, Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.identity import IdentityProvider

SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-pass-0f9e"
WEBHOOK_SECRET = "whsec-doctor-test"
API_KEY_TAIL = "sk_test_dev"


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def smtp_with_login() -> Iterator[int]:
    """An aiosmtpd server that wants AUTH LOGIN/PLAIN (over plain text, as tests allow)."""
    controller = Controller(
        _Sink(),
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield controller.port
    controller.stop()


@pytest.fixture
def good_settings(
    settings: Settings,
    db: Database,
    emulator: EmulatorHandle,
    identity_provider: IdentityProvider,
    smtp_with_login: int,
) -> Settings:
    """A production-like configuration in which every check passes."""
    provider = OIDCProvider(
        name="staff",
        issuer=identity_provider.issuer,
        client_id="dashboard-staff",
        client_secret=Secret("staff-client-secret"),
        label="Sign in",
    )
    admins = OIDCProvider(
        name="google",
        issuer=identity_provider.issuer,
        client_id="dashboard-admins",
        client_secret=Secret("admin-client-secret"),
        label="Sign in with Google",
    )
    return emulator.settings(settings).with_overrides(
        development=False,
        public_url="https://onboarding.example.com",
        smtp_url=Secret(
            f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp_with_login}"
        ),
        workos_webhook_secret=Secret(WEBHOOK_SECRET),
        staff_oidc=provider,
        admin_oidc=(admins,),
    )


def test_every_check_passes_on_a_good_configuration(
    good_settings: Settings,
) -> None:
    results = asyncio.run(doctor_run(good_settings))

    assert [r.name for r in results if not r.ok] == []
    names = [r.name for r in results]
    assert names[:3] == ["WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WorkOS accepts the key"]
    assert "Sign-in provider staff (staff)" in names
    assert "Sign-in provider google (IT admins)" in names
    public = next(r for r in results if r.name == "PUBLIC_URL")
    assert "https://onboarding.example.com/setup/<token>" in public.detail
    assert "test (staging) key" in results[0].detail


def _break(
    settings: Settings, tmp_path: Path, what: str, identity_issuer: str
) -> Settings:
    if what == "bad key":
        return settings.with_overrides(workos_api_key=Secret("sk_test_wrong"))
    if what == "http public url":
        return settings.with_overrides(public_url="http://onboarding.example.com")
    if what == "smtp unreachable":
        return settings.with_overrides(
            smtp_url=Secret(
                f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{_free_port()}"
            )
        )
    if what == "smtp wrong password":
        url = settings.smtp_url.reveal().replace(SMTP_PASSWORD, "not-the-password")
        return settings.with_overrides(smtp_url=Secret(url))
    if what == "smtp not configured":
        return settings.with_overrides(smtp_url=Secret(""))
    if what == "discovery 404":
        assert settings.admin_oidc
        broken = OIDCProvider(
            name="google",
            issuer=identity_issuer + "/no-such-issuer",
            client_id="x",
            client_secret=Secret(""),
            label="x",
        )
        return settings.with_overrides(admin_oidc=(broken,))
    if what == "database not migrated":
        return settings.with_overrides(
            database_url=f"sqlite:///{tmp_path / 'empty.db'}"
        )
    if what == "database unreachable":
        return settings.with_overrides(
            database_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
        )
    if what == "no webhook secret":
        return settings.with_overrides(workos_webhook_secret=Secret(""))
    if what == "client id":
        return settings.with_overrides(workos_client_id="project_123")
    raise AssertionError(what)


@pytest.mark.parametrize(
    ("what", "failing", "fix_mentions"),
    [
        ("bad key", "WorkOS accepts the key", "WORKOS_API_KEY"),
        ("http public url", "PUBLIC_URL", "https://onboarding.example.com"),
        ("smtp unreachable", "SMTP", "host and port"),
        ("smtp wrong password", "SMTP", "password"),
        ("smtp not configured", "SMTP", "SMTP_URL"),
        ("discovery 404", "Sign-in provider google (IT admins)", "issuer"),
        ("database not migrated", "Database", "dashboard db upgrade"),
        ("database unreachable", "Database", "DATABASE_URL"),
        ("no webhook secret", "WORKOS_WEBHOOK_SECRET", "/webhooks/workos"),
        ("client id", "WORKOS_CLIENT_ID", "client id"),
    ],
)
def test_each_check_fails_on_its_own(
    good_settings: Settings,
    identity_provider: IdentityProvider,
    tmp_path: Path,
    what: str,
    failing: str,
    fix_mentions: str,
) -> None:
    settings = _break(good_settings, tmp_path, what, identity_provider.issuer)

    results = asyncio.run(doctor_run(settings))

    assert [r.name for r in results if not r.ok] == [failing]
    failed = next(r for r in results if not r.ok)
    assert fix_mentions in failed.fix
    assert SMTP_PASSWORD not in failed.line()


def _environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """The process environment `dashboard doctor` reads, built from `settings`."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    assert settings.staff_oidc is not None
    values = {
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key.reveal(),
        "PUBLIC_URL": settings.public_url,
        "WORKOS_API_KEY": settings.workos_api_key.reveal(),
        "WORKOS_CLIENT_ID": settings.workos_client_id,
        "WORKOS_BASE_URL": settings.workos_base_url,
        "WORKOS_WEBHOOK_SECRET": settings.workos_webhook_secret.reveal(),
        "SMTP_URL": settings.smtp_url.reveal(),
        "STAFF_OIDC_ISSUER": settings.staff_oidc.issuer,
        "STAFF_OIDC_CLIENT_ID": settings.staff_oidc.client_id,
        "STAFF_OIDC_CLIENT_SECRET": settings.staff_oidc.client_secret.reveal(),
        "ADMIN_OIDC_PROVIDERS": "google",
        "ADMIN_OIDC_GOOGLE_ISSUER": settings.staff_oidc.issuer,
        "ADMIN_OIDC_GOOGLE_CLIENT_ID": "dashboard-admins",
        "ADMIN_OIDC_GOOGLE_CLIENT_SECRET": "admin-client-secret",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def _secrets(settings: Settings) -> list[str]:
    return [
        settings.secret_key.reveal(),
        settings.workos_api_key.reveal(),
        SMTP_PASSWORD,
        WEBHOOK_SECRET,
        "staff-client-secret",
        "admin-client-secret",
    ]


def test_command_prints_one_line_per_check_and_exits_0_when_all_pass(
    good_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The emulator serves plain http on loopback; production settings want https.
    _environment(monkeypatch, tmp_path, good_settings)
    monkeypatch.setenv("WORKOS_BASE_URL", good_settings.workos_base_url)

    code = main(["doctor"])

    output = capsys.readouterr()
    lines = output.out.splitlines()
    assert lines[-1].endswith("failed")
    check_lines = lines[:-1]
    assert all(line.startswith(("PASS  ", "FAIL  ")) for line in check_lines)
    # Only the issuers and WorkOS URL served over http on loopback are refused.
    failing = [line for line in check_lines if line.startswith("FAIL")]
    assert len(failing) == 1 and failing[0].startswith("FAIL  Settings:")
    assert "must use https" in failing[0]
    assert code == 1
    for secret in _secrets(good_settings):
        assert secret not in output.out + output.err


def test_command_reports_a_missing_setting_as_a_fail_line_not_a_traceback(
    good_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _environment(monkeypatch, tmp_path, good_settings)
    monkeypatch.delenv("DATABASE_URL")

    code = main(["doctor"])

    output = capsys.readouterr()
    assert code == 1
    assert output.out.splitlines()[0].startswith(
        "FAIL  Settings: the configuration could not be read — fix: DATABASE_URL is not set"
    )
    assert "Traceback" not in output.out + output.err
    for secret in _secrets(good_settings):
        assert secret not in output.out + output.err
