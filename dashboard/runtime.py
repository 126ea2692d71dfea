"""What the app holds for its lifetime: settings, database, templates, outside services.

Endpoints reach it with `runtime(request)`; nothing else is global.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from dashboard.db import Database
from dashboard.progress import FunnelCounts
from dashboard.services.oidc import SignIn
from dashboard.services.workos import WorkOSGateway
from dashboard.settings import Settings
from dashboard.templating import Templates


@dataclass
class Runtime:
    settings: Settings
    db: Database
    templates: Templates
    workos: WorkOSGateway
    staff_sign_in: SignIn
    admin_sign_in: SignIn
    background: list[Any] = field(default_factory=list)
    """Tasks started by the lifespan (outbox sender, event poller), stopped with it."""
    funnel_counts: FunnelCounts = field(default_factory=FunnelCounts)


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value
