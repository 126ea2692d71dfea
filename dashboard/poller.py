"""The WorkOS events poller: for deployments that cannot receive webhooks.

It pages through WorkOS's events API (oldest first, `after` the stored
cursor) and applies each page in one transaction together with the new
cursor, so a crash between pages neither skips nor repeats an event. Several
workers may run it: the page is only applied if the cursor row
still holds the cursor the page was fetched with (a compare-and-set UPDATE
in the same transaction); the `workos_event` primary key guards each event
besides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
import workos
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from dashboard.db import Database
from dashboard.events import (
    HANDLED_EVENTS,
    Event,
    EventRejected,
    apply_workos_event,
    insert_ignoring_duplicate,
)
from dashboard.models import KeyValue, utcnow
from dashboard.services.workos import translate
from dashboard.settings import Settings

log = logging.getLogger(__name__)

CURSOR_KEY = "workos_events_cursor"
PAGE_SIZE = 100
POLL_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    """Oldest first, as plain JSON-shaped dicts."""


class EventSource(Protocol):
    """Where events come from: WorkOS's `GET /events`."""

    async def events_after(
        self, cursor: str | None, names: Sequence[str], limit: int
    ) -> EventPage:
        """Events named `names` that come after event id `cursor` (all when None), oldest first."""
        ...

    async def close(self) -> None:
        """Release connections; the source is not used afterwards."""
        ...


class SDKEventSource:
    """`EventSource` through the SDK's async client (`events.list_events`)."""

    def __init__(self, settings: Settings) -> None:
        self._client = workos.AsyncWorkOSClient(
            api_key=settings.workos_api_key.reveal(),
            client_id=settings.workos_client_id,
            base_url=settings.workos_base_url,
            request_timeout=15,
        )
        self._support_email = settings.support_email

    async def events_after(
        self, cursor: str | None, names: Sequence[str], limit: int
    ) -> EventPage:
        try:
            page = await self._client.events.list_events(
                events=list(names), after=cursor, order="asc", limit=limit
            )
        except Exception as exc:
            raise translate(exc, support_email=self._support_email) from None
        return EventPage(events=[_as_dict(item) for item in page.data])

    async def close(self) -> None:
        await self._client.close()


def _as_dict(item: Any) -> Event:
    data: Event = item.to_dict()
    return data


class EventPoller:
    """Applies WorkOS events page by page, resuming from the cursor in `key_value`."""

    def __init__(
        self,
        db: Database,
        source: EventSource,
        *,
        names: Sequence[str] = HANDLED_EVENTS,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.db = db
        self.source = source
        self.names = tuple(names)
        self.page_size = page_size

    def cursor(self) -> str | None:
        with self.db.session() as session:
            row = session.get(KeyValue, CURSOR_KEY)
            return row.value if row is not None and row.value else None

    def _claim_page(self, session: Session, cursor: str | None, last: str) -> bool:
        """Move the cursor from `cursor` to `last` if nobody else moved it first.

        A compare-and-set UPDATE: it locks the row (PostgreSQL) or the database
        (SQLite) until this transaction, which also applies the page, ends.
        """
        insert_ignoring_duplicate(
            session, KeyValue, key=CURSOR_KEY, value="", updated_at=utcnow()
        )
        moved = session.execute(
            sa.update(KeyValue)
            .where(
                col(KeyValue.key) == CURSOR_KEY, col(KeyValue.value) == (cursor or "")
            )
            .values(value=last, updated_at=utcnow())
            .returning(col(KeyValue.key))
        ).first()
        return moved is not None

    async def poll_once(self) -> int:
        """Apply one page; returns how many events it held (0 when caught up or raced)."""
        cursor = self.cursor()
        page = await self.source.events_after(cursor, self.names, self.page_size)
        if not page.events:
            return 0

        last = str(page.events[-1].get("id") or "")[:64]
        applied = 0
        with self.db.session() as session:
            if not last or not self._claim_page(session, cursor, last):
                log.info("workos_poller_raced")
                session.rollback()
                return 0
            for event in page.events:
                try:
                    result = apply_workos_event(session, event, source="poller")
                except EventRejected as exc:
                    log.warning(
                        "workos_poller_event_rejected", extra={"reason": exc.reason}
                    )
                    continue
                applied += 0 if result.duplicate else 1

        log.info(
            "workos_poller_page_applied",
            extra={"events": len(page.events), "applied": applied, "cursor": last},
        )
        return len(page.events)

    async def poll_until_caught_up(self, max_pages: int = 100) -> int:
        """Apply pages until one comes back short; returns the events seen."""
        seen = 0
        for _ in range(max_pages):
            count = await self.poll_once()
            seen += count
            if count < self.page_size:
                break
        return seen

    async def run_forever(self, interval: float = POLL_INTERVAL_SECONDS) -> None:
        """Poll until cancelled; a failing round is logged and retried after `interval`."""
        try:
            await self._loop(interval)
        finally:
            await self.source.close()

    async def _loop(self, interval: float) -> None:
        while True:
            try:
                await self.poll_until_caught_up()
            except asyncio.CancelledError:
                raise
            except OperationalError as exc:
                # SQLite: another worker wrote first; the next round starts afresh.
                log.warning("workos_poller_busy", extra={"error": type(exc).__name__})
            except Exception as exc:
                log.error(
                    "workos_poller_round_failed",
                    extra={"error": type(exc).__name__, "detail": str(exc)[:200]},
                )
            await asyncio.sleep(interval)
