"""Every state-changing route refuses a request without the session's CSRF token,
and refusing changes nothing in the database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from dashboard.app import CSRF_EXEMPT
from dashboard.db import Database
from tests.adversarial.conftest import World
from tests.adversarial.routes import route_cases

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in SQLModel.metadata.sorted_tables
            if table.name != "rate_limit_hit"  # counting attempts is the point of it
        }


@pytest.mark.parametrize(
    "token",
    [None, "", "not-the-token", "x" * 43],
    ids=["missing", "empty", "wrong", "same-length"],
)
def test_every_unsafe_route_refuses_a_forged_request(
    token: str | None,
    visitor: Callable[[str], TestClient],
    world: World,
    db: Database,
) -> None:
    client = visitor("admin")
    del client.headers["X-CSRF-Token"]
    cases = [
        c
        for c in route_cases(client.app)  # type: ignore[arg-type]
        if c.method in UNSAFE and not c.path.startswith(CSRF_EXEMPT)
    ]
    before = row_counts(db)
    wrong: list[str] = []

    for case in cases:
        data = {} if token is None else {"csrf_token": token}
        response = client.request(
            case.method,
            case.url(world.path_values()),
            data=data,
            follow_redirects=False,
        )
        if response.status_code != 403:
            wrong.append(f"{case}: {response.status_code}")

    assert cases, "no state-changing routes found"
    assert not wrong, "accepted without a valid CSRF token:\n" + "\n".join(wrong)
    assert row_counts(db) == before


def test_a_token_from_another_session_is_refused(
    visitor: Callable[[str], TestClient], world: World
) -> None:
    admin = visitor("admin")
    member = visitor("member")

    response = admin.post(
        f"/orgs/{world.organization_id}/invite/revoke",
        headers={"X-CSRF-Token": member.headers["X-CSRF-Token"]},
        follow_redirects=False,
    )

    assert response.status_code == 403
