"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending
its next request as soon as the previous answer is read.

It runs as its own process (`python -m benchmarks.loadgen ...`), pinned to a
CPU the server is not on, and reports its own CPU time so a reader can tell a
busy generator from a slow server. Raw asyncio streams rather than an HTTP
client library: on this 2-core machine httpx would cap the measurement at
its own speed well below the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    """What one run measured; latencies in milliseconds."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    generator_cpu_seconds: float
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def generator_cpu_share(self) -> float:
        """Share of one core the generator used while measuring."""
        return self.generator_cpu_seconds / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


class ResponseError(Exception):
    """The server closed the connection or sent something that is not HTTP/1.1."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise ResponseError(lines[0][:80].decode("latin-1")) from None
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length) if length else b""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def build_request(
    method: str, host: str, path: str, headers: dict[str, str], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    stop_at: float,
    measure_from: float,
    latencies: list[float],
    statuses: dict[str, int],
    counts: list[int],
    limit: int | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = offset
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at or (limit is not None and counts[0] >= limit):
                return
            counts[0] += 1
            payload = requests[index % len(requests)]
            index += 1
            started = time.perf_counter()
            try:
                writer.write(payload)
                status, _ = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ResponseError):
                counts[1] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            finished = time.perf_counter()
            if started >= measure_from:
                latencies.append((finished - started) * 1000)
                key = str(status)
                statuses[key] = statuses.get(key, 0) + 1
    finally:
        writer.close()


async def run_load(
    url: str,
    paths: list[str],
    *,
    connections: int = 16,
    duration: float = 5.0,
    warmup: float = 1.0,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes = b"",
    limit: int | None = None,
) -> LoadResult:
    """Drive `url` + each path in turn; only answers started after `warmup` count."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    prepared = [
        build_request(method, f"{host}:{port}", path, headers or {}, body)
        for path in paths
    ]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counts = [0, 0]
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(
        *(
            _connection(
                host,
                port,
                prepared,
                i,
                stop_at,
                measure_from,
                latencies,
                statuses,
                counts,
                limit,
            )
            for i in range(connections)
        )
    )
    ended = time.perf_counter()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    seconds = (
        max(1e-9, min(ended, stop_at) - measure_from)
        if limit is None
        else ended - start
    )
    ordered = sorted(latencies)
    total_seconds = ended - start
    return LoadResult(
        requests=len(latencies),
        errors=counts[1],
        seconds=round(seconds, 3),
        rps=round(len(latencies) / seconds, 1),
        p50_ms=round(percentile(ordered, 0.50), 2),
        p90_ms=round(percentile(ordered, 0.90), 2),
        p99_ms=round(percentile(ordered, 0.99), 2),
        max_ms=round(ordered[-1], 2) if ordered else 0.0,
        generator_cpu_seconds=round(cpu * seconds / total_seconds, 3),
        statuses=statuses,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    parser.add_argument("url")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    result = asyncio.run(
        run_load(
            args.url,
            args.paths,
            connections=args.connections,
            duration=args.duration,
            warmup=args.warmup,
            headers=headers,
            method=args.method,
            body=args.body.encode(),
            limit=args.limit,
        )
    )
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
