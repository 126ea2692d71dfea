"""The app's route table as data: every (method, path) with its declared access kind.

Read from the app itself (`app.routes`), so a route added tomorrow is in
every table below without anyone remembering to add it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import Mount, Route

ACCESS_KINDS = frozenset({"public", "staff", "admin", "it_admin", "webhook", "dev"})
VISITORS = ("anonymous", "non_staff", "member", "admin", "it_admin")
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    access: str | None
    name: str

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    def url(self, values: dict[str, str]) -> str:
        missing = [p for p in self.params if p not in values]
        if missing:
            raise AssertionError(
                f"{self.method} {self.path}: no test value for path parameter(s) "
                f"{missing}; add them to World.path_values in tests/adversarial/conftest.py"
            )
        return _PARAM.sub(lambda m: values[m.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def route_cases(app: Starlette) -> list[RouteCase]:
    """One case per route and method (HEAD aside: Starlette adds it to every GET)."""
    cases: list[RouteCase] = []
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route), f"unexpected route type {route!r}"
        access = getattr(route.endpoint, "access", None)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            cases.append(RouteCase(method, route.path, access, route.name))
    return cases


def mounts(app: Starlette) -> list[str]:
    return [route.path for route in app.routes if isinstance(route, Mount)]
