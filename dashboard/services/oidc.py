"""OpenID Connect sign-in (authorization code with PKCE, state and nonce) via authlib.

One client per configured issuer, found by discovery. Staff and IT admins use
the same machinery with different providers; what the identity may do is
decided by the caller, not here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from starlette.requests import Request
from starlette.responses import Response

from dashboard.settings import OIDCProvider

log = logging.getLogger(__name__)

HTTP_ERRORS = (httpx.HTTPError, httpx2.HTTPError)
"""authlib's Starlette client talks through httpx2 (httpx only as its fallback)."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    provider: str
    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str


class SignInFailed(Exception):
    """Sign-in did not complete; the message is safe to show the person."""


class SignIn(Protocol):
    """Starts and finishes an OpenID Connect sign-in with a named provider."""

    def providers(self) -> list[OIDCProvider]: ...

    async def begin(
        self, request: Request, provider: str, redirect_uri: str
    ) -> Response:
        """Redirect to the provider; state, nonce and PKCE verifier go in the session."""
        ...

    async def finish(self, request: Request, provider: str) -> Identity:
        """Check the callback (state, nonce, code) and return the verified identity."""
        ...


class AuthlibSignIn:
    """`SignIn` over authlib's Starlette client."""

    def __init__(self, providers: list[OIDCProvider]) -> None:
        self._providers = {p.name: p for p in providers}
        self._oauth = OAuth()
        for provider in providers:
            self._oauth.register(
                name=provider.name,
                client_id=provider.client_id,
                client_secret=provider.client_secret.reveal() or None,
                server_metadata_url=provider.discovery_url,
                client_kwargs={
                    "scope": "openid email profile",
                    "code_challenge_method": "S256",
                    "timeout": 10,
                },
            )

    def providers(self) -> list[OIDCProvider]:
        return list(self._providers.values())

    def _client(self, provider: str) -> Any:
        if provider not in self._providers:
            raise SignInFailed("That sign-in provider is not configured.")
        return self._oauth.create_client(provider)

    async def begin(
        self, request: Request, provider: str, redirect_uri: str
    ) -> Response:
        client = self._client(provider)
        try:
            response: Response = await client.authorize_redirect(request, redirect_uri)
        except (*HTTP_ERRORS, OAuthError, ValueError) as exc:
            log.warning(
                "oidc_discovery_failed",
                extra={"provider": provider, "error": type(exc).__name__},
            )
            raise SignInFailed(
                "The sign-in provider cannot be reached right now. Try again in a few minutes."
            ) from None
        return response

    async def finish(self, request: Request, provider: str) -> Identity:
        client = self._client(provider)
        try:
            token = await client.authorize_access_token(request)
        except OAuthError as exc:
            log.info(
                "oidc_callback_refused",
                extra={"provider": provider, "error": exc.error},
            )
            if exc.error == "access_denied":
                raise SignInFailed("Sign-in was cancelled.") from None
            raise SignInFailed(
                "Sign-in could not be completed (it may have expired or been opened twice). Start again."
            ) from None
        except (*HTTP_ERRORS, ValueError, KeyError) as exc:
            log.warning(
                "oidc_token_failed",
                extra={"provider": provider, "error": type(exc).__name__},
            )
            raise SignInFailed(
                "The sign-in provider did not answer properly. Try again in a few minutes."
            ) from None
        claims = token.get("userinfo") or {}
        email = str(claims.get("email") or "").strip()
        if not email:
            raise SignInFailed(
                "The sign-in provider did not tell us your email address."
            )
        verified = claims.get("email_verified")
        return Identity(
            provider=provider,
            issuer=self._providers[provider].issuer,
            subject=str(claims.get("sub", "")),
            email=email,
            email_verified=verified is True or str(verified).lower() == "true",
            name=str(claims.get("name") or ""),
        )
