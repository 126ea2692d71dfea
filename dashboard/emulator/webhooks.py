"""Delivers emulator events to a webhook URL, signed as WorkOS signs them.

The `WorkOS-Signature` header is `t=<unix ms>, v1=<hex HMAC-SHA256 of "t.body">`,
which is what the SDK's `verify_event` checks; signing uses the real time, not
the emulator's movable clock, because the receiver compares it to its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "WorkOS-Signature"
MAX_DELIVERIES_KEPT = 1000


def signature_header(body: bytes, secret: str, timestamp_ms: int | None = None) -> str:
    """The header value the SDK's webhook verification accepts for `body`."""
    issued = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    digest = hmac.new(
        secret.encode(), f"{issued}.{body.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={issued}, v1={digest}"


@dataclass(frozen=True)
class WebhookTarget:
    """Where events go; both parts must be set for any delivery."""

    url: str | None = None
    secret: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.secret)

    def public(self) -> dict[str, Any]:
        return {"url": self.url, "secret_set": bool(self.secret)}


class WebhookSender:
    """Posts each event once, in order, and remembers what happened for the control API."""

    def __init__(self, target: WebhookTarget, timeout: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._initial = target
        self._target = target
        self._timeout = timeout
        self._pending: list[dict[str, Any]] = []
        self._deliveries: deque[dict[str, Any]] = deque(maxlen=MAX_DELIVERIES_KEPT)

    @property
    def target(self) -> WebhookTarget:
        with self._lock:
            return self._target

    def set_target(self, target: WebhookTarget) -> None:
        with self._lock:
            self._target = target

    def reset(self) -> None:
        with self._lock:
            self._target = self._initial
            self._pending.clear()
            self._deliveries.clear()

    def enqueue(self, event: dict[str, Any]) -> None:
        """Called by the store for each event; delivery happens on the next `flush`."""
        with self._lock:
            if self._target.enabled:
                self._pending.append(event)

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._deliveries)

    async def flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            target = self._target
        if not events or not target.enabled:
            return
        assert target.url is not None and target.secret is not None
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            for event in events:
                await self._deliver(client, target.url, target.secret, event)

    async def _deliver(
        self, client: httpx.AsyncClient, url: str, secret: str, event: dict[str, Any]
    ) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        record: dict[str, Any] = {
            "event_id": event["id"],
            "event": event["event"],
            "url": url,
            "status_code": None,
            "error": None,
        }
        try:
            response = await client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature_header(body, secret),
                },
            )
            record["status_code"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = type(exc).__name__
        with self._lock:
            self._deliveries.append(record)
        if record["status_code"] is not None and record["status_code"] < 300:
            log.info(
                "emulator_webhook_delivered",
                extra={"event_id": event["id"], "event": event["event"]},
            )
        else:
            log.warning(
                "emulator_webhook_failed",
                extra={
                    "event_id": event["id"],
                    "event": event["event"],
                    "status_code": record["status_code"],
                    "error": record["error"],
                },
            )
