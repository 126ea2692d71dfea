"""Background loops, run inside the app or as `dashboard worker`.

The outbox sender, the WorkOS event poller, reconciling features no event
reports, reminders and housekeeping. Each loop is a named coroutine factory; `background_loops` lists them, the
app's lifespan starts them as tasks when `run_outbox_in_process` is on, and
`worker_run` runs them in a process of their own until interrupted. To add a
loop, append it in `background_loops`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dashboard.db import Database, create_db_engine
from dashboard.outbox import OutboxSender
from dashboard.poller import EventPoller
from dashboard.ratelimit import PRUNE_EVERY_SECONDS, rate_limit_prune_round
from dashboard.reconcile import RECONCILE_EVERY_SECONDS, reconcile_once
from dashboard.reminders import REMINDER_CHECK_SECONDS, reminders_send_due
from dashboard.services.mail import Mailer, mailer_from_settings
from dashboard.services.workos import SDKWorkOSGateway, WorkOSGateway
from dashboard.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackgroundLoop:
    name: str
    run: Callable[[], Awaitable[None]]


def background_loops(
    settings: Settings,
    db: Database,
    *,
    mailer: Mailer | None = None,
    workos: WorkOSGateway,
) -> list[BackgroundLoop]:
    """Every loop a worker runs, in start order; the caller owns `workos`."""
    sender = OutboxSender(settings, db, mailer or mailer_from_settings(settings))
    loops = [BackgroundLoop("outbox", sender.run_forever)]
    poller = EventPoller(db, workos)
    loops.append(BackgroundLoop("workos_events", poller.run_forever))
    loops.append(
        periodic(
            "reconcile", RECONCILE_EVERY_SECONDS, lambda: reconcile_once(db, workos)
        )
    )
    loops.append(
        periodic(
            "rate_limit_prune", PRUNE_EVERY_SECONDS, lambda: rate_limit_prune_round(db)
        )
    )
    if settings.reminder_every_days > 0:
        days = settings.reminder_every_days
        loops.append(
            periodic(
                "reminders",
                REMINDER_CHECK_SECONDS,
                lambda: reminders_send_due(db, days),
            )
        )
    return loops


def periodic(
    name: str, seconds: float, one_round: Callable[[], object]
) -> BackgroundLoop:
    """A loop that runs `one_round` (plain or async) every `seconds`.

    A failed round is logged and the next one tries again, so one bad row or
    a WorkOS outage never stops the loop.
    """

    async def run() -> None:
        while True:
            try:
                result = one_round()
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "background_round_failed",
                    extra={"loop": name, "error": type(exc).__name__},
                )
            await asyncio.sleep(seconds)

    return BackgroundLoop(name, run)


async def _guarded(loop: BackgroundLoop) -> None:
    """Restart a loop that crashed, after a pause, instead of losing it silently."""
    while True:
        try:
            await loop.run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "background_loop_crashed", extra={"loop": loop.name}, exc_info=exc
            )
            await asyncio.sleep(5)


def background_start(loops: list[BackgroundLoop]) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(_guarded(loop), name=loop.name) for loop in loops]
    for loop in loops:
        log.info("background_loop_started", extra={"loop": loop.name})
    return tasks


async def worker_run(settings: Settings) -> None:
    """`dashboard worker`: run every loop until cancelled (Ctrl-C)."""
    db = Database(create_db_engine(settings.database_url))
    workos = SDKWorkOSGateway.from_settings(settings)
    tasks = background_start(background_loops(settings, db, workos=workos))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await workos.close()
        db.dispose()
