"""Injected latency, 5xx and 429 answers, as the SDK sees them."""

from __future__ import annotations

import time

import httpx
import pytest
from workos import RateLimitExceededError, ServerError

from dashboard.emulator.faults import Faults, FaultsError
from tests.emulator.conftest import SDKRunner
from tests.fixtures.emulator import EmulatorHandle


def _list(sdk: SDKRunner, **options: object) -> object:
    return sdk(lambda c: c.organizations.list_organizations(), **options)


def test_every_request_fails_with_5xx_at_rate_one(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(fail_5xx_rate=1)

    with pytest.raises(ServerError) as caught:
        _list(sdk)

    assert caught.value.status_code == 500
    assert caught.value.request_id


def test_429_carries_retry_after(sdk: SDKRunner, emulator: EmulatorHandle) -> None:
    emulator.set_faults(fail_429_rate=1, retry_after_seconds=7)

    with pytest.raises(RateLimitExceededError) as caught:
        _list(sdk)

    assert caught.value.retry_after == 7


def test_the_sdk_retries_through_queued_failures(
    sdk: SDKRunner, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(next_statuses=[429, 429], retry_after_seconds=0)

    page = _list(sdk, max_retries=2)

    assert page.data == []
    assert emulator.emulator.faults.current.next_statuses == []


def test_a_share_of_requests_fail(emulator: EmulatorHandle) -> None:
    emulator.set_faults(fail_5xx_rate=0.5)
    headers = {"Authorization": "Bearer sk_test_dev"}

    with httpx.Client(base_url=emulator.url, headers=headers) as client:
        statuses = [client.get("/organizations").status_code for _ in range(60)]

    assert 10 < statuses.count(500) < 50
    assert statuses.count(200) == 60 - statuses.count(500)


def test_latency_is_added(sdk: SDKRunner, emulator: EmulatorHandle) -> None:
    emulator.set_faults(latency_ms=150)

    started = time.monotonic()
    _list(sdk)

    assert time.monotonic() - started >= 0.15


def test_faults_are_set_over_http_and_reset(emulator: EmulatorHandle) -> None:
    answer = httpx.put(
        f"{emulator.url}/_emulator/faults",
        json={"fail_429_rate": 1, "retry_after_seconds": 3},
    )
    limited = httpx.get(
        f"{emulator.url}/organizations", headers={"Authorization": "Bearer sk_test_dev"}
    )
    emulator.reset()
    normal = httpx.get(
        f"{emulator.url}/organizations", headers={"Authorization": "Bearer sk_test_dev"}
    )

    assert answer.json()["fail_429_rate"] == 1
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert normal.status_code == 200


def test_faults_never_touch_the_control_api_or_portal(emulator: EmulatorHandle) -> None:
    emulator.set_faults(fail_5xx_rate=1)

    assert httpx.get(f"{emulator.url}/_emulator/state").status_code == 200


def test_faults_from_environment() -> None:
    faults = Faults.from_env(
        {
            "EMULATOR_LATENCY_MS": "20",
            "EMULATOR_FAIL_5XX_RATE": "0.1",
            "EMULATOR_FAIL_429_RATE": "0.2",
        }
    )

    assert (faults.latency_ms, faults.fail_5xx_rate, faults.fail_429_rate) == (
        20,
        0.1,
        0.2,
    )
    with pytest.raises(FaultsError):
        Faults.from_env({"EMULATOR_FAIL_5XX_RATE": "2"})
