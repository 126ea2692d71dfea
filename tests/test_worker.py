from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from dashboard.db import Database
from dashboard.invites import invite_create, setup_url
from dashboard.settings import Secret, Settings
from tests.fixtures.smtp import SMTPServer
from tests.invite_helpers import organization_add, staff_member


def test_the_app_sends_queued_email_while_it_runs(
    db: Database,
    settings: Settings,
    smtp_server: SMTPServer,
    make_client: Callable[..., TestClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings.with_overrides(
        run_outbox_in_process=True, smtp_url=Secret(smtp_server.url)
    )
    with db.session() as session:
        result = invite_create(
            session,
            settings,
            organization=organization_add(session),
            features=["sso"],
            emails=["it@globex.example"],
            staff=staff_member(session),
        )
        url = setup_url(settings, result.link)
    caplog.set_level(logging.DEBUG)

    make_client(settings)
    delivered = smtp_server.wait_for(1)

    assert [d.rcpt_tos for d in delivered] == [["it@globex.example"]]
    token = url.rsplit("/", 1)[1]
    for record in caplog.records:
        assert token not in record.getMessage()
        assert all(token not in str(value) for value in record.__dict__.values())
