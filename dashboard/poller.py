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

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from dashboard.db import Database
from dashboard.events import (
    HANDLED_EVENTS,
    EventRejected,
    apply_workos_event,
    insert_ignoring_duplicate,
)
from dashboard.models import KeyValue, utcnow
from dashboard.services.workos import WorkOSGateway

log = logging.getLogger(__name__)

CURSOR_KEY = "workos_events_cursor"
PAGE_SIZE = 100
POLL_INTERVAL_SECONDS = 10.0


class EventPoller:
    """Applies WorkOS events page by page, resuming from the cursor in `key_value`."""

    def __init__(
        self,
        db: Database,
        workos: WorkOSGateway,
        *,
        names: Sequence[str] = HANDLED_EVENTS,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.db = db
        self.workos = workos
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
        events = await self.workos.list_events(
            after=cursor, names=self.names, limit=self.page_size
        )
        if not events:
            return 0

        last = str(events[-1].get("id") or "")[:64]
        applied = 0
        with self.db.session() as session:
            if not last or not self._claim_page(session, cursor, last):
                log.info("workos_poller_raced")
                session.rollback()
                return 0
            for event in events:
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
            extra={"events": len(events), "applied": applied, "cursor": last},
        )
        return len(events)

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
