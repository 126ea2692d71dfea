"""The state file: a restarted emulator still knows its organizations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import workos

from dashboard.emulator import Faults, ThreadedServer, create_emulator


async def _create(url: str) -> str:
    async with workos.AsyncWorkOSClient(
        api_key="sk_test_dev", client_id="client_dev", base_url=url
    ) as client:
        return (
            await client.organizations.create_organization(
                name="Acme", external_id="crm-1"
            )
        ).id


async def _get(url: str, external_id: str) -> str:
    async with workos.AsyncWorkOSClient(
        api_key="sk_test_dev", client_id="client_dev", base_url=url
    ) as client:
        return (
            await client.organizations.get_organization_by_external_id(external_id)
        ).id


def test_organizations_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    with ThreadedServer(create_emulator(state, faults=Faults())) as first:
        created = asyncio.run(_create(first.url))

    with ThreadedServer(create_emulator(state, faults=Faults())) as second:
        found = asyncio.run(_get(second.url, "crm-1"))

    assert found == created


def test_an_unreadable_state_file_is_set_aside(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    state.write_text("{not json")

    app = create_emulator(state, faults=Faults())

    assert app.state.emulator.store.snapshot()["organizations"] == []
    assert (tmp_path / "emulator.json.unreadable").exists()
