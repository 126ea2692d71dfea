from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import select

from dashboard.db import Database
from dashboard.invites import active_link, setup_url
from dashboard.models import AuditEvent, Invitee, Organization, OutboxEmail, SetupLink
from dashboard.progress import features_set
from dashboard.settings import Settings
from dashboard.setup_tokens import portal_external_user_id
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.staff import StaffClient
from tests.invite_helpers import organization_add

HTMX = {"HX-Request": "true"}


def _org(db: Database, workos_id: str | None = None) -> int:
    with db.session() as session:
        org_id = organization_add(session, name="Globex", workos_id=workos_id).id
    assert org_id is not None
    return org_id


def _invite(
    client: StaffClient,
    org_id: int,
    emails: str,
    data: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    return client.post(
        f"/orgs/{org_id}/invite",
        data={"features": ["sso", "dsync"], "emails": emails, **(data or {})},
        **extra,
    )


def _actions(db: Database) -> list[str]:
    with db.session() as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id))  # type: ignore[arg-type]
        return [e.action for e in events if e.action.startswith("invite.")]


def test_send_invite_with_htmx_answers_the_panel(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)

    response = _invite(
        member_client, org_id, "it@globex.example\nsec@globex.example", headers=HTMX
    )

    assert response.status_code == 200
    assert response.template.name == "setup_links/_panel.html"  # type: ignore[attr-defined]
    assert "HX-Request" in response.headers["Vary"]
    panel = response.context["panel"]  # type: ignore[attr-defined]
    assert panel.link_state == "active"
    assert [row.email_status for row in panel.rows] == ["queued", "queued"]
    assert panel.setup_url.startswith("http://testserver/setup/")
    assert f'data-copy="{panel.setup_url}"' in response.text
    assert 'readonly value="' + panel.setup_url in response.text
    for label in ("Copy link", "Resend", "Revoke", "Send invite", "IT admin emails"):
        assert label in response.text
    assert "Invite queued for 2 IT admins." in response.text


def test_send_invite_without_js_redirects_to_the_page_with_a_message(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)

    response = _invite(
        member_client, org_id, "it@globex.example", follow_redirects=False
    )
    page = member_client.get(response.headers["location"])

    assert response.status_code == 303
    assert response.headers["location"] == f"/orgs/{org_id}/invite"
    assert page.template.name == "setup_links/invite.html"  # type: ignore[attr-defined]
    assert "Invite queued for 1 IT admin." in page.text
    assert "it@globex.example" in page.text


def test_bad_invite_shows_errors_by_the_fields_and_keeps_the_input(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)

    response = member_client.post(
        f"/orgs/{org_id}/invite", data={"emails": "not-an-address\nok@globex.example"}
    )

    assert response.status_code == 400
    panel = response.context["panel"]  # type: ignore[attr-defined]
    assert set(panel.errors) == {"features", "emails"}
    assert "not-an-address" in response.text
    assert 'id="invite-emails-error"' in response.text
    with db.session() as session:
        assert session.exec(select(SetupLink)).first() is None


def test_twenty_one_addresses_are_refused(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)
    emails = "\n".join(f"a{n}@globex.example" for n in range(21))

    response = _invite(member_client, org_id, emails, headers=HTMX)

    assert "At most 20" in response.context["panel"].errors["emails"]  # type: ignore[attr-defined]


def test_resend_keeps_the_url_and_queues_again(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)
    first = _invite(member_client, org_id, "it@globex.example", headers=HTMX)

    response = member_client.post(f"/orgs/{org_id}/invite/resend", headers=HTMX)

    assert response.context["panel"].setup_url == first.context["panel"].setup_url  # type: ignore[attr-defined]
    with db.session() as session:
        assert len(session.exec(select(OutboxEmail)).all()) == 2
    assert _actions(db)[-1] == "invite.resent"


def test_revoke_and_replace_end_portal_sessions_at_workos(
    member_client: StaffClient,
    db: Database,
    emulator: EmulatorHandle,
    staff_settings: Settings,
) -> None:
    async def create() -> str:
        async with emulator.client() as client:
            created = await client.organizations.create_organization(name="Globex")
            return created.id

    async def mint(external_user_id: str) -> None:
        async with emulator.client() as client:
            await client.admin_portal.generate_link(
                organization=workos_id,
                intent="sso",
                return_url="http://testserver/back",
                success_url="http://testserver/done",
                external_user_id=external_user_id,
            )

    workos_id = asyncio.run(create())
    org_id = _org(db, workos_id=workos_id)
    _invite(member_client, org_id, "it@globex.example", headers=HTMX)
    with db.session() as session:
        link = active_link(session, org_id)
        invitee = session.exec(select(Invitee)).one()
        assert link is not None and invitee.id is not None
    asyncio.run(mint(portal_external_user_id(link.public_id, invitee.id)))

    replaced = _invite(member_client, org_id, "new@globex.example", headers=HTMX)
    revoked = member_client.post(f"/orgs/{org_id}/invite/revoke", headers=HTMX)

    portal_links = emulator.state()["portal_links"]
    assert portal_links and all(p["revoked_at"] for p in portal_links)
    assert "previous link no longer works" in replaced.text
    assert revoked.context["panel"].link is None  # type: ignore[attr-defined]
    assert "was revoked" in revoked.text
    assert _actions(db) == [
        "invite.sent",
        "invite.replaced",
        "invite.sent",
        "invite.revoked",
    ]


