"""The emulator's own Admin Portal pages, opened from links minted by `generate_link`.

A link is spent on first use and exchanged for a portal session whose random
id is in the page URL; revoking the link's `external_user_id` ends that
session too. "Finish setup" makes the API report the feature as done, sends
the events to the webhook before redirecting, so the app already knows when
the admin lands on `success_url`.
"""

from __future__ import annotations

import logging
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dashboard.emulator.core import emulator_of
from dashboard.emulator.store import LinkUnusable, PortalSession

log = logging.getLogger(__name__)

INTENT_DESCRIPTIONS = {
    "sso": "Connect your identity provider for Single Sign-On.",
    "dsync": "Connect your directory to sync users and groups.",
    "audit_logs": "Review the audit log of your organization.",
    "log_streams": "Stream audit logs to your SIEM.",
    "domain_verification": "Prove that you own your domains with a DNS record.",
    "certificate_renewal": "Upload a renewed SAML signing certificate.",
    "bring_your_own_key": "Connect your own encryption key.",
}

_HEADERS = {
    "Cache-Control": "no-store",
    # The session id is in the URL: never hand it to return_url or success_url.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · WorkOS emulator</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; }}
button {{ font: inherit; padding: .5rem 1rem; }}
:focus-visible {{ outline: 3px solid #1a56db; outline-offset: 2px; }}
.note {{ color: #555; font-size: .9rem; }}
</style>
</head>
<body>
<main>
{body}
<p class="note">This is the local WorkOS emulator, not WorkOS.</p>
</main>
</body>
</html>
"""
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _unusable(reason: str) -> HTMLResponse:
    body = f'<h1>Admin Portal</h1>\n<p role="alert">{escape(reason)}</p>\n<p>Go back to the setup page and choose the feature again to get a new link.</p>'
    return _page("Link not usable", body, status=410)


async def portal_launch(request: Request) -> Response:
    """Spend the link in `?secret=` and move to the session page (the link dies here)."""
    secret = request.query_params.get("secret", "")
    try:
        session = emulator_of(request).store.portal_open(secret)
    except LinkUnusable as exc:
        return _unusable(exc.reason)
    return RedirectResponse(
        request.url_for("emulator_portal_session", session_id=session.id),
        status_code=303,
        headers=_HEADERS,
    )


def _session_page(request: Request, session: PortalSession) -> HTMLResponse:
    store = emulator_of(request).store
    name = store.organization_name(session.organization_id)
    finish_url = request.url_for("emulator_portal_finish", session_id=session.id).path
    contacts = (
        f"<p>IT contacts: {escape(', '.join(session.it_contact_emails))}</p>"
        if session.it_contact_emails
        else ""
    )
    if session.return_url:
        back = f'<p><a href="{escape(session.return_url)}">Back to app</a></p>'
    else:
        back = "<p>Back to app: no return URL was given.</p>"
    if session.finished_at is not None:
        action = '<p role="status">Setup finished.</p>'
    else:
        action = (
            f'<form method="post" action="{escape(finish_url)}">'
            '<button type="submit">Finish setup</button></form>'
        )
    body = f"""<h1>Admin Portal</h1>
<dl>
<dt>Organization</dt><dd>{escape(name)} <code data-testid="organization-id">{escape(session.organization_id)}</code></dd>
<dt>Intent</dt><dd><code data-testid="intent">{escape(session.intent)}</code>: {escape(INTENT_DESCRIPTIONS.get(session.intent, ""))}</dd>
</dl>
{contacts}
{action}
{back}"""
    return _page("Admin Portal", body)


async def portal_session(request: Request) -> Response:
    try:
        session = emulator_of(request).store.portal_session(
            request.path_params["session_id"]
        )
    except LinkUnusable as exc:
        return _unusable(exc.reason)
    return _session_page(request, session)


async def portal_finish(request: Request) -> Response:
    """Mark the feature done, deliver its events, then go to `success_url`."""
    emulator = emulator_of(request)
    try:
        session = emulator.store.portal_finish(request.path_params["session_id"])
    except LinkUnusable as exc:
        return _unusable(exc.reason)
    await emulator.webhooks.flush()
    if session.success_url:
        return RedirectResponse(session.success_url, status_code=303, headers=_HEADERS)
    return _session_page(request, session)
