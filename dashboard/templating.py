"""Jinja environment, filters and the one `render` every endpoint uses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.templating import Jinja2Templates, _TemplateResponse

from dashboard.settings import FEATURES

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"

STATE_LABELS = {
    "not_invited": "Not invited",
    "invited": "Invited",
    "opened": "Opened",
    "signed_in": "Signed in",
    "portal_opened": "Portal opened",
    "done": "Done",
    "stalled": "Stalled",
}


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A URL that changes whenever the file does, so it can be cached for a year."""
    return f"/static/{name}?v={_static_version(name)}"


def timestamp(value: datetime | None, empty: str = "never") -> Markup:
    """A <time> that app.js rewrites into the reader's local time; UTC until then.

    The absolute UTC date stays in the title, so it is available on hover and
    to screen readers.
    """
    if value is None:
        return escape(empty)
    utc = value.astimezone(UTC)
    iso = utc.isoformat(timespec="seconds")
    text = utc.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, text, text)


def feature_name(intent: str) -> str:
    return FEATURES.get(intent, intent)


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "txt"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["timestamp"] = timestamp
    env.filters["feature_name"] = feature_name
    env.filters["state_label"] = state_label
    env.globals["static_url"] = static_url
    env.globals["FEATURES"] = FEATURES
    env.globals["STATE_LABELS"] = STATE_LABELS
    return env


def email_environment() -> Environment:
    """Emails: HTML escaped, plain text not, both strict about missing values."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["feature_name"] = feature_name
    return env


class Templates:
    """Renders pages with what every page needs: brand, CSRF token, user, messages."""

    def __init__(self, brand: dict[str, str]) -> None:
        self.environment = build_environment()
        self.environment.globals["brand"] = brand
        self._jinja = Jinja2Templates(env=self.environment)

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> _TemplateResponse:
        from dashboard.csrf import csrf_token
        from dashboard.flash import pop_messages

        full: dict[str, Any] = {
            "csrf_token": csrf_token(request),
            "staff": getattr(request.state, "staff", None),
            "messages": pop_messages(request),
        }
        full.update(context or {})
        return self._jinja.TemplateResponse(
            request, name, full, status_code=status_code, headers=headers
        )
