"""Bulk onboarding on the staff pages: upload a CSV, watch it run, download the results."""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.auth import staff_required
from dashboard.bulk_import import (
    ImportContext,
    ImportFileError,
    ImportRow,
    import_prepare,
    import_run,
    results_csv,
)
from dashboard.htmx import htmx_details, vary_on_htmx
from dashboard.models import ImportJob, Staff
from dashboard.runtime import Runtime, runtime

log = logging.getLogger(__name__)


@staff_required()
async def import_page(request: Request) -> Response:
    return runtime(request).templates.render(request, "imports/new.html", {"error": ""})


@staff_required()
async def import_submit(request: Request) -> Response:
    """Validate the whole file now; create in a background task tracked by the job row."""
    rt = runtime(request)
    staff: Staff = request.state.staff
    async with request.form() as form:
        upload = form.get("file")
        skip_invalid = form.get("skip_invalid") == "yes"
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _form_error(request, "Choose a CSV file to upload.")
        filename = upload.filename
        data = await upload.read()

    try:
        job, rows = import_prepare(
            rt.db, data, filename, staff=staff, skip_invalid=skip_invalid
        )
    except ImportFileError as exc:
        return _form_error(request, str(exc))
    assert job.id is not None
    if job.status != "rejected":
        _start(rt, ImportContext(rt.db, rt.settings, rt.workos, staff, job.id), rows)

    return RedirectResponse(f"/orgs/import/{job.id}", status_code=303)


def _form_error(request: Request, error: str) -> Response:
    return runtime(request).templates.render(
        request, "imports/new.html", {"error": error}, status_code=400
    )


def _start(rt: Runtime, context: ImportContext, rows: list[ImportRow]) -> None:
    task = asyncio.create_task(import_run(context, rows))
    rt.background.append(task)
    task.add_done_callback(lambda done: _finished(rt, done))


def _finished(rt: Runtime, task: asyncio.Task[object]) -> None:
    if task in rt.background:
        rt.background.remove(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("import_job_crashed", exc_info=task.exception())


def _job(request: Request) -> ImportJob:
    job_id = request.path_params["job_id"]
    with runtime(request).db.session() as session:
        job = session.get(ImportJob, job_id)
    if job is None:
        raise HTTPException(404)
    return job


@staff_required()
async def import_job_page(request: Request) -> Response:
    """The job's progress; htmx polls the fragment until the job is over."""
    rt = runtime(request)
    job = _job(request)

    template = (
        "imports/_job.html"
        if htmx_details(request).wants_fragment
        else "imports/job.html"
    )
    counts: dict[str, int] = {}
    for result in job.results:
        counts[str(result["status"])] = counts.get(str(result["status"]), 0) + 1
    context = {
        "job": job,
        "counts": counts,
        "running": job.status in ("pending", "running"),
    }
    return vary_on_htmx(rt.templates.render(request, template, context))


@staff_required()
async def import_job_results(request: Request) -> Response:
    job = _job(request)

    body = results_csv(job.results)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{job.id}-results.csv"'
        },
    )
