"""The benchmark table: rows, medians, and the Markdown written to bench-results/latest.md."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks.loadgen import LoadResult
from benchmarks.stack import RESULTS


@dataclass
class Row:
    benchmark: str
    target: str
    result: str
    baseline: str = ""
    met: bool | None = None
    """None when it could not be measured; `note` says why."""
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        mark = {True: "met", False: "MISSED", None: "n/a"}[row.met]
        sys.stderr.write(f"  {row.benchmark}: {row.result} [{mark}] {row.note}\n")


def median_result(results: Sequence[LoadResult]) -> LoadResult:
    """The run with the median throughput (its own latencies, not a mix of runs)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def format_table(report: Report) -> str:
    lines = [
        "| Benchmark | Target | Result | Baseline (same run) | Met | Notes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.rows:
        met = {True: "yes", False: "**no**", None: "n/a"}[row.met]
        lines.append(
            f"| {row.benchmark} | {row.target} | {row.result} | {row.baseline} | {met} | {row.note} |"
        )
    return "\n".join(lines)


def write_report(report: Report, started: float) -> str:
    header = [
        "# Benchmark results",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}), "
        f"{time.perf_counter() - started:.0f} s. `make bench` regenerates this file.",
        "",
        format_table(report),
        "",
        "Method:",
        "- One uvicorn process per server, pinned to CPU 0; the load generator "
        "(benchmarks/loadgen.py: 16 keep-alive connections, closed loop, raw asyncio "
        "HTTP/1.1) in its own process pinned to CPU 1; its own CPU share is in the notes.",
        "- Each throughput figure is the median of the rounds; every round measures the "
        "baseline (bare Starlette + templates/base.html, no database, no middleware) "
        "right before the app pages.",
        "- Staff pages are requested with a session cookie signed with the app's "
        "SessionMiddleware secret (staff id, sign-in time, CSRF token), as a real "
        "sign-in would leave it; see benchmarks/stack.py.",
        "",
    ]
    if report.notes:
        header += ["Notes:", *[f"- {note}" for note in report.notes], ""]
    text = "\n".join(header)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    return text
