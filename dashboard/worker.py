"""Background loops (outbox sender, WorkOS event poller, reconciling, reminders, housekeeping), run in the app or as `dashboard worker`.

Each loop is a named coroutine factory; `background_loops` lists them, the
app's lifespan starts them as tasks when `run_outbox_in_process` is on, and
`worker_run` runs them in a process of their own until interrupted. To add a
loop, append it in `background_loops`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dashboard.db import Database, create_db_engine
from dashboard.outbox import OutboxSender
from dashboard.poller import EventPoller
from dashboard.ratelimit import rate_limit_prune_forever
from dashboard.reconcile import reconcile_forever
from dashboard.reminders import reminders_run_forever
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
    loops.append(BackgroundLoop("reconcile", lambda: reconcile_forever(db, workos)))
    loops.append(
        BackgroundLoop("rate_limit_prune", lambda: rate_limit_prune_forever(db))
    )
    if settings.reminder_every_days > 0:
        days = settings.reminder_every_days
        loops.append(
            BackgroundLoop("reminders", lambda: reminders_run_forever(db, days))
        )
    return loops


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
