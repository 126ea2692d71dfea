"""Configuration, read once from the environment (and `.env`) and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

FEATURES: dict[str, str] = {
    "sso": "Single Sign-On",
    "dsync": "Directory Sync",
    "audit_logs": "Audit Logs",
    "log_streams": "Log Streams",
    "domain_verification": "Domain Verification",
    "certificate_renewal": "Certificate Renewal",
    "bring_your_own_key": "Bring Your Own Key",
}
"""The Admin Portal intents staff may offer, with the names people read."""

DEV_WORKOS_API_KEY = "sk_test_dev"
DEV_WORKOS_CLIENT_ID = "client_dev"


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line naming it and the fix."""


@dataclass(frozen=True)
class OIDCProvider:
    """An OpenID Connect issuer people sign in with."""

    name: str
    issuer: str
    client_id: str
    client_secret: Secret
    label: str

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, checked once at start-up."""

    database_url: str
    secret_key: Secret
    public_url: str
    workos_api_key: Secret
    workos_client_id: str
    workos_base_url: str = "https://api.workos.com"
    workos_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    smtp_url: Secret = field(default_factory=lambda: Secret(""))
    email_from: str = "onboarding@example.com"
    setup_link_ttl_days: int = 14
    stalled_after_days: int = 7
    reminder_every_days: int = 0
    staff_oidc: OIDCProvider | None = None
    admin_oidc: tuple[OIDCProvider, ...] = ()
    brand_name: str = "Example Inc."
    brand_logo_url: str = ""
    support_email: str = "support@example.com"
    old_secret_keys: tuple[Secret, ...] = ()
    session_max_age_seconds: int = 8 * 3600
    admin_session_max_age_seconds: int = 3600
    rate_limit_window_seconds: int = 60
    """Per client address and route, requests allowed in each window (see ratelimit)."""
    rate_limit_setup_page: int = 60
    rate_limit_sign_in: int = 20
    rate_limit_portal: int = 30
    trusted_proxies: tuple[str, ...] = ()
    run_outbox_in_process: bool = True
    """Run the background loops (outbox, event poller, reminders) inside each app process."""
    development: bool = False
    dev_mailbox: bool = False
    """True only under `dashboard dev`: mail is kept for `/dev/mail`, never sent."""

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def secure_cookies(self) -> bool:
        return not self.development

    def url_for_path(self, path: str) -> str:
        return self.public_url.rstrip("/") + "/" + path.lstrip("/")


def _require(env: Mapping[str, str], name: str, fix: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: {fix}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a whole number: set it to a number of days such as {default}"
        ) from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative: set it to 0 or more")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(
        f"{name}={raw!r} is not a yes/no value: set it to true or false"
    )


def _check_url(name: str, value: str, *, development: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            f"{name}={value!r} is not a URL: set it to something like https://onboarding.example.com"
        )
    if parts.scheme != "https" and not development:
        raise SettingsError(
            f"{name} must use https outside development: change {value!r} to its https:// address"
        )
    return value.rstrip("/")


def _provider(
    env: Mapping[str, str], prefix: str, name: str, development: bool
) -> OIDCProvider:
    issuer = _require(
        env,
        f"{prefix}_ISSUER",
        "set it to the issuer URL whose /.well-known/openid-configuration describes the provider",
    )
    issuer = _check_url(f"{prefix}_ISSUER", issuer, development=development)
    client_id = _require(
        env,
        f"{prefix}_CLIENT_ID",
        "set it to the client id registered with that provider",
    )
    secret = env.get(f"{prefix}_CLIENT_SECRET", "")
    label = env.get(f"{prefix}_LABEL", "").strip() or f"Sign in with {name.title()}"
    return OIDCProvider(
        name=name,
        issuer=issuer,
        client_id=client_id,
        client_secret=Secret(secret),
        label=label,
    )


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = Path(".env"),
    development: bool = False,
) -> Settings:
    """Build settings from `.env` overlaid by the process environment.

    Raises SettingsError with a single line a person can act on; the CLI prints
    it and exits, so a bad setting never shows up as a traceback.
    """
    env: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    database_url = _require(
        env,
        "DATABASE_URL",
        "set it to sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
    )
    secret_key = _require(
        env,
        "SECRET_KEY",
        "set it to a long random string, e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`",
    )
    if len(secret_key) < 32 and not development:
        raise SettingsError(
            "SECRET_KEY is too short: use at least 32 random characters"
        )
    public_url = _check_url(
        "PUBLIC_URL",
        _require(
            env,
            "PUBLIC_URL",
            "set it to the address people use to reach this app, e.g. https://onboarding.example.com",
        ),
        development=development,
    )

    api_key = _require(
        env, "WORKOS_API_KEY", "copy the API key (sk_…) from the WorkOS dashboard"
    )
    if not api_key.startswith("sk_"):
        raise SettingsError(
            "WORKOS_API_KEY must start with sk_: copy the secret API key from the WorkOS dashboard, not the client id"
        )
    client_id = _require(
        env,
        "WORKOS_CLIENT_ID",
        "copy the client id (client_…) from the WorkOS dashboard",
    )
    if not client_id.startswith("client_"):
        raise SettingsError(
            "WORKOS_CLIENT_ID must start with client_: copy the client id from the WorkOS dashboard"
        )
    workos_base_url = env.get("WORKOS_BASE_URL", "").strip() or "https://api.workos.com"
    workos_base_url = _check_url(
        "WORKOS_BASE_URL", workos_base_url, development=development
    )

    staff_oidc = None
    if env.get("STAFF_OIDC_ISSUER", "").strip() or not development:
        staff_oidc = _provider(env, "STAFF_OIDC", "staff", development)

    names = [
        n.strip() for n in env.get("ADMIN_OIDC_PROVIDERS", "").split(",") if n.strip()
    ]
    admin_oidc = tuple(
        _provider(env, f"ADMIN_OIDC_{name.upper()}", name.lower(), development)
        for name in names
    )

    old_keys = tuple(
        Secret(k.strip())
        for k in env.get("OLD_SECRET_KEYS", "").split(",")
        if k.strip()
    )
    proxies = tuple(
        p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",") if p.strip()
    )

    return Settings(
        database_url=database_url,
        secret_key=Secret(secret_key),
        public_url=public_url,
        workos_api_key=Secret(api_key),
        workos_client_id=client_id,
        workos_base_url=workos_base_url,
        workos_webhook_secret=Secret(env.get("WORKOS_WEBHOOK_SECRET", "")),
        smtp_url=Secret(env.get("SMTP_URL", "")),
        email_from=env.get("EMAIL_FROM", "").strip() or "onboarding@example.com",
        setup_link_ttl_days=_positive_int(env, "SETUP_LINK_TTL_DAYS", 14) or 14,
        stalled_after_days=_positive_int(env, "STALLED_AFTER_DAYS", 7) or 7,
        reminder_every_days=_positive_int(env, "REMINDER_EVERY_DAYS", 0),
        rate_limit_setup_page=_positive_int(env, "RATE_LIMIT_SETUP_PAGE", 60) or 60,
        rate_limit_sign_in=_positive_int(env, "RATE_LIMIT_SIGN_IN", 20) or 20,
        rate_limit_portal=_positive_int(env, "RATE_LIMIT_PORTAL", 30) or 30,
        run_outbox_in_process=_flag(env, "RUN_WORKER_IN_SERVE", True),
        staff_oidc=staff_oidc,
        admin_oidc=admin_oidc,
        brand_name=env.get("BRAND_NAME", "").strip() or "Example Inc.",
        brand_logo_url=env.get("BRAND_LOGO_URL", "").strip(),
        support_email=env.get("SUPPORT_EMAIL", "").strip() or "support@example.com",
        old_secret_keys=old_keys,
        trusted_proxies=proxies,
        development=development,
    )
