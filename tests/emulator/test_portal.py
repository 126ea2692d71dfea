"""Portal links through the real SDK, and the emulator's own portal pages."""

from __future__ import annotations

import httpx
import pytest
from workos import NotFoundError, UnprocessableEntityError

from dashboard.emulator.store import INTENTS
from tests.emulator.conftest import SDKRunner
from tests.fixtures.emulator import EmulatorHandle

RETURN = "http://app.test/setup/tok"
SUCCESS = "http://app.test/setup/tok/done"


def _org(sdk: SDKRunner) -> str:
    return sdk(lambda c: c.organizations.create_organization(name="Acme Corp")).id


def _link(sdk: SDKRunner, organization_id: str, intent: str = "sso", **extra) -> str:
    response = sdk(
        lambda c: c.admin_portal.generate_link(
            organization=organization_id,
            intent=intent,
            return_url=RETURN,
            success_url=SUCCESS,
            **extra,
        )
    )
    return response.link


def _open(link: str) -> httpx.Response:
    return httpx.get(link, follow_redirects=True)


@pytest.mark.parametrize("intent", INTENTS)
def test_every_intent_opens_the_portal_page(
    sdk: SDKRunner, emulator: EmulatorHandle, intent: str
) -> None:
    organization_id = _org(sdk)

    link = _link(sdk, organization_id, intent, it_contact_emails=["it@acme.test"])
    page = _open(link)

    assert link.startswith(emulator.url + "/portal/")
    assert page.status_code == 200
    assert "<h1>Admin Portal</h1>" in page.text
    assert organization_id in page.text
    assert intent in page.text
    assert f'<a href="{RETURN}">Back to app</a>' in page.text
    assert "Finish setup" in page.text
    assert "it@acme.test" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_unknown_intent_is_422(sdk: SDKRunner) -> None:
    organization_id = _org(sdk)

    with pytest.raises(UnprocessableEntityError):
        _link(sdk, organization_id, "billing")


def test_unknown_organization_is_404(sdk: SDKRunner) -> None:
    with pytest.raises(NotFoundError):
        _link(sdk, "org_missing")


def test_bad_urls_and_too_many_contacts_are_422(sdk: SDKRunner) -> None:
    organization_id = _org(sdk)

    with pytest.raises(UnprocessableEntityError):
        sdk(
            lambda c: c.admin_portal.generate_link(
                organization=organization_id, intent="sso", return_url="javascript:x"
            )
        )
    with pytest.raises(UnprocessableEntityError):
        _link(
            sdk,
            organization_id,
            it_contact_emails=[f"a{i}@acme.test" for i in range(21)],
        )


def test_a_link_works_once(sdk: SDKRunner) -> None:
    link = _link(sdk, _org(sdk))

    first = _open(link)
    second = _open(link)

    assert first.status_code == 200
    assert second.status_code == 410
    assert "already been used" in second.text


def test_a_link_dies_five_minutes_after_minting(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    organization_id = _org(sdk)
    fresh = _link(sdk, organization_id)
    stale = _link(sdk, organization_id)

    emulator.advance_clock(4 * 60 + 59)
    fresh_page = _open(fresh)
    emulator.advance_clock(2)
    stale_page = _open(stale)

    assert fresh_page.status_code == 200
    assert stale_page.status_code == 410
    assert "expired" in stale_page.text


def test_revoke_kills_links_and_open_sessions_of_that_user_only(sdk: SDKRunner) -> None:
    organization_id = _org(sdk)
    opened = _open(_link(sdk, organization_id, external_user_id="invite-1"))
    unopened = _link(sdk, organization_id, external_user_id="invite-1")
    someone_else = _link(sdk, organization_id, external_user_id="invite-2")

    sdk(
        lambda c: c.admin_portal.revoke_link(
            organization=organization_id, external_user_id="invite-1"
        )
    )

    assert httpx.get(str(opened.url)).status_code == 410
    assert _open(unopened).status_code == 410
    assert _open(someone_else).status_code == 200


def test_revoke_needs_a_known_organization(sdk: SDKRunner) -> None:
    with pytest.raises(NotFoundError):
        sdk(
            lambda c: c.admin_portal.revoke_link(
                organization="org_missing", external_user_id="x"
            )
        )


def test_finish_setup_goes_to_success_url_and_activates_sso(sdk: SDKRunner) -> None:
    organization_id = _org(sdk)
    page = _open(_link(sdk, organization_id, "sso"))

    finished = httpx.post(str(page.url) + "/finish")
    connections = sdk(lambda c: c.sso.list_connections(organization_id=organization_id))

    assert finished.status_code == 303
    assert finished.headers["location"] == SUCCESS
    assert [(c.state, c.organization_id) for c in connections.data] == [
        ("active", organization_id)
    ]


def test_finishing_dsync_links_a_directory(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    organization_id = _org(sdk)

    emulator.finish(organization_id, "dsync")
    directories = sdk(
        lambda c: c.directory_sync.list_directories(organization_id=organization_id)
    )
    directory = sdk(lambda c: c.directory_sync.get_directory(directories.data[0].id))

    assert [d.state for d in directories.data] == ["linked"]
    assert directory.organization_id == organization_id


def test_finishing_domain_verification_verifies_domains(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    from workos.organizations.models import OrganizationDomainData

    organization = sdk(
        lambda c: c.organizations.create_organization(
            name="Acme",
            domain_data=[OrganizationDomainData(domain="acme.test", state="pending")],
        )
    )

    emulator.finish(organization.id, "domain_verification")
    after = sdk(lambda c: c.organizations.get_organization(organization.id))

    assert [d.state for d in after.domains] == ["verified"]


def test_finishing_log_streams_shows_in_audit_log_configuration(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    organization_id = _org(sdk)
    before = sdk(lambda c: c.organizations.get_audit_log_configuration(organization_id))

    emulator.finish(organization_id, "log_streams")
    after = sdk(lambda c: c.organizations.get_audit_log_configuration(organization_id))

    assert before.log_stream is None
    assert after.state == "active"
    assert after.log_stream is not None and after.log_stream.state == "active"


def test_the_portal_link_never_reaches_a_log_record(
    sdk: SDKRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    organization_id = _org(sdk)

    link = _link(sdk, organization_id, external_user_id="invite-1")
    page = _open(link)
    httpx.post(str(page.url) + "/finish")

    secret = link.split("secret=")[1]
    session_id = str(page.url).rsplit("/", 1)[1]
    server_side = [
        r for r in caplog.records if r.name.startswith(("dashboard", "uvicorn"))
    ]
    assert server_side
    for record in server_side:
        text = record.getMessage() + " " + " ".join(map(str, record.__dict__.values()))
        assert secret not in text and session_id not in text


def test_connection_get_and_filters(sdk: SDKRunner, emulator: EmulatorHandle) -> None:
    organization_id = _org(sdk)
    emulator.finish(organization_id, "sso")

    listed = sdk(lambda c: c.sso.list_connections(organization_id=organization_id))
    fetched = sdk(lambda c: c.sso.get_connection(listed.data[0].id))
    elsewhere = sdk(lambda c: c.sso.list_connections(organization_id="org_other"))

    assert fetched.id == listed.data[0].id
    assert fetched.state == "active"
    assert elsewhere.data == []
