"""One-time messages shown on the next page ("Organization created")."""

from __future__ import annotations

from starlette.requests import Request

_KEY = "_messages"


def flash(request: Request, text: str, level: str = "info") -> None:
    """Queue a message; `level` is "info", "success" or "error"."""
    messages = list(request.session.get(_KEY, []))
    messages.append({"text": text, "level": level})
    request.session[_KEY] = messages


def pop_messages(request: Request) -> list[dict[str, str]]:
    if "session" not in request.scope or _KEY not in request.session:
        return []
    return list(request.session.pop(_KEY))
