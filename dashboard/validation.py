"""Parsing of what staff type (domains, emails, features, names, ids) into clean values.

Pure functions shared by the forms, the CSV import and the CLI: each returns the
cleaned value and, when the input cannot be used, one message for the person,
to be shown next to the field. Nothing here raises on bad input.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import idna
from email_validator import EmailNotValidError, validate_email

from dashboard.settings import FEATURES

MAX_DOMAINS = 50
MAX_EMAILS = 20
MAX_NAME_LENGTH = 200
MAX_EXTERNAL_ID_LENGTH = 128
MAX_DOMAIN_LENGTH = 253
GENERATED_EXTERNAL_ID_PREFIX = "dash_"

_SEPARATORS = re.compile(r"[\s,;]+")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]+$")
_SHOWN = 60
"""Long bad input is cut to this many characters when quoted back."""


def _quote(text: str) -> str:
    shown = text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
    return f"“{shown}”"


def _split(text: str) -> list[str]:
    return [part for part in _SEPARATORS.split(text) if part]


def _join(messages: list[str]) -> str | None:
    return "; ".join(messages) + "." if messages else None


def domain_parse(text: str) -> tuple[str, str | None]:
    """One domain in stored form (lower-case IDNA A-labels), or a message saying what is wrong."""
    raw = text.strip()
    candidate = raw.rstrip(".").lower()
    if not candidate:
        return "", "Enter a domain name such as example.com"
    if "://" in candidate or "/" in candidate or "@" in candidate:
        return (
            "",
            f"{_quote(raw)} is not a domain: enter just the name, such as example.com",
        )
    if candidate.startswith("*"):
        return (
            "",
            f"{_quote(raw)} is a wildcard: enter the domain itself, such as example.com",
        )
    try:
        ascii_name = idna.encode(candidate, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        if "too long" in str(exc).lower():
            return "", f"{_quote(raw)} is too long for a domain name"
        return "", f"{_quote(raw)} is not a valid domain name"
    labels = ascii_name.split(".")
    if len(labels) < 2:
        return (
            "",
            f"{_quote(raw)} needs a dot and a top-level domain, such as {_quote(raw + '.com')}",
        )
    if len(ascii_name) > MAX_DOMAIN_LENGTH or any(len(label) > 63 for label in labels):
        return "", f"{_quote(raw)} is too long for a domain name"
    if labels[-1].isdigit() or not labels[-1].replace("-", "").isalnum():
        return "", f"{_quote(raw)} does not end in a top-level domain such as .com"
    return ascii_name, None


def domains_parse(
    text: str, *, required: bool = False, maximum: int = MAX_DOMAINS
) -> tuple[list[str], str | None]:
    """Domains one per line (or separated by commas or spaces), each in stored form.

    The list keeps the first spelling of each domain; duplicates, bad names and
    too many names are all reported in one message.
    """
    domains: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    reported: set[str] = set()
    for part in _split(text):
        domain, error = domain_parse(part)
        if error:
            problems.append(error)
        elif domain in seen:
            if domain not in reported:
                problems.append(f"{_quote(domain)} is listed twice")
                reported.add(domain)
        else:
            seen.add(domain)
            domains.append(domain)
    if len(domains) > maximum:
        problems.append(f"At most {maximum} domains, {len(domains)} were given")
    if required and not domains and not problems:
        problems.append("Enter at least one domain")
    return domains, _join(problems)


def domain_display(domain: str) -> str:
    """The readable (Unicode) form of a stored A-label domain, for pages.

    Only labels starting "xn--" change; skipping the decoder for the rest
    matters on the staff home, which shows a few hundred domains a page.
    """
    if "xn--" not in domain:
        return domain
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


@dataclass(frozen=True)
class EmailAddress:
    """An address as it will be shown and sent to, and the key it is compared by."""

    address: str
    key: str


def email_key(text: str) -> str | None:
    """The comparison form of an address (lower-case, domain in A-labels), or None if invalid.

    Use it on both sides: on the invited address and on the address a sign-in
    provider vouches for.
    """
    address, error = email_parse(text)
    return None if address is None or error else address.key


def email_parse(text: str) -> tuple[EmailAddress | None, str | None]:
    raw = text.strip()
    if not raw:
        return None, "Enter an email address"
    try:
        result = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return None, f"{_quote(raw)} is not an email address ({exc})"
    key = (result.ascii_email or result.normalized).lower()
    return EmailAddress(address=result.normalized, key=key), None


def emails_parse(
    text: str, *, required: bool = True, maximum: int = MAX_EMAILS
) -> tuple[list[EmailAddress], str | None]:
    """One to `maximum` addresses, one per line or separated by commas or spaces.

    Duplicates are compared case-insensitively and reported, not silently merged,
    so staff notice a typo that repeats a colleague.
    """
    emails: list[EmailAddress] = []
    problems: list[str] = []
    seen: set[str] = set()
    reported: set[str] = set()
    for part in _split(text):
        address, error = email_parse(part)
        if error or address is None:
            problems.append(error or f"{_quote(part)} is not an email address")
        elif address.key in seen:
            if address.key not in reported:
                problems.append(f"{_quote(address.address)} is listed twice")
                reported.add(address.key)
        else:
            seen.add(address.key)
            emails.append(address)
    if len(emails) > maximum:
        problems.append(f"At most {maximum} email addresses, {len(emails)} were given")
    if required and not emails and not problems:
        problems.append("Enter at least one email address")
    return emails, _join(problems)


def features_parse(
    values: Iterable[str], *, required: bool = False
) -> tuple[list[str], str | None]:
    """Chosen portal intents, in the order FEATURES lists them."""
    chosen = {value.strip() for value in values}
    unknown = sorted(value for value in chosen if value not in FEATURES)
    if unknown:
        names = ", ".join(_quote(value) for value in unknown)
        return [], f"Unknown feature {names}: pick from the list"
    features = [intent for intent in FEATURES if intent in chosen]
    if required and not features:
        return [], "Pick at least one feature"
    return features, None


def name_parse(text: str) -> tuple[str, str | None]:
    """An organization's name: trimmed, inner spaces collapsed, no control characters."""
    name = " ".join(text.split())
    if not name:
        return "", "Enter the organization's name"
    if any(unicodedata.category(char).startswith("C") for char in name):
        return "", "The name contains characters that cannot be shown; retype it"
    if len(name) > MAX_NAME_LENGTH:
        return "", f"At most {MAX_NAME_LENGTH} characters, {len(name)} were given"
    return name, None


