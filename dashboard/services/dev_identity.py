"""Registers people with the development identity provider, so invitees can sign in.

`dashboard dev` runs oidc-provider-mock, which knows a user only after a
`PUT /users/{sub}` with their claims. An IT admin invited in development has
no account anywhere, so the invite flow registers the address here with a
verified email; the person then signs in by typing that address as the
subject on the mock's authorization page. Never used outside development.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)


class DevIdentityError(RuntimeError):
    """The development identity provider did not accept the user (down, or refused)."""


def _request(
    issuer: str, email: str, extra_claims: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    address = email.strip().lower()
    url = f"{issuer.rstrip('/')}/users/{quote(address, safe='')}"
    claims = {**(extra_claims or {}), "email": address, "email_verified": True}
    return url, claims


def _unreachable(exc: httpx.HTTPError) -> DevIdentityError:
    return DevIdentityError(
        f"development identity provider unreachable: {type(exc).__name__}"
    )


def _registered(response: httpx.Response, issuer: str, claims: dict[str, Any]) -> str:
    """The subject, once the provider accepted the user; what the two entry points share."""
    if response.status_code >= 300:
        raise DevIdentityError(
            f"development identity provider answered {response.status_code}"
        )
    log.info("dev_identity_registered", extra={"issuer": issuer})
    return str(claims["email"])


def dev_identity_register(
    issuer: str,
    email: str,
    *,
    extra_claims: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> str:
    """Register `email` (also its subject) with a verified email; returns the subject."""
    url, claims = _request(issuer, email, extra_claims)
    try:
        response = httpx.put(url, json=claims, timeout=timeout)
    except httpx.HTTPError as exc:
        raise _unreachable(exc) from exc
    return _registered(response, issuer, claims)


async def dev_identity_register_async(
    issuer: str,
    email: str,
    *,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """`dev_identity_register` for async code (an endpoint making an invite)."""
    url, claims = _request(issuer, email, extra_claims)
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.put(url, json=claims)
    except httpx.HTTPError as exc:
        raise _unreachable(exc) from exc
    return _registered(response, issuer, claims)
