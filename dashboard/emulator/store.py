"""The emulator's world: organizations, domains, features, portal links and events.

Records are kept in the JSON shapes the WorkOS API answers with, so the HTTP
layer only serializes; everything that changes state goes through one
`EmulatorStore` method under one lock, because the server thread and the test
thread both reach it. With a `state_path` the durable part (not portal links
or sessions, which die in minutes anyway) is written to a JSON file after each
change, so a restarted `dashboard dev` still knows every organization.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

INTENTS = (
    "sso",
    "dsync",
    "audit_logs",
    "log_streams",
    "domain_verification",
    "certificate_renewal",
    "bring_your_own_key",
)
"""Every Admin Portal intent WorkOS accepts; anything else is a 422."""

DOMAIN_STATES = ("pending", "verified", "failed", "unverified", "legacy_verified")
LINK_LIFETIME = timedelta(minutes=5)
SESSION_LIFETIME = timedelta(hours=1)
MAX_EVENTS = 10_000
ORDERS = ("asc", "desc", "normal")
STATE_VERSION = 1

Record = dict[str, Any]


class EmulatorError(Exception):
    """An API answer other than success, in WorkOS's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.code is not None:
            body["code"] = self.code
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def invalid(field_name: str, code: str, message: str | None = None) -> EmulatorError:
    """A 422 naming the one field at fault, as WorkOS reports validation errors."""
    return EmulatorError(
        422,
        message or "Validation failed",
        "invalid_request_parameters",
        [{"field": field_name, "code": code}],
    )


def not_found(kind: str, entity_id: str) -> EmulatorError:
    return EmulatorError(404, f"{kind} not found: '{entity_id}'.", "entity_not_found")


class Clock:
    """Wall-clock time that tests can move forward to expire links without sleeping."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self._offset = timedelta()


def iso(moment: datetime) -> str:
    """WorkOS's timestamp form: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str, moment: datetime) -> str:
    """A ULID-shaped id like WorkOS's (`org_01H...`): 10 time characters, 16 random."""
    millis = int(moment.timestamp() * 1000)
    time_part = "".join(_CROCKFORD[(millis >> (5 * i)) & 31] for i in range(9, -1, -1))
    random_part = "".join(secrets.choice(_CROCKFORD) for _ in range(16))
    return f"{prefix}_{time_part}{random_part}"


@dataclass
class PortalLink:
    """A minted portal link; `secret` is its only credential and never leaves the store in logs."""

    id: str
    secret: str
    organization_id: str
    intent: str
    return_url: str | None
    success_url: str | None
    external_user_id: str | None
    it_contact_emails: list[str]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def public(self) -> Record:
        """What the control API may show: everything but the secret."""
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "intent": self.intent,
            "return_url": self.return_url,
            "success_url": self.success_url,
            "external_user_id": self.external_user_id,
            "it_contact_emails": self.it_contact_emails,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "used_at": iso(self.used_at) if self.used_at else None,
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
        }


@dataclass
class PortalSession:
    """An open portal page; its id in the URL is the bearer credential, like the link's secret."""

    id: str
    link_id: str
    organization_id: str
    intent: str
    return_url: str | None
    success_url: str | None
    external_user_id: str | None
    it_contact_emails: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    finished_at: datetime | None = None

    def public(self) -> Record:
        return {
            "link_id": self.link_id,
            "organization_id": self.organization_id,
            "intent": self.intent,
            "external_user_id": self.external_user_id,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "finished_at": iso(self.finished_at) if self.finished_at else None,
        }


