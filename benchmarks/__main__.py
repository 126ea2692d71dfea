"""`python -m benchmarks` (`make bench`): measure the targets of issue 9, print a table,
write bench-results/latest.md.

Each throughput figure is the median of several runs, each run paired in the
same round with the baseline (a bare Starlette route rendering
templates/base.html), so a busy machine moves both. Servers run pinned to
CPU 0 and the load generator to CPU 1 (PostgreSQL floats).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import flows
from benchmarks.loadgen import LoadResult
from benchmarks.report import Report, Row, format_table, median_result, write_report
from benchmarks.seed import bench_staff_id, postgres_bench_database, seed
from benchmarks.stack import (
    RESULTS,
    free_port,
    load,
    rss_megabytes,
    running,
    staff_session_cookie,
    target_command,
)
from benchmarks.target import BENCH_SECRET

log = logging.getLogger("benchmarks")

HOME_PATHS = ["/orgs"]
SEARCH_PATHS = [
    "/orgs?q=acme",
    "/orgs?q=ext-004217",
    "/orgs?q=it.admin77",
    "/orgs?q=initech-umbrella",
    "/orgs?q=wonka",
]
"""Name prefix, external id, invitee email and domain: each kind of search staff run."""

MEMORY_CAP_SECONDS = 240.0
"""A slow page must not stall the whole run: each half stops here, short of its count."""

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _ok_share(result: LoadResult, expected: str = "200") -> float:
    total = sum(result.statuses.values())
    return result.statuses.get(expected, 0) / total if total else 0.0


def bench_pages(
    report: Report, label: str, database_url: str, rounds: int, duration: float
) -> None:
    sys.stderr.write(f"seeding {label} ...\n")
    seconds = seed(database_url)
    report.notes.append(
        f"{label}: seed {'reused' if not seconds else f'loaded in {seconds:.0f} s'} "
        "(100,000 organizations, 300,000 domains, ~200,000 features, ~83,000 links and invitees)."
    )
    cookie = staff_session_cookie(BENCH_SECRET, bench_staff_id(database_url))
    headers = {"Cookie": cookie}
    app_port, base_port = free_port(), free_port()
    with (
        running(
            target_command("baseline", base_port), base_port, f"baseline-{label}.log"
        ),
        running(
            target_command("app", app_port, database_url=database_url),
            app_port,
            f"app-{label}.log",
        ),
    ):
        base_url = f"http://127.0.0.1:{base_port}"
        app_url = f"http://127.0.0.1:{app_port}"
        probe = load(
            app_url,
            HOME_PATHS + SEARCH_PATHS,
            connections=1,
            duration=0.5,
            warmup=0,
            headers=headers,
            limit=len(SEARCH_PATHS) + 1,
        )
        if _ok_share(probe) < 1.0:
            for name in ("staff home /orgs", "search /orgs?q="):
                report.add(
                    Row(
                        f"{name} ({label})",
                        "≥ 0.5x baseline req/s, p99 < 50 ms",
                        "not measured",
                        note=f"the staff pages answer {probe.statuses} (not landed yet?)",
                    )
                )
            return
        runs: dict[str, list[LoadResult]] = {"baseline": [], "home": [], "search": []}
        for _ in range(rounds):
            runs["baseline"].append(load(base_url, ["/"], duration=duration))
            runs["home"].append(
                load(app_url, HOME_PATHS, duration=duration, headers=headers)
            )
            runs["search"].append(
                load(app_url, SEARCH_PATHS, duration=duration, headers=headers)
            )
    baseline = median_result(runs["baseline"])
    for key, name in (("home", "staff home /orgs"), ("search", "search /orgs?q=")):
        result = median_result(runs[key])
        ratio = result.rps / baseline.rps if baseline.rps else 0.0
        met = ratio >= 0.5 and result.p99_ms < 50 and _ok_share(result) == 1.0
        report.add(
            Row(
                f"{name} ({label})",
                "≥ 0.5x baseline req/s, p99 < 50 ms",
                f"{result.rps:,.0f} req/s ({ratio:.2f}x), p50 {result.p50_ms} ms, p99 {result.p99_ms} ms",
                f"{baseline.rps:,.0f} req/s, p99 {baseline.p99_ms} ms",
                met,
                f"generator CPU {result.generator_cpu_share:.0%}; runs: "
                + ", ".join(f"{r.rps:,.0f}" for r in runs[key])
                + ("" if _ok_share(result) == 1.0 else f"; statuses {result.statuses}"),
            )
        )


def bench_memory(report: Report, database_url: str, requests: int) -> None:
    """One `dashboard serve` process: RSS after `requests`, then after as many more."""
    port = free_port()
    workdir = RESULTS / "serve-cwd"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": BENCH_SECRET,
        "PUBLIC_URL": "https://dashboard.bench.invalid",
        "WORKOS_API_KEY": "sk_test_bench",
        "WORKOS_CLIENT_ID": "client_bench",
        "WORKOS_BASE_URL": "https://api.workos.invalid",
        "STAFF_OIDC_ISSUER": "https://idp.bench.invalid",
        "STAFF_OIDC_CLIENT_ID": "bench",
        "STAFF_OIDC_CLIENT_SECRET": "bench",
        "SMTP_URL": "smtp://127.0.0.1:9",
    }
    dashboard = str(Path(sys.executable).with_name("dashboard"))
    cookie = staff_session_cookie(BENCH_SECRET, bench_staff_id(database_url))
    paths = (
        HOME_PATHS + SEARCH_PATHS + ["/healthz", "/orgs?state=invited", "/no-such-page"]
    )
    with running(
        [dashboard, "serve", "--port", str(port)],
        port,
        "serve-memory.log",
        env=env,
        cwd=workdir,
    ) as process:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(process.pid, {0})
        url = f"http://127.0.0.1:{port}"
        started = rss_megabytes(process.pid)
        first = load(
            url,
            paths,
            headers={"Cookie": cookie},
            duration=MEMORY_CAP_SECONDS,
            warmup=0,
            limit=requests,
        )
        after_first = rss_megabytes(process.pid)
        second = load(
            url,
            paths,
            headers={"Cookie": cookie},
            duration=MEMORY_CAP_SECONDS,
            warmup=0,
            limit=requests,
        )
        after_second = rss_megabytes(process.pid)
    growth = after_second - after_first
    report.add(
        Row(
            f"`dashboard serve` RSS after {requests:,} requests",
            "< 150 MB",
            f"{after_first:.1f} MB (at start {started:.1f} MB)",
            met=after_first < 150 if first.requests >= requests else None,
            note=f"{first.requests:,} requests made (cap {MEMORY_CAP_SECONDS:.0f} s); statuses {first.statuses}",
        )
    )
    report.add(
        Row(
            f"RSS growth over {requests:,} more",
            "not growing (< 2 MB, allocator noise)",
            f"{growth:+.1f} MB (now {after_second:.1f} MB)",
            met=growth < 2.0 if second.requests >= requests else None,
            note=f"{second.requests:,} requests made; statuses {second.statuses}",
        )
    )


BENCHES = ("pages", "click", "memory", "outbox")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(BENCHES),
        help=f"comma-separated subset of {', '.join(BENCHES)}",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per measured run"
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("POSTGRES_TEST_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--memory-requests", type=int, default=20_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    chosen = {name.strip() for name in args.only.split(",") if name.strip()}
    started = time.perf_counter()
    report = Report()
    RESULTS.mkdir(exist_ok=True)
    sqlite_url = f"sqlite:///{(RESULTS / 'bench-sqlite.db').resolve()}"

    steps: list[tuple[str, Callable[[], None]]] = []
    if "pages" in chosen:
        steps.append(
            (
                "pages on SQLite",
                lambda: bench_pages(
                    report, "SQLite", sqlite_url, args.rounds, args.duration
                ),
            )
        )

        def pages_postgres() -> None:
            try:
                url = postgres_bench_database(args.postgres_url)
            except Exception as exc:
                report.add(
                    Row(
                        "staff pages (PostgreSQL)",
                        "≥ 0.5x baseline req/s, p99 < 50 ms",
                        "not measured",
                        note=f"PostgreSQL unreachable at {args.postgres_url}: {type(exc).__name__}",
                    )
                )
                return
            bench_pages(report, "PostgreSQL", url, args.rounds, args.duration)

        steps.append(("pages on PostgreSQL", pages_postgres))
    if "click" in chosen:
        steps.append(("setup click", lambda: flows.bench_setup_click(report)))
    if "memory" in chosen:
        steps.append(
            (
                "memory",
                lambda: (
                    seed(sqlite_url),
                    bench_memory(report, sqlite_url, args.memory_requests),
                )[-1],
            )
        )
    if "outbox" in chosen:
        steps.append(("outbox", lambda: flows.bench_outbox(report)))

    for title, step in steps:
        sys.stderr.write(f"== {title}\n")
        step()

    text = write_report(report, started)
    sys.stdout.write(format_table(report) + "\n\nWritten to bench-results/latest.md\n")
    del text
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
