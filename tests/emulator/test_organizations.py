"""Organizations and organization domains through the real SDK."""

from __future__ import annotations

import pytest
from workos import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)
from workos.organizations.models import OrganizationDomainData

from tests.emulator.conftest import SDKRunner
from tests.fixtures.emulator import EmulatorHandle


def _create(sdk: SDKRunner, name: str = "Acme", **kwargs):
    return sdk(lambda c: c.organizations.create_organization(name=name, **kwargs))


def test_create_with_domain_data_and_external_id(sdk: SDKRunner) -> None:
    organization = _create(
        sdk,
        external_id="crm-1",
        metadata={"tier": "gold"},
        domain_data=[
            OrganizationDomainData(domain="acme.test", state="pending"),
            OrganizationDomainData(domain="Acme.example", state="verified"),
        ],
    )

    assert organization.id.startswith("org_")
    assert organization.external_id == "crm-1"
    assert organization.metadata == {"tier": "gold"}
    states = {d.domain: d.state for d in organization.domains}
    assert states == {"acme.test": "pending", "acme.example": "verified"}
    assert all(d.organization_id == organization.id for d in organization.domains)


def test_duplicate_external_id_is_409(sdk: SDKRunner) -> None:
    _create(sdk, external_id="crm-1")

    with pytest.raises(ConflictError) as caught:
        _create(sdk, name="Other", external_id="crm-1")

    assert caught.value.code == "external_id_already_used"


def test_get_and_get_by_external_id(sdk: SDKRunner) -> None:
    created = _create(sdk, external_id="crm-2")

    by_id = sdk(lambda c: c.organizations.get_organization(created.id))
    by_external = sdk(
        lambda c: c.organizations.get_organization_by_external_id("crm-2")
    )

    assert by_id == created
    assert by_external == created


def test_unknown_organization_is_404(sdk: SDKRunner) -> None:
    with pytest.raises(NotFoundError):
        sdk(lambda c: c.organizations.get_organization("org_missing"))
    with pytest.raises(NotFoundError):
        sdk(lambda c: c.organizations.get_organization_by_external_id("nope"))


def test_update_renames_replaces_domains_and_clears_external_id(sdk: SDKRunner) -> None:
    created = _create(
        sdk,
        external_id="crm-3",
        domain_data=[OrganizationDomainData(domain="old.test", state="pending")],
    )

    updated = sdk(
        lambda c: c.organizations.update_organization(
            created.id,
            name="Acme Two",
            external_id=None,
            domain_data=[OrganizationDomainData(domain="new.test", state="pending")],
        )
    )

    assert updated.name == "Acme Two"
    assert updated.external_id is None
    assert [d.domain for d in updated.domains] == ["new.test"]
    assert updated.updated_at >= created.updated_at


def test_update_to_a_taken_external_id_is_409(sdk: SDKRunner) -> None:
    _create(sdk, external_id="taken")
    other = _create(sdk, name="Other")

    with pytest.raises(ConflictError):
        sdk(
            lambda c: c.organizations.update_organization(other.id, external_id="taken")
        )


def test_delete(sdk: SDKRunner) -> None:
    created = _create(sdk)

    sdk(lambda c: c.organizations.delete_organization(created.id))

    with pytest.raises(NotFoundError):
        sdk(lambda c: c.organizations.get_organization(created.id))


def test_invalid_input_is_422(sdk: SDKRunner) -> None:
    with pytest.raises(UnprocessableEntityError):
        _create(sdk, name="  ")
    with pytest.raises(UnprocessableEntityError):
        _create(
            sdk,
            domain_data=[
                OrganizationDomainData(domain="not a domain", state="pending")
            ],
        )


def test_list_pages_with_cursors_both_ways(sdk: SDKRunner) -> None:
    ids = [_create(sdk, name=f"Org {i}").id for i in range(5)]

    first = sdk(lambda c: c.organizations.list_organizations(limit=2))
    second = sdk(
        lambda c: c.organizations.list_organizations(limit=2, after=first.after)
    )
    third = sdk(
        lambda c: c.organizations.list_organizations(limit=2, after=second.after)
    )
    back = sdk(
        lambda c: c.organizations.list_organizations(limit=2, before=third.data[0].id)
    )
    ascending = sdk(lambda c: c.organizations.list_organizations(limit=10, order="asc"))

    newest_first = list(reversed(ids))
    assert [o.id for o in first.data] == newest_first[:2]
    assert first.before is None and first.after == newest_first[1]
    assert [o.id for o in second.data] == newest_first[2:4]
    assert [o.id for o in third.data] == newest_first[4:]
    assert third.after is None
    assert [o.id for o in back.data] == newest_first[2:4]
    assert [o.id for o in ascending.data] == ids