class LinkUnusable(Exception):
    """A portal link or session that cannot be opened; `reason` is shown on the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Page:
    data: list[Record]
    before: str | None
    after: str | None

    def body(self) -> Record:
        return {
            "object": "list",
            "data": self.data,
            "list_metadata": {"before": self.before, "after": self.after},
        }


def paginate(
    items: list[Record],
    *,
    order: str = "desc",
    limit: int = 10,
    before: str | None = None,
    after: str | None = None,
) -> Page:
    """Cursor pagination over `items` given oldest first, as WorkOS pages lists.

    `asc` and `desc` read `after` as "further along this order"; `normal` is
    newest first but `after` means newer and `before` older, as the SDK says.
    An unknown cursor yields an empty page rather than an error.
    """
    sequence = items if order == "asc" else list(reversed(items))
    if order == "normal":
        before, after = after, before
    ids = [item["id"] for item in sequence]
    if after is not None:
        if after not in ids:
            return Page([], None, None)
        start = ids.index(after) + 1
        chunk = sequence[start : start + limit]
    elif before is not None:
        if before not in ids:
            return Page([], None, None)
        end = ids.index(before)
        start = max(0, end - limit)
        chunk = sequence[start:end]
    else:
        start = 0
        chunk = sequence[:limit]
    has_previous = start > 0
    has_next = start + len(chunk) < len(sequence)
    first = chunk[0]["id"] if chunk and has_previous else None
    last = chunk[-1]["id"] if chunk and has_next else None
    if order == "normal":
        first, last = last, first
    return Page(chunk, first, last)


def parse_list_params(query: Mapping[str, str]) -> dict[str, Any]:
    """limit/order/before/after from a query string, validated as WorkOS does (422)."""
    raw_limit = query.get("limit", "10") or "10"
    try:
        limit = int(raw_limit)
    except ValueError:
        raise invalid("limit", "invalid_limit", "limit must be a number") from None
    if not 1 <= limit <= 100:
        raise invalid("limit", "invalid_limit", "limit must be between 1 and 100")
    order = query.get("order", "desc") or "desc"
    if order not in ORDERS:
        raise invalid("order", "invalid_order", "order must be asc, desc or normal")
    return {
        "limit": limit,
        "order": order,
        "before": query.get("before") or None,
        "after": query.get("after") or None,
    }


def _domain_ok(domain: str) -> bool:
    parts = domain.split(".")
    return (
        len(parts) >= 2
        and all(parts)
        and all(part.replace("-", "").isalnum() for part in parts)
        and len(domain) <= 253
    )


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass
class _World:
    """The durable part of the state (what the state file holds)."""

    organizations: dict[str, Record] = field(default_factory=dict)
    domains: dict[str, Record] = field(default_factory=dict)
    connections: dict[str, Record] = field(default_factory=dict)
    directories: dict[str, Record] = field(default_factory=dict)
    audit_log_configurations: dict[str, Record] = field(default_factory=dict)
    events: list[Record] = field(default_factory=list)
    features_done: dict[str, list[str]] = field(default_factory=dict)


class EmulatorStore:
    """All state of one emulator, with the operations the API and portal perform on it."""

    def __init__(
        self,
        state_path: Path | None = None,
        clock: Clock | None = None,
        on_event: Callable[[Record], None] | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.state_path = state_path
        self._lock = threading.RLock()
        self._world = _World()
        self._links: dict[str, PortalLink] = {}
        self._sessions: dict[str, PortalSession] = {}
        self._on_event = on_event
        if state_path is not None:
            self._load(state_path)

    # -- persistence -----------------------------------------------------

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            raw = json.loads(path.read_text())
            if raw.get("version") != STATE_VERSION:
                raise ValueError("unknown state version")
            self._world = _World(
                organizations=dict(raw["organizations"]),
                domains=dict(raw["domains"]),
                connections=dict(raw["connections"]),
                directories=dict(raw["directories"]),
                audit_log_configurations=dict(raw["audit_log_configurations"]),
                events=list(raw["events"]),
                features_done=dict(raw["features_done"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = path.with_suffix(path.suffix + ".unreadable")
            os.replace(path, aside)
            log.warning(
                "emulator_state_unreadable",
                extra={
                    "path": str(path),
                    "moved_to": str(aside),
                    "error": type(exc).__name__,
                },
            )
            return
        log.info(
            "emulator_state_loaded",
            extra={"path": str(path), "organizations": len(self._world.organizations)},
        )

    def _save(self) -> None:
        if self.state_path is None:
            return
        world = self._world
        payload = {
            "version": STATE_VERSION,
            "organizations": world.organizations,
            "domains": world.domains,
            "connections": world.connections,
            "directories": world.directories,
            "audit_log_configurations": world.audit_log_configurations,
            "events": world.events,
            "features_done": world.features_done,
        }
        temporary = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        temporary.write_text(json.dumps(payload, indent=1, sort_keys=True))
        os.replace(temporary, self.state_path)

    def reset(self) -> None:
        """Forget everything (tests call this between cases)."""
        with self._lock:
            self._world = _World()
            self._links.clear()
            self._sessions.clear()
            self.clock.reset()
            self._save()

    # -- events ----------------------------------------------------------

    def _emit(self, name: str, data: Record, organization_id: str | None) -> Record:
        now = self.clock.now()
        event = {
            "object": "event",
            "id": new_id("event", now),
            "event": name,
            "data": data,
            "created_at": iso(now),
            "context": {},
        }
        self._world.events.append({**event, "_organization_id": organization_id})
        del self._world.events[:-MAX_EVENTS]
        if self._on_event is not None:
            self._on_event(event)
        return event

    @staticmethod
    def _public_event(event: Record) -> Record:
        return {k: v for k, v in event.items() if not k.startswith("_")}

    def events_list(self, query: Mapping[str, str]) -> Page:
        params = parse_list_params(query)
        names = {n for n in (query.get("events") or "").split(",") if n}
        organization_id = query.get("organization_id") or None
        range_start = query.get("range_start") or None
        range_end = query.get("range_end") or None
        with self._lock:
            events = [
                e
                for e in self._world.events
                if (not names or e["event"] in names)
                and (
                    organization_id is None
                    or e.get("_organization_id") == organization_id
                )
                and (range_start is None or e["created_at"] >= range_start)
                and (range_end is None or e["created_at"] <= range_end)
            ]
            page = paginate(events, **params)
        page.data = [self._public_event(e) for e in page.data]
        return page

    # -- organizations ---------------------------------------------------

    def _organization_body(self, record: Record) -> Record:
        return {
            **{k: v for k, v in record.items() if not k.startswith("_")},
            "domains": [
                d
                for d in self._world.domains.values()
                if d["organization_id"] == record["id"]
            ],
        }

    def _organization(self, organization_id: str) -> Record:
        record = self._world.organizations.get(organization_id)
        if record is None:
            raise not_found("Organization", organization_id)
        return record

    def _check_external_id(
        self, value: Any, except_id: str | None = None
    ) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > 128:
            raise invalid("external_id", "invalid_external_id")
        for other in self._world.organizations.values():
            if other["external_id"] == value and other["id"] != except_id:
                raise EmulatorError(
                    409,
                    f"An organization with external_id '{value}' already exists.",
                    "external_id_already_used",
                )
        return value

    @staticmethod
    def _check_metadata(value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if (
            not isinstance(value, dict)
            or len(value) > 50
            or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            )
        ):
            raise EmulatorError(
                400,
                "metadata must map up to 50 string keys to strings.",
                "invalid_metadata",
            )
        return dict(value)

    def _requested_domains(
        self, body: Mapping[str, Any]
    ) -> list[tuple[str, str]] | None:
        """The (domain, state) pairs a create or update asks for; None when it names none."""
        wanted: list[tuple[str, str]] = []
        if body.get("domain_data") is not None:
            items = body["domain_data"]
            if not isinstance(items, list):
                raise invalid("domain_data", "invalid_domain_data")
            for item in items:
                if not isinstance(item, dict) or not isinstance(
                    item.get("domain"), str
                ):
                    raise invalid("domain_data", "invalid_domain_data")
                state = item.get("state", "pending")
                if state not in ("pending", "verified"):
                    raise invalid(
                        "domain_data",
                        "invalid_domain_state",
                        "state must be pending or verified",
                    )
                wanted.append((item["domain"].strip().lower(), state))
        if body.get("domains") is not None:
            items = body["domains"]
            if not isinstance(items, list) or not all(
                isinstance(d, str) for d in items
            ):
                raise invalid("domains", "invalid_domains")
            wanted.extend((d.strip().lower(), "verified") for d in items)
        if body.get("domain_data") is None and body.get("domains") is None:
            return None
        seen: dict[str, str] = {}
        for domain, state in wanted:
            if not _domain_ok(domain):
                raise invalid(
                    "domain_data", "invalid_domain", f"'{domain}' is not a domain"
                )
            seen[domain] = (
                "verified" if "verified" in (state, seen.get(domain)) else state
            )
        return list(seen.items())

    def _domain_record(self, organization_id: str, domain: str, state: str) -> Record:
        now = iso(self.clock.now())
        record: Record = {
            "object": "organization_domain",
            "id": new_id("org_domain", self.clock.now()),
            "organization_id": organization_id,
            "domain": domain,
            "state": state,
            "verification_strategy": "manual" if state == "verified" else "dns",
            "created_at": now,
            "updated_at": now,
        }
        if state != "verified":
            record["verification_prefix"] = (
                "workos-domain-verification-" + secrets.token_hex(3)
            )
            record["verification_token"] = secrets.token_urlsafe(18)
        return record

    def _check_domain_free(self, domain: str, organization_id: str | None) -> None:
        for other in self._world.domains.values():
            if (
                other["domain"] == domain
                and other["organization_id"] != organization_id
                and other["state"] in ("verified", "legacy_verified")
            ):
                raise EmulatorError(
                    409,
                    f"Domain '{domain}' is verified by another organization.",
                    "domain_already_exists",
                )

    def _set_domains(self, organization_id: str, wanted: list[tuple[str, str]]) -> None:
        for domain, _state in wanted:
            self._check_domain_free(domain, organization_id)
        current = {
            d["domain"]: d
            for d in self._world.domains.values()
            if d["organization_id"] == organization_id
        }
        names = {domain for domain, _ in wanted}
        for domain, record in current.items():
            if domain not in names:
                del self._world.domains[record["id"]]
        for domain, state in wanted:
            existing = current.get(domain)
            if existing is None:
                record = self._domain_record(organization_id, domain, state)
                self._world.domains[record["id"]] = record
            elif state == "verified" and existing["state"] != "verified":
                existing.update(state="verified", updated_at=iso(self.clock.now()))

    def organization_create(self, body: Mapping[str, Any]) -> Record:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "name_required", "name is required")
        with self._lock:
            external_id = self._check_external_id(body.get("external_id"))
            metadata = self._check_metadata(body.get("metadata"))
            wanted = self._requested_domains(body) or []
            for domain, _state in wanted:
                self._check_domain_free(domain, None)
            now = self.clock.now()
            record: Record = {
                "object": "organization",
                "id": new_id("org", now),
                "name": name.strip(),
                "external_id": external_id,
                "metadata": metadata,
                "allow_profiles_outside_organization": bool(
                    body.get("allow_profiles_outside_organization", False)
                ),
                "created_at": iso(now),
                "updated_at": iso(now),
            }
            self._world.organizations[record["id"]] = record
            self._set_domains(record["id"], wanted)
            result = self._organization_body(record)
            self._emit("organization.created", result, record["id"])
            self._save()
        log.info(
            "emulator_organization_created", extra={"organization_id": record["id"]}
        )
        return result

    def organization_get(self, organization_id: str) -> Record:
        with self._lock:
            return self._organization_body(self._organization(organization_id))

    def organization_by_external_id(self, external_id: str) -> Record:
        with self._lock:
            for record in self._world.organizations.values():
                if record["external_id"] == external_id:
                    return self._organization_body(record)
        raise not_found("Organization", external_id)

    def organization_list(self, query: Mapping[str, str]) -> Page:
        params = parse_list_params(query)
        domains = {
            d.strip().lower() for d in (query.get("domains") or "").split(",") if d
        }
        search = (query.get("search") or "").strip().lower()
        with self._lock:
            bodies = [
                self._organization_body(r) for r in self._world.organizations.values()
            ]
        matching = [
            body
            for body in bodies
            if (not domains or domains & {d["domain"] for d in body["domains"]})
            and (not search or search in body["name"].lower())
        ]
        return paginate(matching, **params)

    def organization_update(
        self, organization_id: str, body: Mapping[str, Any]
    ) -> Record:
        with self._lock:
            record = self._organization(organization_id)
            changes: Record = {}
            if body.get("name") is not None:
                name = body["name"]
                if not isinstance(name, str) or not name.strip():
                    raise invalid("name", "name_required", "name must not be empty")
                changes["name"] = name.strip()
            if "external_id" in body:
                changes["external_id"] = self._check_external_id(
                    body["external_id"], except_id=organization_id
                )
            if "metadata" in body:
                changes["metadata"] = self._check_metadata(body["metadata"])
            if body.get("stripe_customer_id") is not None:
                changes["stripe_customer_id"] = str(body["stripe_customer_id"])
            if body.get("allow_profiles_outside_organization") is not None:
                changes["allow_profiles_outside_organization"] = bool(
                    body["allow_profiles_outside_organization"]
                )
            wanted = self._requested_domains(body)
            if wanted is not None:
                self._set_domains(organization_id, wanted)
            record.update(changes, updated_at=iso(self.clock.now()))
            result = self._organization_body(record)
            self._emit("organization.updated", result, organization_id)
            self._save()
        log.info(
            "emulator_organization_updated", extra={"organization_id": organization_id}
        )
        return result

    def organization_delete(self, organization_id: str) -> None:
        with self._lock:
            record = self._organization(organization_id)
            body = self._organization_body(record)
            del self._world.organizations[organization_id]
            for table in (
                self._world.domains,
                self._world.connections,
                self._world.directories,
            ):
                for key in [
                    k
                    for k, v in table.items()
                    if v.get("organization_id") == organization_id
                ]:
                    del table[key]
            self._world.audit_log_configurations.pop(organization_id, None)
            self._world.features_done.pop(organization_id, None)
            self._emit("organization.deleted", body, organization_id)
            self._save()
        log.info(
            "emulator_organization_deleted", extra={"organization_id": organization_id}
        )

    # -- organization domains --------------------------------------------

    def _domain(self, domain_id: str) -> Record:
        record = self._world.domains.get(domain_id)
        if record is None:
            raise not_found("Organization domain", domain_id)
        return record

    def domain_create(self, body: Mapping[str, Any]) -> Record:
        domain = body.get("domain")
        organization_id = body.get("organization_id")
        if not isinstance(domain, str) or not _domain_ok(domain.strip().lower()):
            raise invalid("domain", "invalid_domain", "domain must be a domain name")
        if not isinstance(organization_id, str) or not organization_id:
            raise invalid("organization_id", "organization_id_required")
        domain = domain.strip().lower()
        with self._lock:
            self._organization(organization_id)
            for other in self._world.domains.values():
                if (
                    other["domain"] == domain
                    and other["organization_id"] == organization_id
                ):
                    raise EmulatorError(
                        409,
                        "Domain already exists for this organization.",
                        "domain_already_exists",
                    )
            self._check_domain_free(domain, organization_id)
            record = self._domain_record(organization_id, domain, "pending")
            self._world.domains[record["id"]] = record
            self._emit("organization_domain.created", dict(record), organization_id)
            self._save()
        return dict(record)

    def domain_get(self, domain_id: str) -> Record:
        with self._lock:
            return dict(self._domain(domain_id))

    def domain_delete(self, domain_id: str) -> None:
        with self._lock:
            record = self._domain(domain_id)
            del self._world.domains[domain_id]
            self._emit(
                "organization_domain.deleted", dict(record), record["organization_id"]
            )
            self._save()

    def _verify(self, record: Record) -> None:
        """Settle a domain's DNS check: names under `.invalid` fail, as they never resolve."""
        now = iso(self.clock.now())
        if record["domain"].endswith(".invalid"):
            record.update(state="failed", updated_at=now)
            self._emit(
                "organization_domain.verification_failed",
                {
                    "reason": "domain_verification_period_expired",
                    "organization_domain": dict(record),
                },
                record["organization_id"],
            )
        else:
            record.update(state="verified", updated_at=now)
            self._emit(
                "organization_domain.verified", dict(record), record["organization_id"]
            )

    def domain_verify(self, domain_id: str) -> Record:
        with self._lock:
            record = self._domain(domain_id)
            if record["state"] in ("verified", "legacy_verified"):
                raise EmulatorError(
                    400, "Domain is already verified.", "domain_already_verified"
                )
            self._verify(record)
            self._save()
            return dict(record)

    def domain_set_state(self, domain_id: str, state: str) -> Record:
        """Control API: put a domain in any WorkOS state, e.g. to test `legacy_verified`."""
        if state not in DOMAIN_STATES:
            raise invalid(
                "state", "invalid_domain_state", f"state must be one of {DOMAIN_STATES}"
            )
        with self._lock:
            record = self._domain(domain_id)
            record.update(state=state, updated_at=iso(self.clock.now()))
            self._save()
            return dict(record)

    # -- connections, directories, audit log configuration ---------------

    @staticmethod
    def _filtered(
        items: Iterable[Record], query: Mapping[str, str], *keys: str
    ) -> list[Record]:
        result = list(items)
        for key in keys:
            value = query.get(key)
            if value:
                result = [
                    r
                    for r in result
                    if r.get("organization_id" if key == "organization" else key)
                    == value
                ]
        search = (query.get("search") or "").strip().lower()
        if search:
            result = [r for r in result if search in r["name"].lower()]
        domain = (query.get("domain") or "").strip().lower()
        if domain:
            result = [
                r
                for r in result
                if domain == r.get("domain")
                or domain in {d.get("domain") for d in r.get("domains", [])}
            ]
        return result

    def connection_list(self, query: Mapping[str, str]) -> Page:
        params = parse_list_params(query)
        with self._lock:
            items = self._filtered(
                self._world.connections.values(),
                query,
                "organization_id",
                "connection_type",
            )
            return paginate([dict(i) for i in items], **params)

    def connection_get(self, connection_id: str) -> Record:
        with self._lock:
            record = self._world.connections.get(connection_id)
            if record is None:
                raise not_found("Connection", connection_id)
            return dict(record)

    def directory_list(self, query: Mapping[str, str]) -> Page:
        params = parse_list_params(query)
        with self._lock:
            items = self._filtered(
                self._world.directories.values(),
                query,
                "organization_id",
                "organization",
            )
            return paginate([dict(i) for i in items], **params)

    def directory_get(self, directory_id: str) -> Record:
        with self._lock:
            record = self._world.directories.get(directory_id)
            if record is None:
                raise not_found("Directory", directory_id)
            return dict(record)

    def audit_log_configuration(self, organization_id: str) -> Record:
        with self._lock:
            self._organization(organization_id)
            return dict(self._audit_config(organization_id))

    def _audit_config(self, organization_id: str) -> Record:
        return self._world.audit_log_configurations.setdefault(
            organization_id,
            {
                "organization_id": organization_id,
                "retention_period_in_days": 30,
                "state": "inactive",
            },
        )

    # -- portal ----------------------------------------------------------

    def portal_link_create(
        self, body: Mapping[str, Any], default_return_url: str | None
    ) -> PortalLink:
        organization_id = body.get("organization")
        if not isinstance(organization_id, str) or not organization_id:
            raise invalid(
                "organization", "organization_required", "organization is required"
            )
        intent = body.get("intent")
        if intent not in INTENTS:
            raise invalid(
                "intent",
                "invalid_intent",
                f"intent must be one of: {', '.join(INTENTS)}",
            )
        for name in ("return_url", "success_url"):
            if body.get(name) is not None and not _http_url(body[name]):
                raise invalid(name, f"invalid_{name}", f"{name} must be an http(s) URL")
        return_url = body.get("return_url") or default_return_url
        if return_url is None:
            raise EmulatorError(
                400,
                "No return URL: pass return_url, or configure a default redirect URI for the Admin Portal.",
                "default_return_url_missing",
            )
        external_user_id = body.get("external_user_id")
        if external_user_id is not None and (
            not isinstance(external_user_id, str) or not external_user_id
        ):
            raise invalid("external_user_id", "invalid_external_user_id")
        emails = body.get("it_contact_emails") or []
        if (
            not isinstance(emails, list)
            or len(emails) > 20
            or not all(isinstance(e, str) and "@" in e for e in emails)
        ):
            raise invalid(
                "it_contact_emails",
                "invalid_it_contact_emails",
                "it_contact_emails must be up to 20 email addresses",
            )
        with self._lock:
            self._organization(organization_id)
            now = self.clock.now()
            link = PortalLink(
                id=new_id("portal_link", now),
                secret=secrets.token_urlsafe(32),
                organization_id=organization_id,
                intent=str(intent),
                return_url=return_url,
                success_url=body.get("success_url"),
                external_user_id=external_user_id,
                it_contact_emails=list(emails),
                created_at=now,
                expires_at=now + LINK_LIFETIME,
            )
            self._links[link.secret] = link
        log.info(
            "emulator_portal_link_minted",
            extra={
                "organization_id": organization_id,
                "intent": intent,
                "link_id": link.id,
            },
        )
        return link

    def portal_link_revoke(self, body: Mapping[str, Any]) -> int:
        """Kill every link and open session minted for that organization and user."""
        organization_id = body.get("organization")
        external_user_id = body.get("external_user_id")
        if not isinstance(organization_id, str) or not organization_id:
            raise invalid(
                "organization", "organization_required", "organization is required"
            )
        if not isinstance(external_user_id, str) or not external_user_id:
            raise invalid(
                "external_user_id",
                "external_user_id_required",
                "external_user_id is required",
            )
        with self._lock:
            self._organization(organization_id)
            now = self.clock.now()
            count = 0
            items: list[PortalLink | PortalSession] = [
                *self._links.values(),
                *self._sessions.values(),
            ]
            for item in items:
                if (
                    item.organization_id == organization_id
                    and item.external_user_id == external_user_id
                    and item.revoked_at is None
                ):
                    item.revoked_at = now
                    count += 1
        log.info(
            "emulator_portal_links_revoked",
            extra={"organization_id": organization_id, "revoked": count},
        )
        return count

    def portal_open(self, secret: str) -> PortalSession:
        """Spend a link: it works once, within five minutes, unless revoked."""
        with self._lock:
            link = self._links.get(secret)
            now = self.clock.now()
            if link is None:
                raise LinkUnusable("This Admin Portal link is not valid.")
            if link.revoked_at is not None:
                raise LinkUnusable("This Admin Portal link has been revoked.")
            if link.used_at is not None:
                raise LinkUnusable("This Admin Portal link has already been used.")
            if now >= link.expires_at:
                raise LinkUnusable("This Admin Portal link has expired.")
            link.used_at = now
            session = PortalSession(
                id=secrets.token_urlsafe(24),
                link_id=link.id,
                organization_id=link.organization_id,
                intent=link.intent,
                return_url=link.return_url,
                success_url=link.success_url,
                external_user_id=link.external_user_id,
                it_contact_emails=link.it_contact_emails,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
            self._sessions[session.id] = session
        log.info(
            "emulator_portal_opened",
            extra={
                "organization_id": link.organization_id,
                "intent": link.intent,
                "link_id": link.id,
            },
        )
        return session

    def portal_session(self, session_id: str) -> PortalSession:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise LinkUnusable("This Admin Portal session does not exist.")
            if session.revoked_at is not None:
                raise LinkUnusable("This Admin Portal session has been revoked.")
            if self.clock.now() >= session.expires_at:
                raise LinkUnusable("This Admin Portal session has expired.")
            if session.organization_id not in self._world.organizations:
                raise LinkUnusable(
                    "The organization of this Admin Portal session was deleted."
                )
            return session

    def organization_name(self, organization_id: str) -> str:
        with self._lock:
            record = self._world.organizations.get(organization_id)
            return str(record["name"]) if record else ""

    def portal_finish(self, session_id: str) -> PortalSession:
        session = self.portal_session(session_id)
        with self._lock:
            self.feature_finish(session.organization_id, session.intent)
            session.finished_at = self.clock.now()
        return session

    def links(self) -> list[Record]:
        with self._lock:
            return [link.public() for link in self._links.values()]

    def sessions(self) -> list[Record]:
        with self._lock:
            return [session.public() for session in self._sessions.values()]

    # -- finishing a feature ---------------------------------------------

    def feature_finish(self, organization_id: str, intent: str) -> list[Record]:
        """Make the API report `intent` as done for the organization and emit its events.

        Returns the events emitted (they are also queued on /events and handed
        to the webhook sender).
        """
        if intent not in INTENTS:
            raise invalid("intent", "invalid_intent")
        with self._lock:
            organization = self._organization(organization_id)
            before = len(self._world.events)
            finish = getattr(self, f"_finish_{intent}")
            finish(organization)
            done = self._world.features_done.setdefault(organization_id, [])
            if intent not in done:
                done.append(intent)
            emitted = [self._public_event(e) for e in self._world.events[before:]]
            self._save()
        log.info(
            "emulator_feature_finished",
            extra={
                "organization_id": organization_id,
                "intent": intent,
                "events": len(emitted),
            },
        )
        return emitted

    def _org_domains(self, organization_id: str) -> list[Record]:
        return [
            d
            for d in self._world.domains.values()
            if d["organization_id"] == organization_id
        ]

    def _connection(self, organization: Record) -> Record:
        """The organization's SAML connection, made on first need (draft until SSO is finished)."""
        for record in self._world.connections.values():
            if record["organization_id"] == organization["id"]:
                return record
        now = self.clock.now()
        record = {
            "object": "connection",
            "id": new_id("conn", now),
            "organization_id": organization["id"],
            "connection_type": "OktaSAML",
            "name": organization["name"],
            "state": "draft",
            "status": "unlinked",
            "external_key": secrets.token_hex(8),
            "domains": [
                {
                    "object": "connection_domain",
                    "id": new_id("conn_domain", now),
                    "domain": d["domain"],
                }
                for d in self._org_domains(organization["id"])
            ],
            "created_at": iso(now),
            "updated_at": iso(now),
        }
        self._world.connections[record["id"]] = record
        return record

    def _finish_sso(self, organization: Record) -> None:
        record = self._connection(organization)
        record.update(state="active", status="linked", updated_at=iso(self.clock.now()))
        self._emit("connection.activated", dict(record), organization["id"])

    def _finish_dsync(self, organization: Record) -> None:
        now = self.clock.now()
        record = next(
            (
                r
                for r in self._world.directories.values()
                if r["organization_id"] == organization["id"]
            ),
            None,
        )
        domains = self._org_domains(organization["id"])
        if record is None:
            record = {
                "object": "directory",
                "id": new_id("directory", now),
                "organization_id": organization["id"],
                "external_key": secrets.token_hex(8),
                "type": "okta scim v2.0",
                "state": "linked",
                "name": organization["name"],
                "created_at": iso(now),
                "updated_at": iso(now),
            }
            if domains:
                record["domain"] = domains[0]["domain"]
            self._world.directories[record["id"]] = record
        record.update(state="linked", updated_at=iso(now))
        data = {
            **{k: v for k, v in record.items() if k != "domain"},
            "state": "active",
            "domains": [
                {"object": "organization_domain", "id": d["id"], "domain": d["domain"]}
                for d in domains
            ],
        }
        self._emit("dsync.activated", data, organization["id"])

    def _finish_domain_verification(self, organization: Record) -> None:
        for record in self._org_domains(organization["id"]):
            if record["state"] not in ("verified", "legacy_verified"):
                self._verify(record)

    def _finish_audit_logs(self, organization: Record) -> None:
        self._audit_config(organization["id"])["state"] = "active"

    def _finish_log_streams(self, organization: Record) -> None:
        now = self.clock.now()
        config = self._audit_config(organization["id"])
        config["state"] = "active"
        config["log_stream"] = {
            "id": new_id("log_stream", now),
            "type": "Datadog",
            "state": "active",
            "last_synced_at": None,
            "created_at": iso(now),
        }

    def _finish_certificate_renewal(self, organization: Record) -> None:
        connection = self._connection(organization)
        now = self.clock.now()
        self._emit(
            "connection.saml_certificate_renewed",
            {
                "connection": {
                    "id": connection["id"],
                    "organization_id": organization["id"],
                },
                "certificate": {
                    "certificate_type": "ResponseSigning",
                    "expiry_date": iso(now + timedelta(days=365)),
                },
                "renewed_at": iso(now),
            },
            organization["id"],
        )

    def _finish_bring_your_own_key(self, organization: Record) -> None:
        self._emit(
            "vault.byok_key.verification_completed",
            {
                "organization_id": organization["id"],
                "key_provider": "AWS_KMS",
                "verified": True,
            },
            organization["id"],
        )

    # -- inspection --------------------------------------------------------

    def snapshot(self) -> Record:
        """Everything for the control API, portal secrets left out."""
        with self._lock:
            return {
                "organizations": [
                    self._organization_body(r)
                    for r in self._world.organizations.values()
                ],
                "connections": list(self._world.connections.values()),
                "directories": list(self._world.directories.values()),
                "audit_log_configurations": list(
                    self._world.audit_log_configurations.values()
                ),
                "features_done": dict(self._world.features_done),
                "events": [self._public_event(e) for e in self._world.events],
                "portal_links": [link.public() for link in self._links.values()],
                "portal_sessions": [s.public() for s in self._sessions.values()],
            }
