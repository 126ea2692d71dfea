from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from email.message import EmailMessage, Message

import pytest

from dashboard.services.mail import (
    DevMailbox,
    MailConfigError,
    MailError,
    SMTPMailer,
    UnconfiguredMailer,
    mailer_from_settings,
    parse_smtp_url,
)
from dashboard.settings import Secret, Settings
from tests.fixtures.smtp import SecureSMTP, SMTPServer


def _send(mailer: SMTPMailer, messages: Sequence[Message]) -> list[MailError | None]:
    """Send in a loop of its own, then give a TLS connection's close time to finish
    before `asyncio.run` tears the loop down (a long-lived app loop needs no help)."""

    async def send_and_settle() -> list[MailError | None]:
        results = await mailer.send_batch(messages)
        await asyncio.sleep(0.2)
        return results

    return asyncio.run(send_and_settle())


def _message(to: str = "it@globex.example") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "onboarding@acme.test"
    message["To"] = to
    message["Subject"] = "Hello"
    message.set_content("plain body")
    return message


def test_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    tls = parse_smtp_url("smtps://us%40er:p%2Fw@mail.example.com")

    assert (plain.port, plain.implicit_tls, plain.username) == (587, False, None)
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (
        465,
        True,
        "us@er",
        "p/w",
    )
    for bad in ("http://mail.example.com", "smtp://", "smtp://host:port"):
        with pytest.raises(MailConfigError):
            parse_smtp_url(bad)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_and_login(
    make_secure_smtp: Callable[[str], SecureSMTP], mode: str
) -> None:
    secure = make_secure_smtp(mode)
    mailer = SMTPMailer(parse_smtp_url(secure.url), tls_context=secure.client_tls)

    results = _send(mailer, [_message()])

    assert results == [None]
    assert [d.rcpt_tos for d in secure.server.wait_for(1)] == [["it@globex.example"]]


def test_wrong_password_is_a_plain_reason(
    make_secure_smtp: Callable[[str], SecureSMTP],
) -> None:
    secure = make_secure_smtp("starttls")
    url = secure.url.replace("word", "wrong")
    mailer = SMTPMailer(parse_smtp_url(url), tls_context=secure.client_tls)

    [error] = _send(mailer, [_message()])

    assert error is not None
    assert "rejected our login" in error.reason
    assert "wrong" not in error.reason


def test_server_down_gives_a_reason_for_every_message(smtp_server: SMTPServer) -> None:
    smtp_server.stop()
    mailer = SMTPMailer(parse_smtp_url(smtp_server.url), connect_timeout=2)

    results = _send(mailer, [_message(), _message()])

    assert all(r is not None and not r.permanent for r in results)
    assert all(r is not None and "could not connect" in r.reason for r in results)


def test_mailer_follows_settings(settings: Settings) -> None:
    dev = mailer_from_settings(settings.with_overrides(dev_mailbox=True))
    unset = mailer_from_settings(settings)
    bad = mailer_from_settings(
        settings.with_overrides(smtp_url=Secret("mail.example.com"))
    )
    smtp = mailer_from_settings(settings.with_overrides(smtp_url=Secret("smtp://h:25")))

    assert isinstance(dev, DevMailbox)
    assert (
        isinstance(unset, UnconfiguredMailer) and "SMTP_URL is not set" in unset.reason
    )
    assert (
        isinstance(bad, UnconfiguredMailer) and "SMTP_URL must look like" in bad.reason
    )
    assert isinstance(smtp, SMTPMailer)
