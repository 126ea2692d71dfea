"""One running emulator: its store, fault plan and webhook sender, shared by every route."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from dashboard.emulator.faults import FaultPlan
from dashboard.emulator.store import EmulatorStore
from dashboard.emulator.webhooks import WebhookSender


@dataclass
class Emulator:
    """What tests and `dashboard dev` hold to steer the emulator from Python."""

    store: EmulatorStore
    faults: FaultPlan
    webhooks: WebhookSender
    api_keys: tuple[str, ...]
    client_id: str
    public_base_url: str | None = None
    default_return_url: str | None = None
    idempotent_answers: dict[tuple[str, str], tuple[int, bytes]] = field(
        default_factory=dict
    )
    """Successful POST answers by (Idempotency-Key, path), replayed as WorkOS does."""

    def reset(self) -> None:
        """Empty state, faults and webhook target as at start: a clean slate per test."""
        self.store.reset()
        self.faults.reset()
        self.webhooks.reset()
        self.idempotent_answers.clear()


def emulator_of(request: Request) -> Emulator:
    value: Emulator = request.app.state.emulator
    return value
