"""Runs an ASGI app under uvicorn on a background thread: for `dashboard dev` and tests."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class ServerStartError(RuntimeError):
    """The server did not come up (port taken, app failed to start)."""


class ThreadedServer:
    """A real uvicorn server on loopback; `port=0` picks a free port, read back from `url`.

    Use as a context manager, or `start()` / `stop()`. Signal handling stays
    with the main thread, so Ctrl-C reaches whoever started us.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="auto",
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name=f"uvicorn-{port}", daemon=True
        )
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        # The access log prints raw paths, and portal session ids live in paths.
        logging.getLogger("uvicorn.access").disabled = True
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServerStartError(
                    f"server on {self.host}:{self.port} failed to start"
                )
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"server on {self.host}:{self.port} not up after {timeout}s"
                )
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
