"""The upload page: a staff member imports a CSV and watches it run."""

from __future__ import annotations

import time

from sqlmodel import func, select

from dashboard.db import Database
from dashboard.models import ImportJob, Organization
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.staff import StaffClient

HEADER = "name,external id,domains,features,IT admin emails,send invite\n"


def _upload(client: StaffClient, body: str, **fields: str) -> object:
    return client.post(
        "/orgs/import",
        data={"csrf_token": client.csrf, **fields},
        files={"file": ("customers.csv", body.encode(), "text/csv")},
        follow_redirects=False,
    )


def _wait_finished(client: StaffClient, path: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        fragment = client.get(path, headers={"HX-Request": "true"})
        if 'hx-trigger="every 1s"' not in fragment.text:
            return
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_the_upload_page_has_a_labelled_file_input(member_client: StaffClient) -> None:
    response = member_client.get("/orgs/import")

    assert response.status_code == 200
    assert '<label for="f-file">CSV file</label>' in response.text
    assert 'enctype="multipart/form-data"' in response.text
    assert 'action="/orgs/import"' in response.text


def test_an_upload_runs_in_the_background_and_shows_results_to_download(
    member_client: StaffClient, db: Database, emulator: EmulatorHandle
) -> None:
    body = HEADER + "".join(
        f"Upload {n},up-{n},up{n}.example,sso,it@up{n}.example,{'yes' if n == 0 else 'no'}\n"
        for n in range(12)
    )

    response = _upload(member_client, body)

    assert response.status_code == 303  # type: ignore[attr-defined]
    path = response.headers["location"]  # type: ignore[attr-defined]
    _wait_finished(member_client, path)
    page = member_client.get(path)
    assert page.template.name == "imports/job.html"  # type: ignore[attr-defined]
    assert "12 created" in page.text
    assert "<progress" in page.text
    results = member_client.get(path + "/results.csv")
    assert results.headers["content-type"].startswith("text/csv")
    assert len(results.text.splitlines()) == 13
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(Organization)).one() == 12
        job = session.exec(select(ImportJob)).one()
    assert job.created_by_id == member_client.staff_id


def test_a_running_job_shows_a_progress_bar_that_htmx_polls(
    member_client: StaffClient, db: Database
) -> None:
    with db.session() as session:
        job = ImportJob(filename="x.csv", status="running", total_rows=10, done_rows=4)
        session.add(job)

    response = member_client.get(
        f"/orgs/import/{job.id}", headers={"HX-Request": "true"}
    )

    assert response.template.name == "imports/_job.html"  # type: ignore[attr-defined]
    assert '<progress value="4" max="10"' in response.text
    assert "4 of 10 rows done" in response.text
    assert f'href="/orgs/import/{job.id}"' in response.text


def test_a_file_with_bad_rows_creates_nothing_and_lists_them(
    member_client: StaffClient, db: Database
) -> None:
    body = HEADER + "Fine,f-1,fine.example,,,no\n,missing-name,,,,no\n"

    response = _upload(member_client, body)

    page = member_client.get(response.headers["location"])  # type: ignore[attr-defined]
    assert "Nothing was created" in page.text
    assert "Enter the organization" in page.text
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(Organization)).one() == 0


def test_an_unreadable_file_is_an_error_next_to_the_field(
    member_client: StaffClient,
) -> None:
    response = _upload(member_client, "colour\nred\n")

    assert response.status_code == 400  # type: ignore[attr-defined]
    assert 'id="f-file-error"' in response.text  # type: ignore[attr-defined]
    assert "unknown column" in response.text  # type: ignore[attr-defined]


def test_an_upload_without_a_csrf_token_is_refused(member_client: StaffClient) -> None:
    response = member_client.post(
        "/orgs/import",
        files={"file": ("c.csv", b"name,external id\nA,a\n", "text/csv")},
        headers={"X-CSRF-Token": ""},
    )

    assert response.status_code == 403
