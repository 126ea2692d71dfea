"""Every route against every kind of visitor, the expected answer derived from the
access the endpoint declares (`dashboard.auth`), the table built from the app's
own route list.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import Settings
from tests.adversarial.conftest import World
from tests.adversarial.routes import (
    ACCESS_KINDS,
    VISITORS,
    RouteCase,
    mounts,
    route_cases,
)
from tests.fixtures.emulator import EmulatorHandle

DESTRUCTIVE = ("revoke", "delete", "purge")
SESSION_ENDING = ("sign-out", "logout")
"""Run these last, in this order: they end the rows, then the session, others need."""


def expected_answer(access: str, visitor: str) -> str:
    """What a visitor must get from an endpoint with this access kind."""
    if access == "staff":
        return "allowed" if visitor in ("member", "admin") else "sign_in"
    if access == "admin":
        return {"admin": "allowed", "member": "forbidden"}.get(visitor, "sign_in")
    if access == "it_admin":
        return "allowed" if visitor == "it_admin" else "refused"
    if access == "webhook":
        return "rejected"
    return "answered"  # public, dev: open to anyone, never a crash


def classify(response: httpx.Response, expected: str, emulator_url: str) -> str | None:
    """None when `response` is what `expected` means, else what went wrong."""
    status = response.status_code
    location = response.headers.get("location", "")
    to_sign_in = status in (302, 303) and location.startswith("/auth/login")
    to_portal = status in (302, 303) and location.startswith(emulator_url)
    if status >= 500:
        return f"server error {status}"
    if expected == "sign_in":
        return None if to_sign_in else f"{status} {location} instead of sign-in"
    if expected == "forbidden":
        return None if status == 403 else f"{status} {location} instead of 403"
    if expected == "allowed":
        if to_sign_in or status == 403:
            return f"refused ({status} {location})"
        return None
    if expected == "refused":
        if to_portal or 200 <= status < 300:
            return f"let through ({status} {location})"
        return None
    if expected == "rejected":
        return None if 400 <= status < 500 else f"{status} instead of a 4xx"
    return None


def _order(case: RouteCase) -> tuple[int, str]:
    if "logout" in case.path:
        return (4, case.path)
    if any(word in case.path for word in SESSION_ENDING):
        return (3, case.path)
    if any(word in case.path for word in DESTRUCTIVE):
        return (2, case.path)
    return (0 if case.method == "GET" else 1, case.path)


def test_every_route_declares_who_may_call_it(attack_settings: Settings) -> None:
    app = create_app(attack_settings)

    undeclared = [str(c) for c in route_cases(app) if c.access not in ACCESS_KINDS]

    assert not undeclared, (
        "routes without a known `access` (decorate with staff_required, public or "
        f"mark_access): {undeclared}"
    )
    assert mounts(app) == ["/static"], "only static files may be mounted unguarded"


@pytest.mark.parametrize("visitor_kind", VISITORS)
def test_access_matrix(
    visitor_kind: str,
    visitor: Callable[[str], TestClient],
    world: World,
    emulator: EmulatorHandle,
) -> None:
    client = visitor(visitor_kind)
    cases = sorted(route_cases(client.app), key=_order)  # type: ignore[arg-type]
    values = world.path_values()
    wrong: list[str] = []

    for case in cases:
        if case.access not in ACCESS_KINDS:
            continue  # reported by test_every_route_declares_who_may_call_it
        want = expected_answer(case.access, visitor_kind)
        try:
            response = client.request(
                case.method, case.url(values), follow_redirects=False
            )
        except Exception as exc:  # the server raised: the worst answer of all
            wrong.append(f"{case} [{case.access}] raised {exc!r}")
            continue
        problem = classify(response, want, emulator.url)
        if getattr(client, "csrf", ""):
            client.headers["X-CSRF-Token"] = client.csrf  # as a reloaded page would
        if problem:
            wrong.append(f"{case} [{case.access}] expected {want}: {problem}")

    assert not wrong, f"{visitor_kind}:\n" + "\n".join(wrong)


def test_an_it_admin_signed_in_on_a_link_gets_the_portal(
    visitor: Callable[[str], TestClient], world: World, emulator: EmulatorHandle
) -> None:
    """The matrix's "allowed" for it_admin, made sharp: the click really mints a link."""
    client = visitor("it_admin")

    response = client.post(f"{world.invite.path}/portal/sso", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith(emulator.url)


def test_dev_pages_do_not_exist_outside_development(
    attack_settings: Settings, db: object
) -> None:
    production = create_app(
        attack_settings.with_overrides(development=False, dev_mailbox=False)
    )

    dev_routes = [c for c in route_cases(production) if c.access == "dev"]

    assert dev_routes == []
    with TestClient(production) as client:
        assert client.get("/dev/mail").status_code == 404
