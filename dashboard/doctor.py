"""`dashboard doctor` and the admins' Settings page: every check an operator would do by hand.

Each check answers PASS or FAIL with what it found and, on FAIL, the fix.
Nothing here ever puts a secret into a result: keys show only their kind
(test or live), URLs lose their user and password before being shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx
from sqlalchemy.exc import SQLAlchemyError

from dashboard.db import create_db_engine
from dashboard.migrations import pending
from dashboard.services.mail import MailConfigError, parse_smtp_url
from dashboard.services.workos import SDKWorkOSGateway, WorkOSFailure
from dashboard.settings import OIDCProvider, Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 5.0
"""Each network check gives up after this; an operator waits on the whole list."""

REQUIRED_DISCOVERY_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
)


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    """What was found; never a secret."""
    fix: str = ""
    """What to do about a FAIL; empty on PASS."""

    @property
    def label(self) -> str:
        return "PASS" if self.ok else "FAIL"

    def line(self) -> str:
        text = f"{self.label}  {self.name}: {self.detail}"
        if self.fix:
            text += f" — fix: {self.fix}"
        return text


def _pass(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, detail)


def _fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, False, detail, fix)


def settings_failure(message: str) -> CheckResult:
    """A SettingsError as a report line rather than a traceback."""
    return _fail("Settings", "the configuration could not be read", message.rstrip("."))


def check_api_key(settings: Settings) -> CheckResult:
    name = "WORKOS_API_KEY"
    key = settings.workos_api_key.reveal()
    if not key:
        return _fail(
            name, "not set", "copy the secret API key (sk_…) from the WorkOS dashboard"
        )
    if not key.startswith("sk_"):
        return _fail(
            name,
            "does not start with sk_",
            "copy the secret API key from the WorkOS dashboard, not the client id",
        )
    if key.startswith("sk_live_"):
        kind = "live (production) key, sk_live_…"
    elif key.startswith("sk_test_"):
        kind = "test (staging) key, sk_test_…"
    else:
        kind = "key of unknown environment, sk_…"
    return _pass(name, f"set: {kind}")


def check_client_id(settings: Settings) -> CheckResult:
    name = "WORKOS_CLIENT_ID"
    client_id = settings.workos_client_id
    if not client_id:
        return _fail(
            name, "not set", "copy the client id (client_…) from the WorkOS dashboard"
        )
    if not client_id.startswith("client_"):
        return _fail(
            name,
            "does not start with client_",
            "copy the client id from the WorkOS dashboard",
        )
    return _pass(name, f"set: {client_id}")


async def check_workos_accepts_key(settings: Settings) -> CheckResult:
    """One cheap authenticated call, without the SDK's retries so a dead peer shows fast."""
    name = "WorkOS accepts the key"
    gateway = SDKWorkOSGateway.from_settings(
        settings, request_timeout=int(CHECK_TIMEOUT_SECONDS), max_retries=0
    )
    try:
        await asyncio.wait_for(gateway.check_credentials(), CHECK_TIMEOUT_SECONDS * 2)
    except WorkOSFailure as failure:
        return _fail(
            name,
            f"{settings.workos_base_url} refused or failed ({failure.kind})",
            failure.staff_message,
        )
    except TimeoutError:
        return _fail(
            name,
            f"{settings.workos_base_url} did not answer in time",
            "check the network to WorkOS and WORKOS_BASE_URL",
        )
    finally:
        await gateway.close()
    return _pass(name, f"{settings.workos_base_url} answered an authenticated call")


def example_urls(settings: Settings) -> dict[str, str]:
    """The URLs WorkOS and IT admins are given, built from PUBLIC_URL (token elided)."""
    setup = settings.url_for_path("/setup/<token>")
    return {
        "setup": setup,
        "return": setup,
        "success": setup + "?finished=<feature>",
        "staff sign-in callback": settings.url_for_path("/auth/callback"),
        **{
            f"IT admin sign-in callback ({provider.name})": settings.url_for_path(
                f"/setup/callback/{provider.name}"
            )
            for provider in settings.admin_oidc
        },
        "webhooks": settings.url_for_path("/webhooks/workos"),
    }


