"""`dashboard import FILE.csv` on a terminal: a plain progress bar, then a result table."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from dashboard.bulk_import import (
    ImportContext,
    ImportFileError,
    ImportRow,
    RowResult,
    import_prepare,
    import_run,
)
from dashboard.db import Database, create_db_engine
from dashboard.models import ImportJob, Staff
from dashboard.services.workos import SDKWorkOSGateway
from dashboard.settings import Settings
from dashboard.staff import staff_by_email

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1


class ProgressBar:
    """`[#####.....]  12/40 rows  created 10  existing 2  failed 0`, redrawn in place with \\r."""

    def __init__(self, stream: TextIO, total: int, done: int = 0) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.done = done
        self.counts: Counter[str] = Counter()
        self._drawn_at = 0.0

    def row(self, result: RowResult) -> None:
        self.done += 1
        self.counts[result.status] += 1
        if time.monotonic() - self._drawn_at >= REDRAW_SECONDS:
            self.draw()

    def draw(self, final: bool = False) -> None:
        self._drawn_at = time.monotonic()
        filled = int(BAR_WIDTH * min(self.done, self.total) / self.total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        counts = "  ".join(
            f"{status} {self.counts[status]}"
            for status in ("created", "existing", "failed")
        )
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} rows  {counts}")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def result_table(results: list[dict[str, object]]) -> str:
    """The per-row results as aligned text columns."""
    header = ("line", "external id", "status", "message")
    rows = [
        (str(r["line"]), str(r["external_id"]), str(r["status"]), str(r["message"]))
        for r in results
    ]
    widths = [
        max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
        for i in range(3)
    ]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return "\n".join(lines)


def import_from_terminal(
    settings: Settings,
    path: Path,
    *,
    skip_invalid: bool,
    as_email: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run an import as the CLI does; 0 when every row is created or existing."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        err.write(f"error: cannot read {path}: {exc.strerror}\n")
        return 2
    db = Database(create_db_engine(settings.database_url))
    try:
        staff: Staff | None = None
        if as_email:
            with db.session() as session:
                staff = staff_by_email(session, as_email)
            if staff is None:
                err.write(
                    f"error: {as_email} is not staff: add them with `dashboard staff add`, or leave out --as to import as the system\n"
                )
                return 2
        try:
            job, rows = import_prepare(
                db, data, path.name, staff=staff, skip_invalid=skip_invalid
            )
        except ImportFileError as exc:
            err.write(f"error: {exc}\n")
            return 2
        assert job.id is not None
        if job.status != "rejected":
            asyncio.run(_run(db, settings, staff, job, rows, err))
        with db.session() as session:
            final = session.get(ImportJob, job.id)
            assert final is not None
    finally:
        db.dispose()

    out.write(result_table(final.results) + "\n")
    counts = Counter(str(r["status"]) for r in final.results)
    summary = ", ".join(f"{counts[s]} {s}" for s in sorted(counts))
    if final.status == "rejected":
        out.write(
            f"Nothing was created: {counts['invalid']} invalid row(s). Fix them, or run again with --skip-invalid.\n"
        )
        return 1
    out.write(
        f"Import {final.id} {final.status}: {summary}. Results: {settings.url_for_path(f'/orgs/import/{final.id}')}\n"
    )
    return 0 if counts["invalid"] + counts["failed"] == 0 else 1


async def _run(
    db: Database,
    settings: Settings,
    staff: Staff | None,
    job: ImportJob,
    rows: list[ImportRow],
    err: TextIO,
) -> None:
    assert job.id is not None
    bar = ProgressBar(err, job.total_rows, job.done_rows)
    bar.draw()
    workos = SDKWorkOSGateway.from_settings(settings)
    try:
        await import_run(
            ImportContext(
                db=db,
                settings=settings,
                workos=workos,
                staff=staff,
                job_id=job.id,
                on_row=bar.row,
            ),
            rows,
        )
    finally:
        await workos.close()
        bar.draw(final=True)
