"""The admins' Settings page: the `dashboard doctor` checks, run on request."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dashboard.auth import staff_required
from dashboard.doctor import doctor_run
from dashboard.htmx import htmx_details, vary_on_htmx
from dashboard.models import utcnow
from dashboard.runtime import runtime


@staff_required(role="admin")
async def settings_page(request: Request) -> Response:
    """Full page, or just the checks when htmx asks to run them again."""
    rt = runtime(request)

    checks = await doctor_run(rt.settings)

    template = (
        "settings/_checks.html"
        if htmx_details(request).wants_fragment
        else "settings/page.html"
    )
    context = {
        "checks": checks,
        "failed": sum(not c.ok for c in checks),
        "ran_at": utcnow(),
    }
    return vary_on_htmx(rt.templates.render(request, template, context))
