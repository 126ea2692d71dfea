"""Starting and stopping the processes a benchmark needs, and the staff session cookie."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from base64 import b64encode
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import itsdangerous

from benchmarks.loadgen import LoadResult
from dashboard.app import SESSION_COOKIE
from dashboard.auth import SESSION_STAFF_ID, SESSION_STAFF_SINCE

RESULTS = Path("bench-results")
SERVER_CPU = 0
GENERATOR_CPU = 1
CSRF_TOKEN = "bench-csrf-token-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"process {process.args!r} exited with {process.returncode}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


@contextlib.contextmanager
def running(
    command: Sequence[str],
    port: int,
    log_name: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends; its output goes to bench-results/<log_name>."""
    RESULTS.mkdir(exist_ok=True)
    log_path = (RESULTS / log_name).resolve()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            list(command),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        try:
            wait_for_port(port, process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def target_command(kind: str, port: int, **options: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.target",
        kind,
        "--port",
        str(port),
        "--cpu",
        str(SERVER_CPU),
    ]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", value]
    return command


def load(
    url: str,
    paths: Sequence[str],
    *,
    connections: int = 16,
    duration: float = 5.0,
    warmup: float = 1.0,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str = "",
    limit: int | None = None,
) -> LoadResult:
    """Run the load generator in its own process on the generator's CPU."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        url,
        *paths,
        "--connections",
        str(connections),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--method",
        method,
        "--cpu",
        str(GENERATOR_CPU),
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    if body:
        command += ["--body", body]
    if limit is not None:
        command += ["--limit", str(limit)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return LoadResult(**json.loads(output.strip().splitlines()[-1]))


def staff_session_cookie(secret_key: str, staff_id: int) -> str:
    """A session cookie for a signed-in staff member, signed as SessionMiddleware signs.

    The benchmark builds it with the app's secret instead of signing in
    through the identity provider: what it measures is the page, and the
    session content (staff id, sign-in time, CSRF token) is exactly what a
    real sign-in leaves behind. The CSRF token is included so rendering a
    page does not rewrite the cookie on every answer.
    """
    session = {
        SESSION_STAFF_ID: staff_id,
        SESSION_STAFF_SINCE: int(time.time()),
        "csrf": CSRF_TOKEN,
    }
    data = b64encode(json.dumps(session).encode())
    signed = itsdangerous.TimestampSigner(secret_key).sign(data).decode()
    return f"{SESSION_COOKIE}={signed}"


def rss_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def as_json(result: LoadResult) -> str:
    return json.dumps(asdict(result))
