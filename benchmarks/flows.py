"""Benchmarks that drive a whole feature: the IT admin's setup click and the invite outbox."""

from __future__ import annotations

from benchmarks.report import Report, Row


def bench_setup_click(report: Report, database_url: str) -> None:
    report.add(
        Row(
            "setup click (signed-in admin → 303)",
            "p99 < 10 ms app time",
            "not measured",
            note="setup flow not landed yet",
        )
    )


def bench_outbox(report: Report) -> None:
    report.add(
        Row(
            "1,000 invite emails via outbox → aiosmtpd",
            "≥ 200 emails/s",
            "not measured",
            note="outbox not landed yet",
        )
    )
