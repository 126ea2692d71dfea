"""Bulk onboarding from a CSV file: validate every row, then create with bounded concurrency.

The rules are the ones of the "New organization" form (dashboard.validation
and dashboard.organizations), so a row is created exactly as staff would
create it by hand. Every row needs an external id: it is what makes a re-run
of the same file finish what is missing and create nothing twice.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dashboard.db import Database
from dashboard.invites import InviteError, invite_create
from dashboard.models import ImportJob, Organization, SetupLink, Staff, utcnow
from dashboard.organizations import (
    OrganizationInvalid,
    domains_claimed,
    organization_create,
)
from dashboard.services.workos import WorkOSFailure, WorkOSGateway
from dashboard.settings import FEATURES, Settings
from dashboard.validation import EmailAddress, organization_input

log = logging.getLogger(__name__)

CONCURRENCY = 4
"""Rows created at once; WorkOS rate limits make more pointless."""
ROW_ATTEMPTS = 5
"""Tries per row when WorkOS answers 429 or 5xx after the SDK's own retries."""
MAX_BACKOFF_SECONDS = 30.0
MAX_ROWS = 5000
RESULT_COLUMNS = ("line", "external_id", "name", "status", "message")
STATUSES = ("created", "existing", "invalid", "failed")

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "organization", "organizationname", "orgname", "company"),
    "external_id": ("externalid", "external", "extid", "crmid", "customerid"),
    "domains": ("domains", "domain", "organizationdomains"),
    "features": ("features", "feature", "intents", "portalfeatures"),
    "emails": (
        "itadminemails",
        "itadminemail",
        "itadmins",
        "itadmin",
        "adminemails",
        "emails",
        "email",
        "invitees",
    ),
    "send_invite": ("sendinvite", "sendinvites", "invite", "send"),
}
"""Our field → header spellings accepted, compared without case, spaces or punctuation."""

HEADER_NAMES = {
    "name": "name",
    "external_id": "external id",
    "domains": "domains",
    "features": "features",
    "emails": "IT admin emails",
    "send_invite": "send invite",
}

