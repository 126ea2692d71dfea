"""Arbitrary text into every form field, query parameter and CSV cell: never a 500,
never a partial save.

The forms are found by reading the pages a signed-in admin and a signed-in IT
admin see, so a field added to a template is fuzzed without a change here.
Example counts stay modest: the suite must stay fast.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dashboard.bulk_import import ImportFileError, import_parse
from dashboard.db import Database
from dashboard.models import Domain, Organization
from tests.adversarial.conftest import World

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SKIPPED_ACTIONS = ("logout", "sign-out", "sign-in")
"""Forms that end the fuzzing session or leave for the identity provider."""

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)
nasty = st.sampled_from(
    [
        "",
        " ",
        "'; DROP TABLE organization; --",
        "<script>alert(1)</script>",
        "\x00",
        "a" * 5000,
        "xn--",
        "ünïcödé.example",
        "-1",
        "99999999999999999999",
        "../../etc/passwd",
        "%00",
        "sso",
        "not_a_feature",
    ]
)
value = st.one_of(text, nasty)


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.action} {sorted(self.fields)}"


class FormReader(HTMLParser):
    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = values.get("action") or self.page_path
            self._current = Form(values.get("method", "get").upper(), action)
            self.forms.append(self._current)
        elif tag in ("input", "textarea", "select") and self._current is not None:
            name = values.get("name")
            if name and values.get("type") not in ("submit", "button"):
                self._current.fields.setdefault(name, []).append(
                    values.get("value", "")
                )


def forms_on(client: TestClient, paths: list[str]) -> list[Form]:
    found: dict[str, Form] = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        reader = FormReader(path)
        reader.feed(response.text)
        for form in reader.forms:
            action = urlsplit(form.action).path
            if any(word in action for word in SKIPPED_ACTIONS):
                continue
            found.setdefault(
                f"{form.method} {action}", Form(form.method, action, form.fields)
            )
    return list(found.values())


def staff_pages(world: World) -> list[str]:
    org = world.organization_id
    return [
        "/orgs",
        "/orgs/new",
        f"/orgs/{org}",
        "/activity",
        "/settings",
        "/orgs/import",
    ]


def _counts(db: Database) -> tuple[int, int]:
    with db.engine.connect() as connection:
        orgs = connection.execute(
            sa.select(sa.func.count()).select_from(Organization)
        ).scalar_one()
        domains = connection.execute(
            sa.select(sa.func.count()).select_from(Domain)
        ).scalar_one()
    return orgs, domains


def test_every_staff_form_survives_arbitrary_text(
    visitor: Callable[[str], TestClient], world: World
) -> None:
    client = visitor("admin")
    forms = [f for f in forms_on(client, staff_pages(world)) if f.method == "POST"]
    assert len(forms) >= 5, f"too few forms found: {forms}"

    @FUZZ
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        form = data.draw(st.sampled_from(forms), label="form")
        values = {
            name: data.draw(st.lists(value, min_size=1, max_size=2), label=name)
            for name in form.fields
            if name != "csrf_token"
        }
        values["csrf_token"] = [client.headers["X-CSRF-Token"]]
        response = client.post(form.action, data=values, follow_redirects=False)
        assert response.status_code < 500, f"{form}: {response.status_code}"

    fuzz()


def test_every_query_parameter_survives_arbitrary_text(
    visitor: Callable[[str], TestClient], world: World
) -> None:
    client = visitor("admin")
    forms = [f for f in forms_on(client, staff_pages(world)) if f.method == "GET"]
    pages = [*staff_pages(world), world.invite.path, "/auth/login"]
    names = sorted(
        {n for f in forms for n in f.fields} | {"q", "state", "cursor", "next", "page"}
    )

    @FUZZ
    @given(
        path=st.sampled_from(pages),
        params=st.dictionaries(
            st.one_of(st.sampled_from(names), text), value, max_size=4
        ),
        htmx=st.booleans(),
    )
    def fuzz(path: str, params: dict[str, str], htmx: bool) -> None:
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.get(
            path, params=params, headers=headers, follow_redirects=False
        )
        assert response.status_code < 500, f"{path} {params!r}: {response.status_code}"

    fuzz()


def test_creating_an_organization_saves_all_or_nothing(
    visitor: Callable[[str], TestClient], db: Database
) -> None:
    client = visitor("admin")
    feature = st.sampled_from(["sso", "dsync", "audit_logs", "bogus", ""])

    @settings(FUZZ, max_examples=25)
    @given(
        name=value,
        external_id=st.one_of(st.just(""), value),
        domains=st.lists(
            st.one_of(
                st.from_regex(r"[a-z]{3,10}\.example\.com", fullmatch=True), value
            ),
            max_size=3,
        ),
        features=st.lists(feature, max_size=3),
        emails=st.lists(st.one_of(st.emails(), value), max_size=3),
    )
    def fuzz(
        name: str,
        external_id: str,
        domains: list[str],
        features: list[str],
        emails: list[str],
    ) -> None:
        before = _counts(db)
        response = client.post(
            "/orgs",
            data={
                "csrf_token": client.headers["X-CSRF-Token"],
                "name": name,
                "external_id": external_id,
                "domains": "\n".join(domains),
                "features": features,
                "emails": "\n".join(emails),
            },
            follow_redirects=False,
        )
        after = _counts(db)
        assert response.status_code < 500
        if response.status_code == 303:
            assert after[0] == before[0] + 1
        else:
            assert after == before, f"refused ({response.status_code}) yet rows changed"

    fuzz()


cell = st.one_of(
    text.filter(lambda s: "\x00" not in s), nasty.filter(lambda s: "\x00" not in s)
)


@FUZZ
@given(rows=st.lists(st.lists(cell, min_size=6, max_size=6), min_size=1, max_size=5))
def test_every_csv_cell_gets_a_row_verdict_not_a_crash(rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["name", "external id", "domains", "features", "IT admin emails", "send invite"]
    )
    writer.writerows(rows)

    try:
        parsed, rejected = import_parse(buffer.getvalue().encode())
    except ImportFileError as exc:
        assert str(exc)  # a whole-file problem, explained
        return

    meaningful = [r for r in rows if any(c.strip() for c in r)]
    assert len(parsed) + len(rejected) == len(meaningful)  # blank rows are skipped


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"name\n",
        b"name,domains\n" + b"x," * 100 + b"\n",
        b"name,bogus\nA,b\n",
    ],
    ids=["empty", "binary", "header-only", "ragged", "unknown-column"],
)
def test_a_bad_csv_upload_is_explained_and_saves_nothing(
    content: bytes, visitor: Callable[[str], TestClient], db: Database
) -> None:
    client = visitor("admin")
    before = _counts(db)

    response = client.post(
        "/orgs/import",
        data={"csrf_token": client.headers["X-CSRF-Token"]},
        files={"file": ("customers.csv", content, "text/csv")},
        follow_redirects=False,
    )

    assert 400 <= response.status_code < 500 or response.status_code in (200, 303)
    assert _counts(db) == before
