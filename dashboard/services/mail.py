"""Sending email: over SMTP in production, nowhere at all under `dashboard dev`.

A `Mailer` takes a batch of messages and answers, per message, None (sent) or
a `MailError` whose `reason` staff can read next to the address.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib import errors as smtp_errors

from dashboard.models import utcnow
from dashboard.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 30.0


class MailError(Exception):
    """One message not sent; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Mailer(Protocol):
    """Something that delivers messages."""

    async def send_batch(
        self, messages: Sequence[Message], *, deadline: datetime | None = None
    ) -> list[MailError | None]:
        """Send each message; one result per message, in order.

        Messages not started before `deadline` come back as errors to retry, so
        the caller's claim on them never runs out while a send is in flight.
        """
        ...


@dataclass(frozen=True)
class SMTPConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class MailConfigError(ValueError):
    """SMTP_URL cannot be used; the message names the fix."""


def parse_smtp_url(url: str) -> SMTPConfig:
    """`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://...:465` (TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailConfigError(
            "SMTP_URL must look like smtp://user:password@mail.example.com:587 or smtps://user:password@mail.example.com:465"
        )
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 587)
    except ValueError:
        raise MailConfigError("SMTP_URL has a port that is not a number") from None
    return SMTPConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _reason(exc: BaseException, config: SMTPConfig) -> MailError:
    """A short, human reason; never the message or its body."""
    if isinstance(exc, smtp_errors.SMTPAuthenticationError):
        return MailError(
            f"the mail server rejected our login ({exc.code}): check the user and password in SMTP_URL"
        )
    if isinstance(exc, smtp_errors.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused else 550
        text = refused.message if refused else "recipient refused"
        return MailError(
            f"the mail server refused the address ({code} {text})"[:300],
            permanent=500 <= code < 600,
        )
    if isinstance(exc, smtp_errors.SMTPRecipientRefused):
        return MailError(
            f"the mail server refused the address ({exc.code} {exc.message})"[:300],
            permanent=500 <= exc.code < 600,
        )
    if isinstance(
        exc, smtp_errors.SMTPConnectTimeoutError | smtp_errors.SMTPTimeoutError
    ):
        return MailError(f"the mail server at {config.where} did not answer in time")
    if isinstance(exc, smtp_errors.SMTPConnectError):
        return MailError(
            f"could not connect to the mail server at {config.where}: is it running, and is SMTP_URL right?"
        )
    if isinstance(exc, smtp_errors.SMTPServerDisconnected):
        return MailError(f"the mail server at {config.where} closed the connection")
    if isinstance(exc, smtp_errors.SMTPResponseException):
        return MailError(
            f"the mail server answered {exc.code} {exc.message}"[:300],
            permanent=500 <= exc.code < 600,
        )
    if isinstance(exc, ssl.SSLError):
        return MailError(
            f"the TLS handshake with {config.where} failed: check smtp:// versus smtps:// in SMTP_URL"
        )
    if isinstance(exc, OSError):
        return MailError(f"could not reach the mail server at {config.where}")
    return MailError(f"sending failed ({type(exc).__name__})")


class SMTPMailer:
    """Delivers a batch over a few parallel SMTP connections, with aiosmtplib.

    Each message costs several round trips (MAIL, RCPT, DATA); parallel
    connections overlap them, which is what makes a thousand invites fast.
    """

    def __init__(
        self,
        config: SMTPConfig,
        *,
        tls_context: ssl.SSLContext | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
        connections: int = 4,
    ) -> None:
        self.config = config
        self.connections = max(1, connections)
        self.tls_context = tls_context
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.config.host,
            port=self.config.port,
            username=self.config.username,
            password=self.config.password,
            use_tls=self.config.implicit_tls,
            start_tls=False if self.config.implicit_tls else None,
            timeout=self.connect_timeout,
            tls_context=self.tls_context,
        )

    async def send_batch(
        self, messages: Sequence[Message], *, deadline: datetime | None = None
    ) -> list[MailError | None]:
        if not messages:
            return []
        lanes = min(self.connections, max(1, len(messages) // 10))
        chunks = [list(messages[i::lanes]) for i in range(lanes)]
        answers = await asyncio.gather(
            *(self._send_over_one(chunk, deadline) for chunk in chunks)
        )
        results: list[MailError | None] = [None] * len(messages)
        for lane, answer in enumerate(answers):
            for position, result in enumerate(answer):
                results[lane + position * lanes] = result
        return results

    async def _send_over_one(
        self, messages: Sequence[Message], deadline: datetime | None
    ) -> list[MailError | None]:
        results: list[MailError | None] = []
        client = self._client()
        try:
            await client.connect()
        except Exception as exc:
            client.close()
            error = _reason(exc, self.config)
            log.warning(
                "smtp_connect_failed",
                extra={"where": self.config.where, "error": type(exc).__name__},
            )
            return [error] * len(messages)
        try:
            for message in messages:
                if deadline is not None and utcnow() >= deadline:
                    results.append(
                        MailError("not tried yet: the sender ran out of time")
                    )
                    continue
                try:
                    await client.send_message(message, timeout=self.send_timeout)
                except Exception as exc:
                    results.append(_reason(exc, self.config))
                    log.warning("smtp_send_failed", extra={"error": type(exc).__name__})
                    if not client.is_connected:
                        client.close()
                        client = self._client()
                        try:
                            await client.connect()
                        except Exception as again:
                            error = _reason(again, self.config)
                            results.extend([error] * (len(messages) - len(results)))
                            return results
                else:
                    results.append(None)
        finally:
            # Close on every path: a half-open connection otherwise leaks its socket.
            if client.is_connected:
                try:
                    await client.quit()
                except Exception:
                    log.info("smtp_quit_failed")
            client.close()
            # One turn of the loop lets the transport finish closing its socket,
            # even when the caller's loop ends right after (as `asyncio.run` does).
            await asyncio.sleep(0)
        return results


class DevMailbox:
    """`dashboard dev`: nothing leaves the machine; /dev/mail shows the outbox instead."""

    async def send_batch(
        self, messages: Sequence[Message], *, deadline: datetime | None = None
    ) -> list[MailError | None]:
        return [None] * len(messages)


class UnconfiguredMailer:
    """No usable SMTP_URL: every email waits in the outbox with a reason that says so.

    The app still starts (DESIGN.md: `serve` starts whatever is unreachable);
    `dashboard doctor` reports the setting.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def send_batch(
        self, messages: Sequence[Message], *, deadline: datetime | None = None
    ) -> list[MailError | None]:
        return [MailError(self.reason)] * len(messages)


def mailer_from_settings(settings: Settings) -> Mailer:
    if settings.dev_mailbox:
        return DevMailbox()
    if not settings.smtp_url:
        return UnconfiguredMailer(
            "SMTP_URL is not set: set it to smtp://user:password@mail.example.com:587"
        )
    try:
        return SMTPMailer(parse_smtp_url(settings.smtp_url.reveal()))
    except MailConfigError as exc:
        return UnconfiguredMailer(str(exc))