def check_public_url(settings: Settings) -> CheckResult:
    name = "PUBLIC_URL"
    parts = urlsplit(settings.public_url)
    urls = example_urls(settings)
    shown = "; ".join(f"{key} {value}" for key, value in urls.items())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _fail(
            name,
            f"{settings.public_url!r} is not a URL",
            "set it to the address people use, e.g. https://onboarding.example.com",
        )
    if parts.scheme != "https" and not settings.development:
        return _fail(
            name,
            f"{settings.public_url} is not https, so WorkOS refuses its redirect URLs ({shown})",
            f"serve the app over TLS and set PUBLIC_URL to https://{parts.netloc}",
        )
    if parts.path.strip("/") or parts.query:
        return _fail(
            name,
            f"{settings.public_url} has a path or query",
            f"set it to the bare origin, e.g. {parts.scheme}://{parts.netloc}",
        )
    return _pass(name, shown)


def check_database(settings: Settings) -> CheckResult:
    name = "Database"
    shown = _without_password(settings.database_url)
    engine = create_db_engine(settings.database_url, pool=False)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        missing = pending(settings.database_url)
    except SQLAlchemyError as exc:
        return _fail(
            name,
            f"{shown} cannot be reached ({type(exc).__name__})",
            "check DATABASE_URL, that the server runs and accepts this user",
        )
    finally:
        engine.dispose()
    if missing:
        return _fail(
            name,
            f"{shown} answers but {len(missing)} migration(s) are not applied",
            "run `dashboard db upgrade` before starting the new code",
        )
    return _pass(name, f"{shown} answers; migrations at head")


