"""Setup URL tokens: the link's public id signed with the app secret.

Only the public id is stored, so a database dump yields no working URL; the
token is rebuilt on resend (the URL stays stable) and checked in constant
time against the current secret and any old ones kept during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from dashboard.settings import Secret

_PURPOSE = b"dashboard.setup-link.v1:"


def new_public_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _signature(public_id: str, key: Secret) -> str:
    digest = hmac.new(
        key.reveal().encode(), _PURPOSE + public_id.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def setup_token(public_id: str, key: Secret) -> str:
    return f"{public_id}.{_signature(public_id, key)}"


def verify_setup_token(token: str, keys: Iterable[Secret]) -> str | None:
    """The public id if `token` was signed with one of `keys`, else None."""
    public_id, dot, signature = token.partition(".")
    if not dot or not public_id or not signature or len(token) > 200:
        return None
    valid = False
    for key in keys:
        # Check every key so the time taken does not tell which one matched.
        valid |= hmac.compare_digest(_signature(public_id, key), signature)
    return public_id if valid else None


def portal_external_user_id(link_public_id: str, invitee_id: int) -> str:
    """The `external_user_id` for portal links minted for one invitee on one link.

    Revoking a link calls WorkOS `revoke_link` with each of these, which ends
    every portal session opened from it. Carries no secret: the public id
    alone builds no setup URL.
    """
    return f"setup-{link_public_id}-{invitee_id}"
