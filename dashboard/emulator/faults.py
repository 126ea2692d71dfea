"""Injected failures and latency, so retries and error pages can be tested on purpose."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


class FaultsError(ValueError):
    """A fault setting is not a number in range; the message names it."""


@dataclass
class Faults:
    """What the emulator does to API requests before answering them.

    Rates are shares between 0 and 1 drawn per request; `next_statuses` is a
    queue of statuses (429 or 5xx) answered to the next requests in order,
    for tests that need one exact failure rather than a probability.
    """

    latency_ms: int = 0
    fail_5xx_rate: float = 0.0
    fail_429_rate: float = 0.0
    retry_after_seconds: int = 1
    next_statuses: list[int] = field(default_factory=list)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Faults:
        """Read the EMULATOR_* variables.

        EMULATOR_LATENCY_MS, EMULATOR_FAIL_5XX_RATE, EMULATOR_FAIL_429_RATE and
        EMULATOR_RETRY_AFTER.
        """
        env = os.environ if environ is None else environ
        return cls.from_mapping(
            {
                "latency_ms": env.get("EMULATOR_LATENCY_MS", "0") or "0",
                "fail_5xx_rate": env.get("EMULATOR_FAIL_5XX_RATE", "0") or "0",
                "fail_429_rate": env.get("EMULATOR_FAIL_429_RATE", "0") or "0",
                "retry_after_seconds": env.get("EMULATOR_RETRY_AFTER", "1") or "1",
            }
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Faults:
        """Validate loosely typed input (environment, control API JSON)."""
        faults = cls()
        for name in ("latency_ms", "retry_after_seconds"):
            if name in values:
                setattr(faults, name, _whole(name, values[name]))
        for name in ("fail_5xx_rate", "fail_429_rate"):
            if name in values:
                setattr(faults, name, _share(name, values[name]))
        if "next_statuses" in values:
            statuses = values["next_statuses"]
            if not isinstance(statuses, list) or not all(
                isinstance(s, int) and (s == 429 or 500 <= s <= 599) for s in statuses
            ):
                raise FaultsError("next_statuses must be a list of 429 or 5xx codes")
            faults.next_statuses = list(statuses)
        return faults

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _whole(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise FaultsError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise FaultsError(f"{name} must not be negative")
    return number


def _share(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FaultsError(
            f"{name} must be a number from 0 to 1, got {value!r}"
        ) from None
    if not 0.0 <= number <= 1.0:
        raise FaultsError(f"{name} must be from 0 to 1, got {number}")
    return number


class FaultPlan:
    """The live fault settings, swapped atomically while servers run in other threads."""

    def __init__(self, faults: Faults, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._initial = Faults(
            **{**faults.as_dict(), "next_statuses": list(faults.next_statuses)}
        )
        self._random = random.Random(seed)  # noqa: S311 (chance of a fault, not cryptography)

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults

    def reset(self) -> None:
        """Back to what the emulator was started with (code or environment)."""
        with self._lock:
            self._faults = Faults(
                **{
                    **self._initial.as_dict(),
                    "next_statuses": list(self._initial.next_statuses),
                }
            )

    def draw(self) -> tuple[float, int | None]:
        """Latency in seconds and the failure status for one request (None: answer normally)."""
        with self._lock:
            faults = self._faults
            delay = faults.latency_ms / 1000
            if faults.next_statuses:
                return delay, faults.next_statuses.pop(0)
            roll = self._random.random()
            if roll < faults.fail_429_rate:
                return delay, 429
            if roll < faults.fail_429_rate + faults.fail_5xx_rate:
                return delay, 500
            return delay, None