_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}
_FEATURE_SPLIT = re.compile(r"[,;|\n]+")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); the message says how to fix it."""


@dataclass(frozen=True)
class ImportRow:
    """One valid row, parsed."""

    line: int
    name: str
    external_id: str
    domains: list[str]
    features: list[str]
    emails: list[EmailAddress]
    send_invite: bool


@dataclass(frozen=True)
class RowResult:
    line: int
    external_id: str
    name: str
    status: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportPlan:
    """What a file holds: rows to create, rows already done, rows that cannot be used."""

    rows: list[ImportRow] = field(default_factory=list)
    existing: list[RowResult] = field(default_factory=list)
    invalid: list[RowResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.existing) + len(self.invalid)


def _header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def _columns(header: Sequence[str]) -> dict[str, int]:
    spellings = {s: ours for ours, names in COLUMNS.items() for s in names}
    found: dict[str, int] = {}
    unknown: list[str] = []
    for index, title in enumerate(header):
        key = _header_key(title)
        if not key:
            continue
        ours = spellings.get(key)
        if ours is None:
            unknown.append(title.strip())
        elif ours in found:
            raise ImportFileError(
                f"Line 1: two columns mean {HEADER_NAMES[ours]!r}; keep one."
            )
        else:
            found[ours] = index
    expected = ", ".join(HEADER_NAMES.values())
    if unknown:
        raise ImportFileError(
            f"Line 1: unknown column {', '.join(repr(u) for u in unknown)}; the columns are: {expected}."
        )
    missing = [HEADER_NAMES[c] for c in ("name", "external_id") if c not in found]
    if missing:
        raise ImportFileError(
            f"Line 1: the header needs the column(s) {', '.join(missing)}; the columns are: {expected}."
        )
    return found


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text: save it as “CSV UTF-8” and upload it again."
        ) from None


def _dialect(text: str) -> type[csv.Dialect]:
    """Spreadsheet CSV with whichever of `,`, `;` or tab the file uses.

    Only the delimiter is sniffed: letting the sniffer pick the quote
    character too made a stray apostrophe swallow the lines after it.
    """
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        return csv.excel

    class Spreadsheet(csv.excel):
        pass

    Spreadsheet.delimiter = delimiter
    return Spreadsheet


def _feature_values(cell: str) -> list[str]:
    by_name = {label.casefold(): intent for intent, label in FEATURES.items()}
    values = []
    for part in _FEATURE_SPLIT.split(cell):
        word = part.strip()
        if word:
            values.append(by_name.get(word.casefold(), word.casefold()))
    return values


def import_parse(data: bytes) -> tuple[list[ImportRow], list[RowResult]]:
    """Every row of the file, checked on its own: (valid rows, invalid rows with why).

    Raises ImportFileError when the file as a whole cannot be read.
    """
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError("The file is empty: it needs a header line and rows.")
        columns = _columns(header)
        rows: list[ImportRow] = []
        invalid: list[RowResult] = []
        line = reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) + len(invalid) >= MAX_ROWS:
                raise ImportFileError(
                    f"The file has more than {MAX_ROWS} rows: split it into smaller files."
                )
            row, problem = _row(start, record, columns, len(header))
            if row is not None:
                rows.append(row)
            if problem is not None:
                invalid.append(problem)
    except csv.Error as exc:
        raise ImportFileError(
            f"Line {reader.line_num}: the CSV cannot be read ({exc})."
        ) from None
    if not rows and not invalid:
        raise ImportFileError("The file has a header but no rows.")
    return rows, invalid


def _row(
    line: int, record: list[str], columns: dict[str, int], width: int
) -> tuple[ImportRow | None, RowResult | None]:
    def cell(name: str) -> str:
        index = columns.get(name)
        return record[index] if index is not None and index < len(record) else ""

    external_id = cell("external_id").strip()
    name = cell("name").strip()

    def bad(message: str) -> tuple[None, RowResult]:
        return None, RowResult(line, external_id, name, "invalid", message)

    if len(record) > width and any(c.strip() for c in record[width:]):
        return bad(
            f"{len(record)} cells but the header has {width} columns; quote cells that contain the delimiter"
        )
    send_raw = cell("send_invite").strip().casefold()
    problems: list[str] = []
    if send_raw not in _YES | _NO:
        problems.append(
            f"send invite: “{cell('send_invite').strip()}” is neither yes nor no"
        )
    send_invite = send_raw in _YES
    data = organization_input(
        name=cell("name"),
        external_id=cell("external_id"),
        domains=cell("domains"),
        emails=cell("emails"),
        features=_feature_values(cell("features")),
    )
    for key, message in data.errors.items():
        problems.append(f"{_field_words(key)}: {message}")
    if not data.external_id and "external_id" not in data.errors:
        problems.append(
            "external id: required in an import, so running the file again never creates the organization twice"
        )
    if send_invite and not data.emails and "emails" not in data.errors:
        problems.append(
            "IT admin emails: send invite is yes, so enter at least one address"
        )
    if send_invite and not data.features and "features" not in data.errors:
        problems.append(
            "features: send invite is yes, so pick at least one feature to set up"
        )
    if problems:
        return bad("; ".join(problems))
    return ImportRow(
        line=line,
        name=data.name,
        external_id=data.external_id,
        domains=data.domains,
        features=data.features,
        emails=data.emails,
        send_invite=send_invite,
    ), None


def _field_words(key: str) -> str:
    return HEADER_NAMES.get(key, key.replace("_", " "))


def import_plan(
    session: Session, rows: list[ImportRow], invalid: list[RowResult]
) -> ImportPlan:
    """Check rows against each other and the database: duplicates, domains taken, already done."""
    plan = ImportPlan(invalid=list(invalid))
    ids = [row.external_id for row in rows]
    existing = (
        {
            org.external_id: org
            for org in session.exec(
                select(Organization).where(col(Organization.external_id).in_(ids))
            )
        }
        if ids
        else {}
    )
    claimed = domains_claimed(session, [d for row in rows for d in row.domains])
    first_id: dict[str, int] = {}
    first_domain: dict[str, int] = {}
    for row in rows:
        problems: list[str] = []
        earlier = first_id.setdefault(row.external_id, row.line)
        if earlier != row.line:
            problems.append(
                f"external id “{row.external_id}” is also on line {earlier}"
            )
        for domain in row.domains:
            seen = first_domain.setdefault(domain, row.line)
            if seen != row.line:
                problems.append(f"domain “{domain}” is also on line {seen}")
        found = existing.get(row.external_id)
        if found is None:
            for domain in row.domains:
                owner = claimed.get(domain)
                if owner is not None:
                    problems.append(
                        f"domain “{domain}” already belongs to {owner.name} (external id {owner.external_id})"
                    )
        if problems:
            plan.invalid.append(
                RowResult(
                    row.line, row.external_id, row.name, "invalid", "; ".join(problems)
                )
            )
        elif found is not None and not row.send_invite:
            plan.existing.append(_existing(row, found))
        else:
            plan.rows.append(row)
    plan.invalid.sort(key=lambda r: r.line)
    return plan


def _existing(row: ImportRow, organization: Organization, extra: str = "") -> RowResult:
    message = f"already exists as {organization.name}; left unchanged"
    if organization.deleted_at is not None:
        message += " (it is deleted: restore it on its page)"
    return RowResult(row.line, row.external_id, row.name, "existing", message + extra)


def import_job_start(
    session: Session, filename: str, plan: ImportPlan, *, staff: Staff | None
) -> ImportJob:
    """The job row that tracks a run; the results of rows already settled go in at once."""
    job = ImportJob(
        filename=filename[:255],
        status="pending",
        total_rows=plan.total,
        done_rows=len(plan.existing) + len(plan.invalid),
        results=[
            r.as_dict()
            for r in sorted(plan.existing + plan.invalid, key=lambda r: r.line)
        ],
        created_by_id=staff.id if staff is not None else None,
    )
    session.add(job)
    session.flush()
    log.info(
        "import_job_created",
        extra={
            "import_job_id": job.id,
            "rows": plan.total,
            "invalid": len(plan.invalid),
        },
    )
    return job


def import_job_reject(session: Session, job: ImportJob) -> None:
    """Nothing is created: the file has invalid rows and skipping them was not asked for."""
    job.status = "rejected"
    job.finished_at = utcnow()
    session.add(job)


def import_prepare(
    db: Database,
    data: bytes,
    filename: str,
    *,
    staff: Staff | None,
    skip_invalid: bool = False,
) -> tuple[ImportJob, list[ImportRow]]:
    """Validate the whole file and record the job; the rows left to create come back.

    With invalid rows and no `skip_invalid`, the job is "rejected" and no row
    comes back: nothing is created. Raises ImportFileError for an unreadable file.
    """
    rows, invalid = import_parse(data)
    with db.session() as session:
        plan = import_plan(session, rows, invalid)
        job = import_job_start(session, filename, plan, staff=staff)
        if plan.invalid and not skip_invalid:
            import_job_reject(session, job)
            return job, []
    return job, plan.rows


@dataclass
class ImportContext:
    db: Database
    settings: Settings
    workos: WorkOSGateway
    staff: Staff | None
    job_id: int
    on_row: Callable[[RowResult], None] | None = None
    concurrency: int = CONCURRENCY
    sleep: Callable[[float], Any] = asyncio.sleep


async def import_run(
    context: ImportContext, rows: Sequence[ImportRow]
) -> list[RowResult]:
    """Create every row, at most `concurrency` at once; results are stored in the job."""
    with context.db.session() as session:
        session.execute(
            sa.update(ImportJob)
            .where(col(ImportJob.id) == context.job_id)
            .values(status="running")
        )
    semaphore = asyncio.Semaphore(context.concurrency)
    results: list[RowResult] = []
    status = "failed"
    try:

        async def one(row: ImportRow) -> None:
            async with semaphore:
                result = await _row_run(context, row)
            results.append(result)
            with context.db.session() as session:
                session.execute(
                    sa.update(ImportJob)
                    .where(col(ImportJob.id) == context.job_id)
                    .values(done_rows=ImportJob.done_rows + 1)
                )
            if context.on_row is not None:
                context.on_row(result)

        await asyncio.gather(*(one(row) for row in rows))
        status = "finished"
    finally:
        with context.db.session() as session:
            job = session.get(ImportJob, context.job_id)
            if job is not None:
                merged = [*job.results, *(r.as_dict() for r in results)]
                job.results = sorted(merged, key=lambda r: int(r["line"]))
                job.status = status
                job.finished_at = utcnow()
                session.add(job)
        log.info(
            "import_job_finished",
            extra={
                "import_job_id": context.job_id,
                "status": status,
                "rows": len(results),
            },
        )
    return sorted(results, key=lambda r: r.line)


async def _row_run(context: ImportContext, row: ImportRow) -> RowResult:
    def result(status: str, message: str) -> RowResult:
        return RowResult(row.line, row.external_id, row.name, status, message)

    with context.db.session() as session:
        found = session.exec(
            select(Organization).where(Organization.external_id == row.external_id)
        ).first()
    created = found is None
    for attempt in range(1, ROW_ATTEMPTS + 1):
        if found is not None:
            break
        try:
            found = await organization_create(
                context.db, context.workos, _input(row), staff=context.staff
            )
        except OrganizationInvalid as exc:
            if "external_id" in exc.errors:
                created = False  # made meanwhile, by staff or another run
                with context.db.session() as session:
                    found = session.exec(
                        select(Organization).where(
                            Organization.external_id == row.external_id
                        )
                    ).first()
                if found is not None:
                    break
            return result("failed", "; ".join(exc.errors.values()))
        except WorkOSFailure as failure:
            if not failure.retryable or attempt == ROW_ATTEMPTS:
                return result("failed", failure.staff_message)
            delay = failure.retry_after
            if delay is None:
                delay = min(2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            log.warning(
                "import_row_retry",
                extra={
                    "import_job_id": context.job_id,
                    "line": row.line,
                    "kind": failure.kind,
                    "delay": delay,
                },
            )
            await context.sleep(min(delay, MAX_BACKOFF_SECONDS))
    assert found is not None and found.id is not None

    invited = ""
    if row.send_invite:
        try:
            invited = _invite(context, row, found.id)
        except InviteError as exc:
            return result(
                "failed",
                f"the organization exists, but the invite was not made: {exc.message} Run the file again to retry.",
            )
    if created:
        return result("created", "created" + invited)
    return _existing(row, found, invited)


def _input(row: ImportRow) -> Any:
    return organization_input(
        name=row.name,
        external_id=row.external_id,
        domains="\n".join(row.domains),
        emails="\n".join(e.address for e in row.emails),
        features=row.features,
    )


def _invite(context: ImportContext, row: ImportRow, organization_id: int) -> str:
    """Invite the row's IT admins unless the organization already has a setup link.

    Any link, even revoked: a re-run must not replace an invite staff made or ended.
    """
    with context.db.session() as session:
        earlier = session.exec(
            select(SetupLink.id).where(SetupLink.organization_id == organization_id)
        ).first()
        if earlier is not None:
            return "; it already had a setup link, so no new invite"
        organization = session.get(Organization, organization_id)
        assert organization is not None
        invite_create(
            session,
            context.settings,
            organization=organization,
            features=row.features,
            emails=[e.address for e in row.emails],
            staff=context.staff,
        )
    return f"; invite queued for {len(row.emails)} address{'es' if len(row.emails) != 1 else ''}"


def results_csv(results: Sequence[dict[str, Any]]) -> str:
    """The per-row results as CSV, for download."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for result in results:
        writer.writerow({k: _cell(result.get(k, "")) for k in RESULT_COLUMNS})
    return out.getvalue()


def _cell(value: Any) -> str:
    """Neutralise cells a spreadsheet would run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
