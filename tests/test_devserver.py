"""`dashboard dev`: settings wiring, and the whole thing started and stopped for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dashboard.devserver import DEV_PROVIDER_LABEL, DEV_WEBHOOK_SECRET, dev_settings


def _free_block() -> int:
    """A port P with P, P+1 and P+2 free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 2 >= 65535:
            continue
        try:
            for offset in (1, 2):
                with socket.socket() as other:
                    other.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError("no block of three free ports")


def test_dev_settings_wire_the_three_servers(tmp_path: Path) -> None:
    settings = dev_settings(9100, tmp_path)

    assert settings.workos_base_url == "http://127.0.0.1:9102"
    assert settings.workos_webhook_secret.reveal() == DEV_WEBHOOK_SECRET
    assert settings.staff_oidc is not None
    assert settings.staff_oidc.issuer == "http://127.0.0.1:9101"
    assert [(p.issuer, p.label) for p in settings.admin_oidc] == [
        ("http://127.0.0.1:9101", DEV_PROVIDER_LABEL)
    ]
    assert settings.dev_mailbox is True
    assert settings.database_url.startswith("sqlite:///")


def test_dashboard_dev_serves_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_block()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WORKOS_", "EMULATOR_"))
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.cli",
            "dev",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"dashboard dev did not come up:\n{process.communicate()[0]}"
                )
            time.sleep(0.1)
        issuer = httpx.get(
            f"http://127.0.0.1:{port + 1}/.well-known/openid-configuration"
        ).json()["issuer"]
        unauthorized = httpx.get(f"http://127.0.0.1:{port + 2}/organizations")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)

    assert issuer == f"http://127.0.0.1:{port + 1}"
    assert unauthorized.status_code == 401
    assert process.returncode == 0
    for url in (
        f"http://127.0.0.1:{port}/orgs",
        f"http://127.0.0.1:{port + 1}",
        f"http://127.0.0.1:{port + 2}",
    ):
        assert url in output
    assert (tmp_path / "dev.db").exists()
