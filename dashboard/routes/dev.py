"""Development-only pages: `/dev/mail` shows the outbox instead of sending it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dashboard.auth import mark_access
from dashboard.outbox import outbox_list, outbox_status_label, render_email
from dashboard.runtime import runtime


@mark_access("dev")
async def dev_mail(request: Request) -> Response:
    """Every queued or sent email, newest first, rendered as the recipient would see it.

    Mounted only when `dev_mailbox` is on (`dashboard dev`): it shows setup URLs.
    """
    rt = runtime(request)

    with rt.db.session() as session:
        emails = [
            {
                "email": email,
                "status": outbox_status_label(email),
                "rendered": render_email(rt.settings, session, email),
            }
            for email in outbox_list(session, limit=50)
        ]

    return rt.templates.render(request, "dev/mail.html", {"emails": emails})
