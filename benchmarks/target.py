"""The servers under test, each run as its own uvicorn process pinned to one CPU.

`python -m benchmarks.target app --database-url URL --port P` serves the real
app from `create_app(settings)`; `... baseline --port P` serves the baseline:
a bare Starlette route rendering the same `templates/base.html` with no
database, no middleware and no session.
"""

from __future__ import annotations

import argparse
import os
from types import SimpleNamespace

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from dashboard.app import create_app
from dashboard.settings import Secret, Settings
from dashboard.templating import build_environment, static_url

BENCH_SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
"""Known to the benchmark so it can sign its own staff session cookie."""


def bench_settings(
    database_url: str,
    *,
    port: int,
    workos_base_url: str = "http://127.0.0.1:9",
    admin_issuer: str = "",
) -> Settings:
    """Production-like settings: not development, outbox not run in process."""
    from dashboard.settings import OIDCProvider

    admin = ()
    if admin_issuer:
        admin = (
            OIDCProvider(
                name="dev",
                issuer=admin_issuer,
                client_id="bench-admin-client",
                client_secret=Secret("bench-admin-secret"),
                label="Sign in",
            ),
        )
    return Settings(
        database_url=database_url,
        secret_key=Secret(BENCH_SECRET),
        public_url=f"http://127.0.0.1:{port}",
        workos_api_key=Secret("sk_test_dev"),
        workos_client_id="client_dev",
        workos_base_url=workos_base_url,
        admin_oidc=admin,
        rate_limit_portal=1_000_000,
        rate_limit_sign_in=1_000_000,
        rate_limit_setup_page=1_000_000,
        development=False,
        run_outbox_in_process=False,
        brand_name="Acme Cloud",
        support_email="help@acme.test",
    )


def baseline_app() -> Starlette:
    environment = build_environment()
    environment.globals["brand"] = {
        "name": "Acme Cloud",
        "logo_url": "",
        "support_email": "help@acme.test",
    }
    template = environment.get_template("base.html")
    staff = SimpleNamespace(email="bench-admin@example.com", role="admin")
    static_url("app.css")

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            template.render(
                csrf_token="x" * 43, staff=staff, messages=[], request=request
            )
        )

    return Starlette(routes=[Route("/", page)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.target")
    parser.add_argument("kind", choices=["app", "baseline", "emulator"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--workos-base-url", default="http://127.0.0.1:9")
    parser.add_argument("--admin-issuer", default="")
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    if args.kind == "baseline":
        app = baseline_app()
    elif args.kind == "emulator":
        from dashboard.emulator import Faults, create_emulator

        app = create_emulator(faults=Faults(), seed=1)
    else:
        app = create_app(
            bench_settings(
                args.database_url,
                port=args.port,
                workos_base_url=args.workos_base_url,
                admin_issuer=args.admin_issuer,
            )
        )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
