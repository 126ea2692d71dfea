"""htmx request headers as a typed object, and the `HX-*` response helpers.

No other module spells an htmx header name.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True)
class HtmxDetails:
    """What htmx told us about the request that it made."""

    request: bool
    boosted: bool
    target: str | None
    trigger: str | None
    current_url: str | None
    history_restore: bool

    @property
    def wants_fragment(self) -> bool:
        """True when the answer is swapped into part of a page, not shown whole."""
        return self.request and not self.boosted and not self.history_restore


def htmx_details(request: Request) -> HtmxDetails:
    headers = request.headers
    return HtmxDetails(
        request=headers.get("HX-Request") == "true",
        boosted=headers.get("HX-Boosted") == "true",
        target=headers.get("HX-Target"),
        trigger=headers.get("HX-Trigger"),
        current_url=headers.get("HX-Current-URL"),
        history_restore=headers.get("HX-History-Restore-Request") == "true",
    )


def hx_redirect(response: Response, url: str) -> Response:
    """Make htmx load `url` as a full page (used when a fragment request lost its session)."""
    response.headers["HX-Redirect"] = url
    return response


def hx_push_url(response: Response, url: str) -> Response:
    response.headers["HX-Push-Url"] = url
    return response


def hx_trigger(response: Response, event: str) -> Response:
    response.headers["HX-Trigger"] = event
    return response


def hx_retarget(response: Response, selector: str) -> Response:
    response.headers["HX-Retarget"] = selector
    return response


def vary_on_htmx(response: Response) -> Response:
    """One URL answering both pages and fragments must say so to caches."""
    existing = response.headers.get("Vary")
    response.headers["Vary"] = f"{existing}, HX-Request" if existing else "HX-Request"
    return response
