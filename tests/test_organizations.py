"""The staff home's query: search kinds, state filter and keyset pages, without WorkOS."""

from datetime import timedelta

import pytest
from sqlmodel import Session

from dashboard.db import Database
from dashboard.models import (
    Domain,
    Invitee,
    Organization,
    SetupLink,
    utcnow,
)
from dashboard.organizations import Cursor, organization_list
from dashboard.progress import stalled_cutoff

CUTOFF = stalled_cutoff(7)


def _org(session: Session, name: str, **fields: object) -> Organization:
    org = Organization(
        name=name, name_key=name.casefold(), external_id=f"ext-{name}", **fields
    )
    session.add(org)
    session.flush()
    return org


@pytest.fixture
def world(db: Database) -> Database:
    with db.session() as session:
        acme = _org(session, "Acme")
        _org(session, "Acme Two", setup_state="invited", last_step_at=utcnow())
        _org(
            session,
            "Old Invite",
            setup_state="invited",
            last_step_at=utcnow() - timedelta(days=30),
        )
        globex = _org(session, "Globex", setup_state="done")
        _org(session, "Gone", deleted_at=utcnow())
        assert acme.id and globex.id
        session.add(Domain(organization_id=globex.id, domain="widgets.example"))
        link = SetupLink(public_id="p1", organization_id=acme.id, expires_at=utcnow())
        session.add(link)
        session.flush()
        assert link.id
        session.add(
            Invitee(
                setup_link_id=link.id,
                email="It@Hooli.example",
                email_key="it@hooli.example",
            )
        )
    return db


def _names(db: Database, **kwargs: object) -> list[str]:
    with db.session() as session:
        page = organization_list(session, stalled_cutoff=CUTOFF, **kwargs)  # type: ignore[arg-type]
    return [row.organization.name for row in page.rows]


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("", ["Acme", "Acme Two", "Globex", "Old Invite"]),
        ("acm", ["Acme", "Acme Two"]),
        ("ACME T", ["Acme Two"]),
        ("widg", ["Globex"]),
        ("ext-Globex", ["Globex"]),
        ("it@hoo", ["Acme"]),
        ("zzz", []),
        ("%", []),
        ("\x00", ["Acme", "Acme Two", "Globex", "Old Invite"]),
    ],
)
def test_search_matches_name_domain_external_id_and_invitee(
    world: Database, q: str, names: list[str]
) -> None:
    assert _names(world, q=q) == names


@pytest.mark.parametrize(
    ("state", "names"),
    [
        ("invited", ["Acme Two"]),
        ("stalled", ["Old Invite"]),
        ("done", ["Globex"]),
        ("not_invited", ["Acme"]),
        ("deleted", ["Gone"]),
    ],
)
def test_state_filter_includes_stalled_and_deleted(
    world: Database, state: str, names: list[str]
) -> None:
    assert _names(world, state=state) == names


def test_keyset_pages_walk_forward_and_back_without_gaps(db: Database) -> None:
    with db.session() as session:
        for i in range(7):
            _org(session, f"Org {i:02d}")
        _org(session, "org 03")  # same key order as "Org 03", tie broken by id

    seen: list[str] = []
    cursor = None
    pages = []
    while True:
        with db.session() as session:
            page = organization_list(
                session, stalled_cutoff=CUTOFF, cursor=cursor, limit=3
            )
        pages.append(page)
        seen += [row.organization.name for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    with db.session() as session:
        back = organization_list(
            session,
            stalled_cutoff=CUTOFF,
            cursor=Cursor.decode(pages[-1].prev_cursor),
            limit=3,
        )

    assert seen == [
        "Org 00",
        "Org 01",
        "Org 02",
        "Org 03",
        "org 03",
        "Org 04",
        "Org 05",
        "Org 06",
    ]
    assert pages[0].prev_cursor is None
    assert [r.organization.name for r in back.rows] == [
        r.organization.name for r in pages[1].rows
    ]
    assert back.next_cursor is not None


@pytest.mark.parametrize("text", ["", "garbage", "W1siYSJd", "x" * 2000])
def test_a_bad_cursor_means_the_first_page(text: str) -> None:
    assert Cursor.decode(text) is None
