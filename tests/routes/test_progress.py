"""Progress on the staff pages: the funnel on /orgs, the checklist on an organization's page, reminders."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.db import Database
from dashboard.invites import invite_create
from dashboard.models import Organization, OutboxEmail, utcnow
from dashboard.settings import Secret, Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.staff import StaffClient
from tests.progress_helpers import (
    WEBHOOK_SECRET,
    local_organization,
    signed_delivery,
    workos_organization,
)


def _squash(html: str) -> str:
    """Markup with whitespace runs made single spaces, for text checks across lines."""
    return " ".join(html.split())


def test_funnel_counts_each_state_and_links_to_its_filter(
    member_client: StaffClient, db: Database
) -> None:
    long_ago = utcnow() - timedelta(days=30)
    local_organization(db, "Not Yet", workos_id=None, step=None)
    local_organization(db, "Invited One", workos_id=None)
    local_organization(db, "Invited Two", workos_id=None)
    local_organization(db, "Opened", workos_id=None, step="opened")
    local_organization(db, "Finished", workos_id=None, step="done")
    local_organization(db, "Stuck", workos_id=None, step="signed_in", at=long_ago)
    gone = local_organization(db, "Gone", workos_id=None)
    with db.session() as session:
        organization = session.get(Organization, gone)
        assert organization is not None
        organization.deleted_at = utcnow()

    response = member_client.get("/orgs", params={"state": "stalled"})

    assert response.status_code == 200
    steps = {s.state: s.count for s in response.context["funnel"].steps}  # type: ignore[attr-defined]
    assert steps == {
        "not_invited": 1,
        "invited": 2,
        "opened": 1,
        "signed_in": 0,
        "portal_opened": 0,
        "done": 1,
        "stalled": 1,
    }
    html = _squash(response.text)
    assert html.count('aria-current="true"') == 1
    assert (
        '<a href="/orgs?state=stalled" aria-current="true"><span class="state state-stalled">Stalled</span> <strong>1</strong>'
        in html
    )
    assert (
        '<a href="/orgs?state=invited"><span class="state state-invited">Invited</span> <strong>2</strong>'
        in html
    )


def test_organization_page_shows_the_checklist_per_feature(
    member_client: StaffClient, db: Database
) -> None:
    organization_id = local_organization(
        db, "Checked", workos_id=None, intents=["sso", "dsync"], step="portal_opened"
    )

    response = member_client.get(f"/orgs/{organization_id}")

    assert response.status_code == 200
    html = _squash(response.text)
    assert (
        '<th scope="row">Single Sign-On</th> <td><span class="state state-portal_opened">Portal opened</span></td>'
        in html
    )
    assert (
        '<th scope="row">Directory Sync</th> <td><span class="state state-portal_opened">Portal opened</span></td>'
        in html
    )
    url = f"/orgs/{organization_id}/progress"
    assert f'<a href="{url}" hx-get="{url}" hx-trigger="every 3s"' in html


def test_stalled_setup_shows_stalled_and_offers_a_reminder(
    member_client: StaffClient, db: Database
) -> None:
    organization_id = local_organization(
        db, "Slow", workos_id=None, step="opened", at=utcnow() - timedelta(days=10)
    )

    response = member_client.get(f"/orgs/{organization_id}/progress")

    assert response.template.name == "progress/page.html"  # type: ignore[attr-defined]
    assert "HX-Request" in response.headers["Vary"]
    assert response.context["progress"].state == "stalled"  # type: ignore[attr-defined]
    assert '<td><span class="state state-stalled">Stalled</span></td>' in response.text


def test_finish_setup_at_workos_shows_done_on_the_next_poll(
    member_client: StaffClient,
    db: Database,
    emulator: EmulatorHandle,
    staff_settings: Settings,
) -> None:
    workos_id, _ = workos_organization(emulator, "Polled Page")
    organization_id = local_organization(db, "Polled Page", workos_id=workos_id)
    before = member_client.get(
        f"/orgs/{organization_id}/progress", headers={"HX-Request": "true"}
    )
    [event] = emulator.finish(workos_id, "sso")
    body, headers = signed_delivery(event)
    webhooks = TestClient(
        create_app(
            staff_settings.with_overrides(workos_webhook_secret=Secret(WEBHOOK_SECRET))
        )
    )
    with webhooks:
        assert (
            webhooks.post("/webhooks/workos", content=body, headers=headers).status_code
            == 200
        )

    after = member_client.get(
        f"/orgs/{organization_id}/progress", headers={"HX-Request": "true"}
    )

    assert before.template.name == "progress/_checklist.html"  # type: ignore[attr-defined]
    assert "Invited" in before.text
    html = _squash(after.text)
    assert '<td><span class="state state-done">Done</span></td>' in html
    assert "<td>connection active</td>" in html
    assert "hx-get" not in html


def test_staff_send_a_reminder_from_the_organization_page(
    member_client: StaffClient, db: Database, staff_settings: Settings
) -> None:
    with db.session() as session:
        organization_id = local_organization(db, "Remind Me", workos_id=None, step=None)
        organization = session.get(Organization, organization_id)
        assert organization is not None
        invite_create(
            session,
            staff_settings,
            organization=organization,
            features=["sso"],
            emails=["it@remind.example"],
            staff=None,
        )
    page = member_client.get(f"/orgs/{organization_id}")
    assert f'action="/orgs/{organization_id}/reminders"' in page.text
    assert "Send reminder" in page.text

    response = member_client.post(
        f"/orgs/{organization_id}/reminders",
        data={"csrf_token": member_client.csrf},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "Reminder queued for 1 IT admin(s)." in response.text
    with db.session() as session:
        [email] = session.exec(
            select(OutboxEmail).where(OutboxEmail.template == "reminder")
        ).all()
        assert email.to_address == "it@remind.example"
    timeline = member_client.get(f"/orgs/{organization_id}").text
    assert "sent a reminder" in timeline


def test_reminder_without_an_invite_explains_why(
    member_client: StaffClient, db: Database
) -> None:
    organization_id = local_organization(db, "No Invite", workos_id=None, step=None)

    response = member_client.post(
        f"/orgs/{organization_id}/reminders",
        data={"csrf_token": member_client.csrf},
        follow_redirects=True,
    )

    assert "No reminder was sent: There is no active setup link" in response.text