async def check_smtp(settings: Settings) -> CheckResult:
    name = "SMTP"
    raw = settings.smtp_url.reveal()
    if not raw:
        if settings.development:
            return _pass(name, "not configured; development keeps mail at /dev/mail")
        return _fail(
            name,
            "not configured, so invites are queued but never sent",
            "set SMTP_URL, e.g. smtp://user:password@smtp.example.com:587",
        )
    try:
        config = parse_smtp_url(raw)
    except MailConfigError as exc:
        return _fail(name, "SMTP_URL cannot be read", str(exc))
    scheme = "smtps" if config.implicit_tls else "smtp"
    user = f"{config.username}@" if config.username else ""
    shown = f"{scheme}://{user}{config.where}"
    client = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        use_tls=config.implicit_tls,
        start_tls=False if config.implicit_tls else None,
        timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _fail(
            name,
            f"{shown} cannot be reached ({type(exc).__name__})",
            "check the host and port in SMTP_URL and that the firewall lets this machine out",
        )
    try:
        if config.username:
            await client.login(config.username, config.password or "")
    except aiosmtplib.SMTPAuthenticationError as exc:
        return _fail(
            name,
            f"{shown} refused the login ({exc.code})",
            "check the user name and password in SMTP_URL (percent-encode special characters)",
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _fail(
            name,
            f"{shown} did not accept a login ({type(exc).__name__})",
            "check whether the server wants TLS (smtps://) and offers AUTH",
        )
    finally:
        await _smtp_quit(client)
    login = "accepts the login" if config.username else "answers (no login configured)"
    return _pass(name, f"{shown} {login}")


async def _smtp_quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


async def check_oidc_provider(
    provider: OIDCProvider, role: str, http: httpx.AsyncClient
) -> CheckResult:
    name = f"Sign-in provider {provider.name} ({role})"
    url = provider.discovery_url
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        return _fail(
            name,
            f"{url} cannot be reached ({type(exc).__name__})",
            "check the issuer URL and that this machine can reach it",
        )
    if response.status_code != 200:
        return _fail(
            name,
            f"{url} answered {response.status_code}",
            "set the issuer to the URL whose /.well-known/openid-configuration exists",
        )
    try:
        document: Any = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return _fail(name, f"{url} is not a JSON document", "check the issuer URL")
    issuer = str(document.get("issuer", ""))
    if issuer.rstrip("/") != provider.issuer.rstrip("/"):
        return _fail(
            name,
            f"the document names issuer {issuer!r}, not {provider.issuer!r}",
            f"set the issuer to exactly {issuer!r}",
        )
    missing = [key for key in REQUIRED_DISCOVERY_KEYS if not document.get(key)]
    if missing:
        return _fail(
            name,
            f"{url} lacks {', '.join(missing)}",
            "the provider is not a complete OpenID Connect issuer; check its configuration",
        )
    return _pass(name, f"{url} describes issuer {issuer}")


async def check_oidc_providers(settings: Settings) -> list[CheckResult]:
    providers: list[tuple[OIDCProvider, str]] = []
    if settings.staff_oidc is not None:
        providers.append((settings.staff_oidc, "staff"))
    providers.extend((p, "IT admins") for p in settings.admin_oidc)
    results: list[CheckResult] = []
    if settings.staff_oidc is None and not settings.development:
        results.append(
            _fail(
                "Sign-in provider (staff)",
                "none configured",
                "set STAFF_OIDC_ISSUER, STAFF_OIDC_CLIENT_ID and STAFF_OIDC_CLIENT_SECRET",
            )
        )
    if not settings.admin_oidc:
        results.append(
            _fail(
                "Sign-in providers (IT admins)",
                "none configured, so invited IT admins cannot sign in",
                "set ADMIN_OIDC_PROVIDERS and ADMIN_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET",
            )
        )
    async with httpx.AsyncClient(
        timeout=CHECK_TIMEOUT_SECONDS, follow_redirects=True
    ) as http:
        results.extend(
            await asyncio.gather(
                *(check_oidc_provider(p, role, http) for p, role in providers)
            )
        )
    return results


def check_webhook_secret(settings: Settings) -> CheckResult:
    name = "WORKOS_WEBHOOK_SECRET"
    if not settings.workos_webhook_secret:
        return _fail(
            name,
            "not set, so WorkOS events sent to /webhooks/workos are refused",
            f"add the endpoint {settings.url_for_path('/webhooks/workos')} in the WorkOS dashboard and copy its secret into WORKOS_WEBHOOK_SECRET",
        )
    return _pass(name, "set")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


async def doctor_run(settings: Settings) -> list[CheckResult]:
    """Run every check; the network ones concurrently, each with its own timeout."""
    network: list[Awaitable[Any]] = [
        check_workos_accepts_key(settings),
        check_smtp(settings),
        check_oidc_providers(settings),
    ]
    workos_result, smtp_result, oidc_results = await asyncio.gather(*network)
    local: list[Callable[[Settings], CheckResult]] = [
        check_api_key,
        check_client_id,
    ]
    results = [check(settings) for check in local]
    results.append(workos_result)
    results.append(check_public_url(settings))
    # A blackholed database host blocks for its connect timeout; keep the loop free.
    results.append(await asyncio.to_thread(check_database, settings))
    results.append(smtp_result)
    results.extend(oidc_results)
    results.append(check_webhook_secret(settings))
    log.info(
        "doctor_ran",
        extra={
            "checks": len(results),
            "failed": sum(not r.ok for r in results),
        },
    )
    return results


def doctor_settings(
    environ: dict[str, str] | None = None,
) -> tuple[Settings | None, list[CheckResult]]:
    """Settings for the checks, and a FAIL line when `serve` would refuse them.

    A setting `serve` refuses (say an http PUBLIC_URL) is reported, then the
    configuration is read again leniently so the other checks still run and
    the operator sees every problem at once, not one per attempt.
    """
    try:
        return load_settings(environ), []
    except SettingsError as exc:
        first = settings_failure(str(exc))
    try:
        lenient = load_settings(environ, development=True)
    except SettingsError:
        return None, [first]
    return lenient.with_overrides(development=False), [first]