def test_list_auto_paging_reaches_every_organization(sdk: SDKRunner) -> None:
    ids = {_create(sdk, name=f"Org {i}").id for i in range(7)}

    async def all_ids(c):
        page = await c.organizations.list_organizations(limit=3)
        return {o.id async for o in page.auto_paging_iter()}

    assert sdk(all_ids) == ids


def test_list_filters_by_domain_and_search(sdk: SDKRunner) -> None:
    acme = _create(
        sdk,
        name="Acme",
        domain_data=[OrganizationDomainData(domain="acme.test", state="pending")],
    )
    _create(
        sdk,
        name="Globex",
        domain_data=[OrganizationDomainData(domain="globex.test", state="pending")],
    )

    by_domain = sdk(lambda c: c.organizations.list_organizations(domains=["acme.test"]))
    by_search = sdk(lambda c: c.organizations.list_organizations(search="acm"))

    assert [o.id for o in by_domain.data] == [acme.id]
    assert [o.id for o in by_search.data] == [acme.id]


def test_list_limit_out_of_range_is_422(sdk: SDKRunner) -> None:
    with pytest.raises(UnprocessableEntityError):
        sdk(lambda c: c.organizations.list_organizations(limit=101))


def test_domain_create_get_verify_delete(sdk: SDKRunner) -> None:
    organization = _create(sdk)

    domain = sdk(
        lambda c: c.organization_domains.create_organization_domain(
            domain="acme.test", organization_id=organization.id
        )
    )
    fetched = sdk(lambda c: c.organization_domains.get_organization_domain(domain.id))
    verified = sdk(
        lambda c: c.organization_domains.verify_organization_domain(domain.id)
    )
    sdk(lambda c: c.organization_domains.delete_organization_domain(domain.id))

    assert domain.state == "pending"
    assert domain.verification_strategy == "dns"
    assert domain.verification_token and domain.verification_prefix
    assert fetched == domain
    assert verified.state == "verified"
    with pytest.raises(NotFoundError):
        sdk(lambda c: c.organization_domains.get_organization_domain(domain.id))


def test_domain_verification_fails_for_invalid_names(sdk: SDKRunner) -> None:
    organization = _create(sdk)
    domain = sdk(
        lambda c: c.organization_domains.create_organization_domain(
            domain="acme.invalid", organization_id=organization.id
        )
    )

    failed = sdk(lambda c: c.organization_domains.verify_organization_domain(domain.id))

    assert failed.state == "failed"


def test_verifying_a_verified_domain_is_400(sdk: SDKRunner) -> None:
    organization = _create(
        sdk, domain_data=[OrganizationDomainData(domain="acme.test", state="verified")]
    )

    with pytest.raises(BadRequestError) as caught:
        sdk(
            lambda c: c.organization_domains.verify_organization_domain(
                organization.domains[0].id
            )
        )

    assert caught.value.code == "domain_already_verified"


def test_duplicate_domain_in_organization_is_409(sdk: SDKRunner) -> None:
    organization = _create(
        sdk, domain_data=[OrganizationDomainData(domain="acme.test", state="pending")]
    )

    with pytest.raises(ConflictError):
        sdk(
            lambda c: c.organization_domains.create_organization_domain(
                domain="acme.test", organization_id=organization.id
            )
        )


def test_every_workos_domain_state_reaches_the_sdk(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    organization = _create(
        sdk, domain_data=[OrganizationDomainData(domain="acme.test", state="pending")]
    )
    domain_id = organization.domains[0].id

    seen = []
    for state in ("pending", "verified", "failed", "unverified", "legacy_verified"):
        emulator.emulator.store.domain_set_state(domain_id, state)
        seen.append(
            sdk(
                lambda c: c.organization_domains.get_organization_domain(domain_id)
            ).state
        )

    assert seen == ["pending", "verified", "failed", "unverified", "legacy_verified"]


def test_other_api_keys_get_401(sdk: SDKRunner) -> None:
    with pytest.raises(AuthenticationError) as caught:
        sdk(lambda c: c.organizations.list_organizations(), api_key="sk_test_wrong")

    assert caught.value.status_code == 401
    assert caught.value.message


def test_a_retried_create_with_the_same_idempotency_key_is_replayed(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    options = {"idempotency_key": "create-acme-1"}

    first = sdk(
        lambda c: c.organizations.create_organization(
            name="Acme", external_id="crm-9", request_options=options
        )
    )
    again = sdk(
        lambda c: c.organizations.create_organization(
            name="Acme", external_id="crm-9", request_options=options
        )
    )

    assert again == first
    assert len(emulator.state()["organizations"]) == 1


def test_domain_for_an_unknown_organization_is_404(sdk: SDKRunner) -> None:
    with pytest.raises(NotFoundError):
        sdk(
            lambda c: c.organization_domains.create_organization_domain(
                domain="acme.test", organization_id="org_missing"
            )
        )