def name_key(name: str) -> str:
    """What names are sorted and prefix-searched by."""
    return name.casefold()


def external_id_parse(text: str) -> tuple[str, str | None]:
    """An optional external id (your CRM's id for the customer); blank stays blank."""
    value = text.strip()
    if not value:
        return "", None
    if len(value) > MAX_EXTERNAL_ID_LENGTH:
        return (
            "",
            f"At most {MAX_EXTERNAL_ID_LENGTH} characters, {len(value)} were given",
        )
    if not _EXTERNAL_ID.match(value):
        return "", (
            "Use letters, digits and . _ : @ / + = - only (no spaces), "
            "or leave it blank to have one made up"
        )
    return value, None


def external_id_new() -> str:
    """A stable id for an organization created without one.

    It is made once and carried in the re-rendered form, so a retry after a
    failure reuses it and WorkOS recognises the same organization.
    """
    return GENERATED_EXTERNAL_ID_PREFIX + secrets.token_hex(8)


@dataclass
class OrganizationInput:
    """A new organization as typed (for re-rendering) and as parsed (for saving)."""

    form: dict[str, str | list[str]]
    name: str = ""
    external_id: str = ""
    external_id_generated: str = ""
    domains: list[str] = field(default_factory=list)
    emails: list[EmailAddress] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def effective_external_id(self) -> str:
        return self.external_id or self.external_id_generated


def organization_input(
    *,
    name: str,
    external_id: str = "",
    domains: str = "",
    emails: str = "",
    features: Iterable[str] = (),
    generated_external_id: str = "",
) -> OrganizationInput:
    """Parse the "New organization" fields; error keys match the form's field names.

    `generated_external_id` is the id made up on an earlier attempt (a hidden
    field); it is reused so retries stay idempotent at WorkOS. Emails are
    optional, but inviting them needs at least one feature.
    """
    chosen = list(features)
    data = OrganizationInput(
        form={
            "name": name,
            "external_id": external_id,
            "domains": domains,
            "emails": emails,
            "features": chosen,
        }
    )
    errors = data.errors
    data.name, error = name_parse(name)
    if error:
        errors["name"] = error
    data.external_id, error = external_id_parse(external_id)
    if error:
        errors["external_id"] = error
    generated = generated_external_id.strip()
    if not generated.startswith(GENERATED_EXTERNAL_ID_PREFIX) or (
        external_id_parse(generated)[1] is not None
    ):
        generated = external_id_new()
    data.external_id_generated = generated
    data.domains, error = domains_parse(domains)
    if error:
        errors["domains"] = error
    data.emails, error = emails_parse(emails, required=False)
    if error:
        errors["emails"] = error
    data.features, error = features_parse(chosen, required=bool(data.emails))
    if error:
        errors["features"] = (
            "Pick at least one feature for the IT admins to set up"
            if data.emails and not data.features and not error.startswith("Unknown")
            else error
        )
    return data


def form_values(form: Mapping[str, object], name: str) -> str:
    """A single text value from a submitted form, "" when absent or not text."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
