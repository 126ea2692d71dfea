import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from dashboard.db import Database
from dashboard.models import AuditEvent, Domain, Organization, OrganizationFeature
from dashboard.organizations import organization_create
from dashboard.services.workos import SDKWorkOSGateway
from dashboard.validation import organization_input
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.staff import StaffClient, session_of


def _new(**fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "Acme Corp",
        "external_id": "",
        "domains": "acme.example\nbücher.example",
        "emails": "",
        "features": ["sso", "dsync"],
    }
    form.update(fields)
    return form


def _orgs(db: Database) -> list[Organization]:
    with db.session() as session:
        return list(session.exec(select(Organization)))


def _remote_orgs(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return list(emulator.state()["organizations"])


def test_new_organization_form_has_the_contract_labels(
    member_client: StaffClient,
) -> None:
    response = member_client.get("/orgs/new")

    assert response.status_code == 200
    text = response.text
    for label in ("Name", "External ID", "Domains", "IT admin emails"):
        assert f">{label}" in text
    for human in ("Single Sign-On", "Directory Sync", "Bring Your Own Key"):
        assert f">{human}</label>" in text
    assert ">Create organization</button>" in text


def test_create_makes_the_workos_organization_then_the_local_one(
    member_client: StaffClient, db: Database, emulator: EmulatorHandle
) -> None:
    response = member_client.post("/orgs", data=_new(), follow_redirects=False)

    assert response.status_code == 303
    [org] = _orgs(db)
    assert response.headers["location"] == f"/orgs/{org.id}"
    assert org.name_key == "acme corp"
    assert org.external_id.startswith("dash_")
    [remote] = _remote_orgs(emulator)
    assert remote["id"] == org.workos_id
    assert remote["external_id"] == org.external_id
    with db.session() as session:
        domains = sorted(d.domain for d in session.exec(select(Domain)))
        features = sorted(f.intent for f in session.exec(select(OrganizationFeature)))
        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert domains == ["acme.example", "xn--bcher-kva.example"]
    assert features == ["dsync", "sso"]
    assert "organization.created" in actions


def test_create_shows_the_organization_page(
    member_client: StaffClient, db: Database
) -> None:
    member_client.post("/orgs", data=_new(external_id="crm-1"), follow_redirects=False)
    [org] = _orgs(db)

    response = member_client.get(f"/orgs/{org.id}")

    assert response.status_code == 200
    assert response.template.name == "orgs/detail.html"  # type: ignore[attr-defined]
    assert "crm-1" in response.text
    assert org.workos_id is not None and org.workos_id in response.text
    assert "bücher.example" in response.text
    assert "Pending verification" in response.text
    assert "Organization Acme Corp created." in response.text


def _create(client: StaffClient, db: Database, **fields: Any) -> Organization:
    response = client.post("/orgs", data=_new(**fields), follow_redirects=False)
    assert response.status_code == 303, response.text
    with db.session() as session:
        org = session.exec(
            select(Organization).where(
                Organization.name == fields.get("name", "Acme Corp")
            )
        ).one()
    return org


@pytest.mark.parametrize(
    ("field", "fields", "message"),
    [
        ("name", {"name": "  "}, "Enter the organization's name"),
        ("external_id", {"external_id": "has space"}, "no spaces"),
        ("domains", {"domains": "not_a_domain.com"}, "is not a valid domain name"),
        ("domains", {"domains": "a.example A.EXAMPLE"}, "is listed twice"),
        ("emails", {"emails": "nobody"}, "is not an email address"),
        (
            "emails",
            {"emails": " ".join(f"a{i}@x.example" for i in range(21))},
            "At most 20 email addresses",
        ),
        ("features", {"features": ["teleport"]}, "Unknown feature"),
        (
            "features",
            {"features": [], "emails": "it@x.example"},
            "Pick at least one feature",
        ),
    ],
)
def test_each_validation_error_is_shown_by_its_field_and_values_kept(
    member_client: StaffClient,
    db: Database,
    emulator: EmulatorHandle,
    field: str,
    fields: dict[str, Any],
    message: str,
) -> None:
    response = member_client.post("/orgs", data=_new(**fields))

    assert response.status_code == 400
    assert message in response.context["errors"][field]  # type: ignore[attr-defined]
    assert f'id="f-{field}-error"' in response.text
    assert "Acme Corp" in response.text or field == "name"
    assert _orgs(db) == []
    assert _remote_orgs(emulator) == []


def test_a_domain_claimed_by_another_organization_names_it(
    member_client: StaffClient, db: Database
) -> None:
    _create(member_client, db, name="Globex", domains="globex.example")

    response = member_client.post("/orgs", data=_new(domains="GLOBEX.example"))

    assert response.status_code == 400
    assert response.context["errors"]["domains"] == (  # type: ignore[attr-defined]
        "“globex.example” already belongs to Globex."
    )


def test_a_used_external_id_names_the_organization(
    member_client: StaffClient, db: Database
) -> None:
    _create(member_client, db, name="Globex", external_id="crm-9", domains="")

    response = member_client.post("/orgs", data=_new(external_id="crm-9"))

    assert response.status_code == 400
    assert "Globex" in response.context["errors"]["external_id"]  # type: ignore[attr-defined]


@pytest.fixture
def unretried_client(make_staff_client: Callable[..., StaffClient]) -> StaffClient:
    """A member whose app does not retry WorkOS calls, so injected faults show at once."""
    return make_staff_client("unretried@staff.example.com", "member", workos_retries=0)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_workos_failure_saves_nothing_and_a_retry_finishes_once(
    unretried_client: StaffClient,
    db: Database,
    emulator: EmulatorHandle,
    status: int,
) -> None:
    member_client = unretried_client
    emulator.set_faults(next_statuses=[status], retry_after_seconds=0)
    first = member_client.post("/orgs", data=_new())
    generated = first.context["generated_external_id"]  # type: ignore[attr-defined]

    retry = member_client.post(
        "/orgs", data=_new(generated_external_id=generated), follow_redirects=False
    )

    assert first.status_code == 502
    assert "WorkOS" in first.context["error"]  # type: ignore[attr-defined]
    assert f'value="{generated}"' in first.text
    assert "acme.example" in first.text
    assert retry.status_code == 303
    [org] = _orgs(db)
    assert org.external_id == generated
    assert len(_remote_orgs(emulator)) == 1


def test_the_sdk_retries_a_passing_5xx_and_the_create_succeeds(
    member_client: StaffClient, db: Database, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(next_statuses=[429], retry_after_seconds=0)

    response = member_client.post("/orgs", data=_new(), follow_redirects=False)

    assert response.status_code == 303
    assert len(_orgs(db)) == 1
    assert len(_remote_orgs(emulator)) == 1


def test_a_retry_after_a_lost_answer_adopts_the_workos_organization(
    member_client: StaffClient, db: Database, emulator: EmulatorHandle
) -> None:
    async def create_at_workos() -> Any:
        async with emulator.client() as client:
            return await client.organizations.create_organization(
                name="Acme Corp", external_id="crm-lost"
            )

    remote = asyncio.run(create_at_workos())

    response = member_client.post(
        "/orgs", data=_new(external_id="crm-lost"), follow_redirects=False
    )

    assert response.status_code == 303
    [org] = _orgs(db)
    assert org.workos_id == remote.id
    assert len(_remote_orgs(emulator)) == 1
    with db.session() as session:
        assert len(list(session.exec(select(Domain)))) == 2


def test_an_unreachable_workos_is_reported_plainly(
    make_staff_client: Callable[..., StaffClient], staff_settings: Any, db: Database
) -> None:
    client = make_staff_client(
        "x@staff.example.com",
        "member",
        settings=staff_settings.with_overrides(workos_base_url="http://127.0.0.1:9"),
        workos_retries=0,
    )

    response = client.post("/orgs", data=_new())

    assert response.status_code == 502
    assert "Could not reach WorkOS" in response.text
    assert _orgs(db) == []


def test_create_with_emails_queues_the_invite(
    member_client: StaffClient, db: Database
) -> None:
    from dashboard.models import Invitee, SetupLink

    org = _create(member_client, db, emails="it@acme.example\nIT2@acme.example")

    with db.session() as session:
        [link] = session.exec(select(SetupLink)).all()
        invitees = sorted(i.email_key for i in session.exec(select(Invitee)))
    assert link.organization_id == org.id
    assert invitees == ["it2@acme.example", "it@acme.example"]


STAFF_GETS = ["/orgs", "/orgs/new", "/orgs/{id}", "/activity"]
STAFF_POSTS = ["/orgs/{id}/domains", "/orgs/{id}/features"]
ADMIN_POSTS = ["/orgs/{id}/delete", "/orgs/{id}/restore", "/orgs/{id}/purge"]


@pytest.fixture
def organization(db: Database, emulator: EmulatorHandle) -> Organization:
    """An organization made through the service, at the emulator and here."""
    data = organization_input(
        name="Acme Corp",
        domains="acme.example\nbücher.example",
        features=["sso", "dsync"],
    )

    async def create() -> Organization:
        gateway = SDKWorkOSGateway(
            api_key=emulator.api_key,
            client_id=emulator.client_id,
            base_url=emulator.url,
        )
        try:
            return await organization_create(db, gateway, data, staff=None)
        finally:
            await gateway.close()

    return asyncio.run(create())


@pytest.mark.parametrize("path", STAFF_GETS + STAFF_POSTS + ADMIN_POSTS)
def test_anonymous_is_sent_to_sign_in(
    anonymous_client: StaffClient, organization: Organization, path: str
) -> None:
    url = path.format(id=organization.id)
    anonymous_client.get("/auth/login")
    csrf = session_of(anonymous_client, anonymous_client.secret)["csrf"]

    if path in STAFF_GETS:
        response = anonymous_client.get(url, follow_redirects=False)
    else:
        response = anonymous_client.post(
            url, headers={"X-CSRF-Token": csrf}, follow_redirects=False
        )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=")


def test_htmx_without_a_session_gets_hx_redirect(
    anonymous_client: StaffClient,
) -> None:
    response = anonymous_client.get(
        "/orgs?q=ac",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/orgs?q=ac"},
        follow_redirects=False,
    )

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/auth/login?next=%2Forgs%3Fq%3Dac"


@pytest.mark.parametrize("path", STAFF_GETS)
def test_non_staff_are_sent_to_sign_in(
    outsider_client: StaffClient, organization: Organization, path: str
) -> None:
    response = outsider_client.get(
        path.format(id=organization.id), follow_redirects=False
    )

    assert response.status_code == 303


@pytest.mark.parametrize("path", STAFF_GETS)
def test_members_see_staff_pages(
    member_client: StaffClient, organization: Organization, path: str
) -> None:
    response = member_client.get(path.format(id=organization.id))

    assert response.status_code == 200


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_members_cannot_delete_restore_or_purge(
    member_client: StaffClient, organization: Organization, db: Database, path: str
) -> None:
    response = member_client.post(path.format(id=organization.id))

    assert response.status_code == 403
    assert "Only admins" in response.text
    assert _orgs(db)[0].deleted_at is None


@pytest.mark.parametrize("path", STAFF_POSTS + ADMIN_POSTS + ["/orgs"])
def test_posts_without_csrf_token_are_refused(
    admin_client: StaffClient, organization: Organization, path: str
) -> None:
    response = admin_client.post(
        path.format(id=organization.id), headers={"X-CSRF-Token": ""}
    )

    assert response.status_code == 403


def test_forms_carry_the_csrf_token(admin_client: StaffClient, db: Database) -> None:
    del admin_client.headers["X-CSRF-Token"]

    response = admin_client.post(
        "/orgs",
        data={**_new(), "csrf_token": admin_client.csrf},
        follow_redirects=False,
    )

    assert response.status_code == 303


def test_unknown_organization_is_a_404(member_client: StaffClient) -> None:
    response = member_client.get("/orgs/999999")

    assert response.status_code == 404


def test_soft_delete_hides_and_restore_brings_back(
    admin_client: StaffClient, organization: Organization, emulator: EmulatorHandle
) -> None:
    admin_client.post(f"/orgs/{organization.id}/delete")
    hidden = admin_client.get("/orgs")
    deleted = admin_client.get("/orgs?state=deleted")
    admin_client.post(f"/orgs/{organization.id}/restore")
    back = admin_client.get("/orgs")

    assert "Acme Corp" not in hidden.text
    assert "Acme Corp" in deleted.text
    assert "Acme Corp" in back.text
    assert len(_remote_orgs(emulator)) == 1


def test_purge_deletes_at_workos_and_frees_the_domains(
    admin_client: StaffClient,
    organization: Organization,
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    early = admin_client.post(f"/orgs/{organization.id}/purge")
    admin_client.post(f"/orgs/{organization.id}/delete")

    admin_client.post(f"/orgs/{organization.id}/purge")

    assert "Only a deleted organization can be purged" in early.text
    assert _remote_orgs(emulator) == []
    assert admin_client.get(f"/orgs/{organization.id}").status_code == 404
    again = _create(admin_client, db, name="Acme Two")
    assert again.id != organization.id


def test_domains_are_added_and_removed_inline_with_htmx(
    member_client: StaffClient,
    organization: Organization,
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    hx = {"HX-Request": "true", "HX-Target": "domains-panel"}

    added = member_client.post(
        f"/orgs/{organization.id}/domains", data={"domain": "Neu.example"}, headers=hx
    )
    with db.session() as session:
        row = session.exec(select(Domain).where(Domain.domain == "neu.example")).one()
    removed = member_client.post(
        f"/orgs/{organization.id}/domains/{row.id}/delete", headers=hx
    )

    assert added.status_code == 200
    assert added.template.name == "orgs/_domains.html"  # type: ignore[attr-defined]
    assert "neu.example" in added.text
    assert "<html" not in added.text
    assert removed.status_code == 200
    assert "neu.example" not in removed.text
    [remote] = _remote_orgs(emulator)
    remote_domains = [d["domain"] for d in remote["domains"]]
    assert "neu.example" not in remote_domains
    assert len(remote_domains) == 2


def test_adding_a_bad_or_taken_domain_says_why_next_to_the_field(
    member_client: StaffClient, organization: Organization, db: Database
) -> None:
    _create(member_client, db, name="Globex", domains="globex.example")
    hx = {"HX-Request": "true"}

    bad = member_client.post(
        f"/orgs/{organization.id}/domains", data={"domain": "nope"}, headers=hx
    )
    taken = member_client.post(
        f"/orgs/{organization.id}/domains",
        data={"domain": "globex.example"},
        headers=hx,
    )

    assert bad.status_code == 400
    assert "needs a dot" in bad.text
    assert taken.status_code == 400
    assert "already belongs to Globex" in taken.text


def test_a_workos_failure_adding_a_domain_is_shown_and_nothing_saved(
    unretried_client: StaffClient,
    organization: Organization,
    emulator: EmulatorHandle,
    db: Database,
) -> None:
    emulator.set_faults(next_statuses=[503])

    response = unretried_client.post(
        f"/orgs/{organization.id}/domains",
        data={"domain": "later.example"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 502
    assert "WorkOS had an error" in response.text
    with db.session() as session:
        assert (
            session.exec(select(Domain).where(Domain.domain == "later.example")).first()
            is None
        )


def test_features_are_saved_and_recorded(
    member_client: StaffClient, organization: Organization, db: Database
) -> None:
    response = member_client.post(
        f"/orgs/{organization.id}/features", data={"features": ["audit_logs"]}
    )

    assert response.status_code == 200
    with db.session() as session:
        intents = [f.intent for f in session.exec(select(OrganizationFeature))]
        changed = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "organization.features_changed"
            )
        ).one()
    assert intents == ["audit_logs"]
    assert changed.detail == {"added": ["audit_logs"], "removed": ["sso", "dsync"]}
    assert "changed the features" in response.text


def test_timeline_and_activity_show_who_did_what(
    admin_client: StaffClient, organization: Organization
) -> None:
    admin_client.post(f"/orgs/{organization.id}/delete")

    page = admin_client.get(f"/orgs/{organization.id}")
    activity = admin_client.get("/activity")

    entries = page.context["timeline"].entries  # type: ignore[attr-defined]
    assert [e.event.action for e in entries] == [
        "organization.deleted",
        "organization.created",
    ]
    assert "admin@staff.example.com" in activity.text
    assert "deleted the organization" in activity.text
    assert f'href="/orgs/{organization.id}"' in activity.text


def test_search_as_you_type_answers_the_table_fragment_from_the_same_url(
    member_client: StaffClient, organization: Organization
) -> None:
    full = member_client.get("/orgs?q=acm")
    fragment = member_client.get("/orgs?q=acm", headers={"HX-Request": "true"})
    none = member_client.get("/orgs?q=zzz&state=bogus", headers={"HX-Request": "true"})

    assert full.template.name == "orgs/list.html"  # type: ignore[attr-defined]
    assert 'value="acm"' in full.text
    assert '<label for="f-q">Search</label>' in full.text
    assert fragment.template.name == "orgs/_table.html"  # type: ignore[attr-defined]
    assert "<html" not in fragment.text
    assert "Acme Corp" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    assert "No organizations match" in none.text
