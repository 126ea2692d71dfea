"""Bulk onboarding from CSV, driven through `dashboard import` against the WorkOS emulator."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from dashboard.bulk_import import (
    ImportContext,
    import_parse,
    import_prepare,
    import_run,
    results_csv,
)
from dashboard.cli import main
from dashboard.db import Database
from dashboard.import_terminal import import_from_terminal
from dashboard.models import (
    Domain,
    ImportJob,
    Invitee,
    Organization,
    OutboxEmail,
    SetupLink,
)
from dashboard.services.workos import SDKWorkOSGateway
from dashboard.settings import Settings
from tests.fixtures.emulator import EmulatorHandle

HEADER = "Name,External ID,Domains,Features,IT admin emails,Send invite\n"


def _organization_count(db: Database) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(Organization)).one()


def _workos_external_ids(emulator: EmulatorHandle) -> Counter[str]:
    return Counter(o["external_id"] for o in emulator.state()["organizations"])


def _large_file(rows: int) -> str:
    lines = [HEADER]
    for n in range(rows):
        invite = "yes" if n % 10 == 0 else "no"
        emails = f"it{n}@customer{n}.example" if invite == "yes" else ""
        lines.append(
            f'Customer {n},crm-{n:04d},"customer{n}.example, www.customer{n}.example",sso;dsync,{emails},{invite}\n'
        )
    return "".join(lines)


def _production_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """What `serve` would accept; WorkOS and the issuer are never called by a rejected file."""
    monkeypatch.chdir(tmp_path)
    values = {
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key.reveal(),
        "PUBLIC_URL": "https://onboarding.example.com",
        "WORKOS_API_KEY": "sk_test_not_used",
        "WORKOS_CLIENT_ID": "client_not_used",
        "WORKOS_BASE_URL": "https://127.0.0.1:9",
        "STAFF_OIDC_ISSUER": "https://idp.invalid",
        "STAFF_OIDC_CLIENT_ID": "staff",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_a_file_with_bad_rows_is_reported_by_line_and_creates_nothing(
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with db.session() as session:
        taken = Organization(name="Taken Inc", name_key="taken inc", external_id="t-1")
        session.add(taken)
        session.flush()
        assert taken.id is not None
        session.add(Domain(organization_id=taken.id, domain="taken.example"))
    _production_environment(monkeypatch, tmp_path, settings)
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        HEADER
        + "Good Co,good-1,good.example,sso,,no\n"  # line 2: fine
        + ",no-name,,,,no\n"  # line 3
        + "Bad Domain,bad-2,not a domain!,sso,,no\n"  # line 4
        + "Feature Typo,bad-3,,ssso,,no\n"  # line 5
        + "Dup,good-1,dup.example,,,no\n"  # line 6: external id of line 2
        + "No Invitee,bad-4,,sso,,yes\n"  # line 7
        + "Claimed,bad-5,Taken.example,,,no\n"  # line 8
        + "Maybe,bad-6,,,,perhaps\n"  # line 9
        + "No Id,,noid.example,,,no\n",  # line 10
        encoding="utf-8",
    )

    code = main(["import", str(csv_file)])

    out = capsys.readouterr().out
    assert code == 1
    assert "Nothing was created: 8 invalid row(s)" in out
    table = {line.split()[0]: line for line in out.splitlines() if line[:1].isdigit()}
    assert set(table) == {"3", "4", "5", "6", "7", "8", "9", "10"}
    assert "Enter the organization's name" in table["3"]
    assert "is not a domain" in table["4"] or "not a valid domain" in table["4"]
    assert "Unknown feature" in table["5"]
    assert "also on line 2" in table["6"]
    assert "at least one address" in table["7"]
    assert "already belongs to Taken Inc" in table["8"]
    assert "neither yes nor no" in table["9"]
    assert "required in an import" in table["10"]
    assert _organization_count(db) == 1
    with db.session() as session:
        job = session.exec(select(ImportJob)).one()
    assert job.status == "rejected"


def test_unreadable_files_get_one_clear_error() -> None:
    bad_header = b"Company,Colour\nAcme,red\n"
    not_utf8 = HEADER.encode() + "Caf\xe9,c-1,,,,no\n".encode("latin-1")

    with pytest.raises(ValueError, match="unknown column 'Colour'"):
        import_parse(bad_header)
    with pytest.raises(ValueError, match="not UTF-8"):
        import_parse(not_utf8)


def test_an_apostrophe_in_a_cell_is_text_not_a_quote_spanning_lines() -> None:
    data = b"name,external id,domains,features,IT admin emails,send invite\n,,,,,'\n,,,,',\n"

    rows, invalid = import_parse(data)

    assert rows == []
    assert [r.line for r in invalid] == [2, 3]


def test_header_spellings_semicolons_and_human_feature_names_are_accepted() -> None:
    data = (
        b"organization name;EXTERNAL_ID;Domain;Portal features;IT Admin Email;Invite?\n"
        b"Acme;acme-1;acme.example;Single Sign-On, Directory Sync;it@acme.example;Yes\n"
    )

    rows, invalid = import_parse(data)

    assert invalid == []
    assert rows[0].features == ["sso", "dsync"]
    assert rows[0].send_invite is True
    assert [e.address for e in rows[0].emails] == ["it@acme.example"]


def test_a_large_file_under_429s_and_latency_creates_every_row_exactly_once(
    db: Database,
    settings: Settings,
    emulator: EmulatorHandle,
    tmp_path: Path,
) -> None:
    csv_file = tmp_path / "large.csv"
    csv_file.write_text(_large_file(300), encoding="utf-8")
    emulator.set_faults(latency_ms=3, fail_429_rate=0.3, retry_after_seconds=0)
    out, err = io.StringIO(), io.StringIO()

    code = import_from_terminal(
        emulator.settings(settings),
        csv_file,
        skip_invalid=False,
        as_email=None,
        out=out,
        err=err,
    )

    assert code == 0, out.getvalue()
    assert "300/300 rows" in err.getvalue() and "\r[" in err.getvalue()
    assert "created 300" in out.getvalue() or "300 created" in out.getvalue()
    at_workos = _workos_external_ids(emulator)
    assert len(at_workos) == 300 and set(at_workos.values()) == {1}
    assert _organization_count(db) == 300
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(Domain)).one() == 600
        assert session.exec(select(func.count()).select_from(SetupLink)).one() == 30
        assert session.exec(select(func.count()).select_from(OutboxEmail)).one() == 30
        job = session.exec(select(ImportJob)).one()
    assert job.status == "finished" and job.done_rows == 300
    assert {r["status"] for r in job.results} == {"created"}


def test_running_the_same_file_again_creates_nothing(
    db: Database, settings: Settings, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    csv_file = tmp_path / "again.csv"
    csv_file.write_text(_large_file(20), encoding="utf-8")
    chosen = emulator.settings(settings)
    first = import_from_terminal(
        chosen,
        csv_file,
        skip_invalid=False,
        as_email=None,
        out=io.StringIO(),
        err=io.StringIO(),
    )
    out = io.StringIO()

    second = import_from_terminal(
        chosen, csv_file, skip_invalid=False, as_email=None, out=out, err=io.StringIO()
    )

    assert first == 0 and second == 0
    assert "20 existing" in out.getvalue()
    assert set(_workos_external_ids(emulator).values()) == {1}
    assert _organization_count(db) == 20
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(SetupLink)).one() == 2
        assert session.exec(select(func.count()).select_from(Invitee)).one() == 2


def test_an_organization_created_at_workos_but_not_here_is_finished_not_duplicated(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    asyncio.run(_create_at_workos_only(emulator, "Half Done", "half-1"))
    data = (HEADER + "Half Done,half-1,half.example,,,no\n").encode()

    job, rows = import_prepare(db, data, "half.csv", staff=None)
    results = asyncio.run(_run(db, emulator.settings(settings), job.id, rows))

    assert [r.status for r in results] == ["created"]
    assert _workos_external_ids(emulator) == Counter({"half-1": 1})
    with db.session() as session:
        org = session.exec(
            select(Organization).where(col(Organization.external_id) == "half-1")
        ).one()
    assert org.workos_id


def test_rows_still_rate_limited_after_the_sdk_retries_wait_for_retry_after(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(next_statuses=[429, 429], retry_after_seconds=2)
    data = (HEADER + "Slow Co,slow-1,,,,no\n").encode()
    job, rows = import_prepare(db, data, "slow.csv", staff=None)
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    results = asyncio.run(
        _run(db, emulator.settings(settings), job.id, rows, sleep=record)
    )

    assert [r.status for r in results] == ["created"]
    assert waited == [2.0, 2.0]


def test_skip_invalid_creates_the_valid_rows_and_reports_the_others(
    db: Database, settings: Settings, emulator: EmulatorHandle
) -> None:
    data = (
        HEADER + "Good Co,good-1,good.example,,,no\nBad Co,bad-1,nope,,,no\n"
    ).encode()

    job, rows = import_prepare(db, data, "mixed.csv", staff=None, skip_invalid=True)
    asyncio.run(_run(db, emulator.settings(settings), job.id, rows))

    with db.session() as session:
        final = session.get(ImportJob, job.id)
    assert final is not None
    assert [(r["line"], r["status"]) for r in final.results] == [
        (2, "created"),
        (3, "invalid"),
    ]
    assert _organization_count(db) == 1
    exported = results_csv(final.results)
    assert exported.splitlines()[0] == "line,external_id,name,status,message"
    assert "3,bad-1,Bad Co,invalid," in exported


async def _create_at_workos_only(
    emulator: EmulatorHandle, name: str, external_id: str
) -> None:
    client = emulator.client()
    try:
        await client.organizations.create_organization(
            name=name, external_id=external_id, domain_data=[]
        )
    finally:
        await client.close()


async def _run(
    db: Database,
    settings: Settings,
    job_id: int | None,
    rows: list,  # type: ignore[type-arg]
    **options: object,
) -> list:  # type: ignore[type-arg]
    assert job_id is not None
    workos = SDKWorkOSGateway.from_settings(settings, max_retries=0)
    try:
        return await import_run(
            ImportContext(
                db=db,
                settings=settings,
                workos=workos,
                staff=None,
                job_id=job_id,
                **options,  # type: ignore[arg-type]
            ),
            rows,
        )
    finally:
        await workos.close()