def test_portal_revoke_failure_is_reported_not_a_500(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db, workos_id="org_does_not_exist")
    _invite(member_client, org_id, "it@globex.example", headers=HTMX)

    response = member_client.post(f"/orgs/{org_id}/invite/revoke", headers=HTMX)

    assert response.status_code == 200
    assert "could not be ended" in response.text
    assert "invite.portal_revoke_failed" in _actions(db)


def test_failed_email_shows_reason_and_retry_button(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)
    _invite(member_client, org_id, "it@globex.example", headers=HTMX)
    with db.session() as session:
        email = session.exec(select(OutboxEmail)).one()
        email.status, email.last_error = (
            "failed",
            "the mail server refused the address (550 no)",
        )
        session.add(email)
    page = member_client.get(f"/orgs/{org_id}/invite")

    retried = member_client.post(
        f"/orgs/{org_id}/emails/{email.id}/retry", headers=HTMX
    )

    assert "failed: the mail server refused the address (550 no)" in page.text
    assert f"/orgs/{org_id}/emails/{email.id}/retry" in page.text
    assert [r.email_status for r in retried.context["panel"].rows] == ["queued"]  # type: ignore[attr-defined]
    assert "invite.email_retried" in _actions(db)


def test_actions_need_a_signed_in_staff_member_and_csrf(
    anonymous_client: StaffClient, member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)

    anonymous = anonymous_client.get(f"/orgs/{org_id}/invite", headers=HTMX)
    no_csrf = member_client.post(
        f"/orgs/{org_id}/invite",
        data={"emails": "a@b.example"},
        headers={"X-CSRF-Token": ""},
    )
    missing = member_client.get("/orgs/999999/invite")

    assert anonymous.status_code == 204 and "HX-Redirect" in anonymous.headers
    assert no_csrf.status_code == 403
    assert missing.status_code == 404


def test_dev_mail_lists_rendered_emails_only_with_dev_mailbox(
    make_staff_client: Any, db: Database, staff_settings: Settings
) -> None:
    dev = make_staff_client(
        "dev@staff.example.com",
        settings=staff_settings.with_overrides(dev_mailbox=True),
    )
    plain = make_staff_client("plain@staff.example.com")
    org_id = _org(db)
    _invite(dev, org_id, "it@globex.example", headers=HTMX)
    with db.session() as session:
        link = session.exec(select(SetupLink)).one()
        organization = session.get(Organization, org_id)
        assert organization is not None

    page = dev.get("/dev/mail")
    absent = plain.get("/dev/mail")

    url = setup_url(staff_settings, link)
    assert page.status_code == 200
    assert f'href="{url}"' in page.text
    assert "Set up Acme Cloud for Globex" in page.text
    assert absent.status_code == 404


def test_organization_page_embeds_the_panel_and_posts_come_back_to_it(
    member_client: StaffClient, db: Database
) -> None:
    org_id = _org(db)
    with db.session() as session:
        features_set(session, org_id, ["sso", "log_streams"])

    page = member_client.get(f"/orgs/{org_id}")
    sent = member_client.post(
        f"/orgs/{org_id}/invite",
        data={
            "features": ["sso", "log_streams"],
            "emails": "it@globex.example",
            "panel": "embedded",
        },
        follow_redirects=False,
    )
    fragment = _invite(
        member_client,
        org_id,
        "it@globex.example",
        headers=HTMX,
        data={"panel": "embedded"},
    )

    panel = page.context["panel"]  # type: ignore[attr-defined]
    assert panel.embedded and panel.form_features == ["sso", "log_streams"]
    assert 'id="invite-panel"' in page.text
    assert 'id="invite-feature-sso"' not in page.text
    assert sent.headers["location"] == f"/orgs/{org_id}#invite-panel"
    assert fragment.context["panel"].embedded  # type: ignore[attr-defined]
