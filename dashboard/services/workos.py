"""Everything the app asks of WorkOS, through the official SDK's async client.

Every failure leaves here as a `WorkOSFailure` carrying what staff and IT
admins should read (DESIGN.md lists the causes and fixes), so no endpoint ever
shows an SDK exception or a bare 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import workos
from workos import _errors as sdk_errors
from workos.common.models.organization_domain_data_state import (
    OrganizationDomainDataState,
)
from workos.organizations.models import Organization as WorkOSOrganization
from workos.organizations.models import OrganizationDomainData

from dashboard.settings import Settings

log = logging.getLogger(__name__)

PORTAL_LINK_TIMEOUT_SECONDS = 4.0
"""The IT admin waits on this call; past it they get a "try again" page."""


class WorkOSFailure(Exception):
    """A WorkOS call that did not succeed, explained for people.

    `kind` is one of: "auth", "forbidden", "not_found", "conflict", "invalid",
    "rate_limited", "unavailable", "unreachable", "timeout", "bug".
    """

    def __init__(
        self,
        kind: str,
        staff_message: str,
        admin_message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(staff_message)
        self.kind = kind
        self.staff_message = staff_message
        self.admin_message = admin_message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        """Seconds WorkOS asked us to wait (429 `Retry-After`), for callers that retry."""


@dataclass(frozen=True)
class FeatureStatus:
    """What WorkOS reports for one portal feature of an organization."""

    done: bool
    detail: str


class WorkOSGateway(Protocol):
    """The WorkOS operations the dashboard uses. One implementation: the real SDK."""

    async def create_organization(
        self, *, name: str, external_id: str, domains: Sequence[str]
    ) -> WorkOSOrganization:
        """Create the organization with its domains (pending verification)."""
        ...

    async def find_organization_by_external_id(
        self, external_id: str
    ) -> WorkOSOrganization | None:
        """The organization with this external id, or None; how a half-done create resumes."""
        ...

    async def get_organization(self, organization_id: str) -> WorkOSOrganization: ...

    async def rename_organization(
        self, organization_id: str, name: str
    ) -> WorkOSOrganization: ...

    async def delete_organization(self, organization_id: str) -> None:
        """Delete it at WorkOS; already gone counts as done."""
        ...

    async def add_domain(self, organization_id: str, domain: str) -> tuple[str, str]:
        """Attach a domain; returns its WorkOS id and verification state."""
        ...

    async def remove_domain(self, domain_id: str) -> None:
        """Detach a domain at WorkOS; already gone counts as done."""
        ...

    async def generate_portal_link(
        self,
        *,
        organization_id: str,
        intent: str,
        return_url: str,
        success_url: str,
        external_user_id: str,
        it_contact_emails: Sequence[str],
    ) -> str:
        """Mint a five-minute portal link. Never store, log or show the result."""
        ...

    async def revoke_portal_links(
        self, *, organization_id: str, external_user_id: str
    ) -> None:
        """End every link and open portal session minted for `external_user_id`."""
        ...

    async def feature_status(
        self, organization_id: str, intents: Sequence[str]
    ) -> dict[str, FeatureStatus]:
        """Per intent, whether WorkOS reports its setup finished."""
        ...

    async def list_events(
        self, *, after: str | None, names: Sequence[str], limit: int
    ) -> list[dict[str, Any]]:
        """Events named `names` after event id `after` (all when None), oldest first."""
        ...

    async def check_credentials(self) -> None:
        """A cheap authenticated call; raises WorkOSFailure when the key is refused."""
        ...

    async def close(self) -> None:
        """Release the HTTP connections; whoever built the gateway closes it."""
        ...


def translate(exc: BaseException, *, support_email: str = "") -> WorkOSFailure:
    """Turn an SDK exception into the message DESIGN.md prescribes for its cause."""
    contact = f"Contact your account manager{f' at {support_email}' if support_email else ''}."
    if isinstance(exc, WorkOSFailure):
        return exc
    if isinstance(exc, sdk_errors.AuthenticationError):
        return WorkOSFailure(
            "auth",
            "WorkOS refused the API key (401): set WORKOS_API_KEY to a valid secret key for this environment.",
            "Your portal session has expired. Click the feature again to get a fresh one.",
            status=401,
        )
    if isinstance(exc, sdk_errors.AuthorizationError):
        return WorkOSFailure(
            "forbidden",
            "WorkOS answered 403: the API key lacks permission for this, or belongs to another environment. Check WORKOS_API_KEY in the WorkOS dashboard.",
            f"This setup link cannot open the portal right now. {contact}",
            status=403,
        )
    if isinstance(exc, sdk_errors.NotFoundError):
        return WorkOSFailure(
            "not_found",
            "WorkOS has no such organization: it was deleted at WorkOS, or WORKOS_API_KEY belongs to another environment (test keys start sk_test_, production keys sk_live_).",
            f"This organization is not available for setup. {contact}",
            status=404,
        )
    if isinstance(exc, sdk_errors.ConflictError):
        return WorkOSFailure(
            "conflict",
            "WorkOS already has an organization with this external id.",
            f"This setup link cannot open the portal right now. {contact}",
            status=409,
        )
    if isinstance(
        exc, (sdk_errors.UnprocessableEntityError, sdk_errors.BadRequestError)
    ):
        status = getattr(exc, "status_code", None)
        detail = _detail(exc)
        if "intent" in detail.lower():
            return WorkOSFailure(
                "bug",
                f"WorkOS rejected the portal intent ({detail}). This is a bug in the dashboard: please report it.",
                f"Something went wrong on our side. {contact}",
                status=status,
            )
        if "redirect" in detail.lower() or "url" in detail.lower():
            return WorkOSFailure(
                "invalid",
                f"WorkOS rejected a redirect URL ({detail}): check PUBLIC_URL and run `dashboard doctor`.",
                f"This setup link cannot open the portal right now. {contact}",
                status=status,
            )
        return WorkOSFailure(
            "invalid",
            f"WorkOS rejected the request: {detail}",
            f"Something went wrong on our side. {contact}",
            status=status,
        )
    if isinstance(exc, sdk_errors.RateLimitExceededError):
        return WorkOSFailure(
            "rate_limited",
            "WorkOS is limiting our requests (429) and retries did not get through: try again in a minute.",
            "The portal is busy right now. Wait a minute and click the feature again.",
            status=429,
            retryable=True,
            retry_after=exc.retry_after,
        )
    if isinstance(exc, sdk_errors.ServerError):
        return WorkOSFailure(
            "unavailable",
            f"WorkOS had an error ({getattr(exc, 'status_code', 500)}) and retries did not help: try again in a few minutes; status.workos.com says whether it is down.",
            "The portal is unavailable right now. Try again in a few minutes.",
            status=getattr(exc, "status_code", 500),
            retryable=True,
        )
    if isinstance(
        exc, (sdk_errors.WorkOSTimeoutError, asyncio.TimeoutError, TimeoutError)
    ):
        return WorkOSFailure(
            "timeout",
            "WorkOS did not answer in time: try again; if it keeps happening, check the network to WorkOS.",
            "The portal took too long to answer. Try again.",
            retryable=True,
        )
    if isinstance(exc, sdk_errors.WorkOSConnectionError):
        return WorkOSFailure(
            "unreachable",
            "Could not reach WorkOS: check the network and WORKOS_BASE_URL, then try again.",
            "The portal cannot be reached right now. Try again in a few minutes.",
            retryable=True,
        )
    return WorkOSFailure(
        "bug",
        f"Unexpected answer from WorkOS ({type(exc).__name__}). This is a bug in the dashboard: please report it.",
        f"Something went wrong on our side. {contact}",
    )


def _detail(exc: BaseException) -> str:
    body = getattr(exc, "response_json", None) or {}
    parts: list[str] = []
    for key in ("message", "error_description", "error", "code"):
        value = body.get(key) if isinstance(body, dict) else None
        if value:
            parts.append(str(value))
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list):
        parts.extend(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return "; ".join(parts) or str(getattr(exc, "message", "")) or type(exc).__name__


class SDKWorkOSGateway:
    """`WorkOSGateway` over `workos.AsyncWorkOSClient`, which retries 429 and 5xx itself."""

    def __init__(
        self,
        *,
        api_key: str,
        client_id: str,
        base_url: str,
        support_email: str = "",
        request_timeout: int = 10,
        max_retries: int = 3,
    ) -> None:
        self._client = workos.AsyncWorkOSClient(
            api_key=api_key,
            client_id=client_id,
            base_url=base_url,
            request_timeout=request_timeout,
            max_retries=max_retries,
        )
        self._support_email = support_email

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SDKWorkOSGateway:
        """The gateway for this deployment's key, client id and base URL."""
        return cls(
            api_key=settings.workos_api_key.reveal(),
            client_id=settings.workos_client_id,
            base_url=settings.workos_base_url,
            support_email=settings.support_email,
            **options,
        )

    async def _call(self, operation: str, coroutine: Any) -> Any:
        try:
            return await coroutine
        except Exception as exc:
            failure = translate(exc, support_email=self._support_email)
            log.warning(
                "workos_call_failed",
                extra={
                    "operation": operation,
                    "kind": failure.kind,
                    "status": failure.status,
                },
            )
            raise failure from None

    async def create_organization(
        self, *, name: str, external_id: str, domains: Sequence[str]
    ) -> WorkOSOrganization:
        domain_data = [
            OrganizationDomainData(domain=d, state=OrganizationDomainDataState.PENDING)
            for d in domains
        ]
        result: WorkOSOrganization = await self._call(
            "create_organization",
            self._client.organizations.create_organization(
                name=name, external_id=external_id, domain_data=domain_data
            ),
        )
        return result

    async def find_organization_by_external_id(
        self, external_id: str
    ) -> WorkOSOrganization | None:
        try:
            result: WorkOSOrganization = await self._call(
                "get_organization_by_external_id",
                self._client.organizations.get_organization_by_external_id(external_id),
            )
        except WorkOSFailure as failure:
            if failure.kind == "not_found":
                return None
            raise
        return result

    async def get_organization(self, organization_id: str) -> WorkOSOrganization:
        result: WorkOSOrganization = await self._call(
            "get_organization",
            self._client.organizations.get_organization(organization_id),
        )
        return result

    async def rename_organization(
        self, organization_id: str, name: str
    ) -> WorkOSOrganization:
        result: WorkOSOrganization = await self._call(
            "update_organization",
            self._client.organizations.update_organization(organization_id, name=name),
        )
        return result

    async def _delete(self, operation: str, coroutine: Any) -> None:
        """A delete that finds nothing left to delete has done its job."""
        try:
            await self._call(operation, coroutine)
        except WorkOSFailure as failure:
            if failure.kind != "not_found":
                raise

    async def delete_organization(self, organization_id: str) -> None:
        await self._delete(
            "delete_organization",
            self._client.organizations.delete_organization(organization_id),
        )

    async def add_domain(self, organization_id: str, domain: str) -> tuple[str, str]:
        result = await self._call(
            "create_organization_domain",
            self._client.organization_domains.create_organization_domain(
                domain=domain, organization_id=organization_id
            ),
        )
        return str(result.id), str(getattr(result.state, "value", result.state))

    async def remove_domain(self, domain_id: str) -> None:
        await self._delete(
            "delete_organization_domain",
            self._client.organization_domains.delete_organization_domain(domain_id),
        )

    async def generate_portal_link(
        self,
        *,
        organization_id: str,
        intent: str,
        return_url: str,
        success_url: str,
        external_user_id: str,
        it_contact_emails: Sequence[str],
    ) -> str:
        call = self._client.admin_portal.generate_link(
            organization=organization_id,
            intent=intent,
            return_url=return_url,
            success_url=success_url,
            external_user_id=external_user_id,
            it_contact_emails=list(it_contact_emails),
        )
        result = await self._call(
            "generate_link", asyncio.wait_for(call, PORTAL_LINK_TIMEOUT_SECONDS)
        )
        return str(result.link)

    async def revoke_portal_links(
        self, *, organization_id: str, external_user_id: str
    ) -> None:
        await self._call(
            "revoke_link",
            self._client.admin_portal.revoke_link(
                organization=organization_id, external_user_id=external_user_id
            ),
        )

    async def feature_status(
        self, organization_id: str, intents: Sequence[str]
    ) -> dict[str, FeatureStatus]:
        status: dict[str, FeatureStatus] = {}
        if "sso" in intents:
            page = await self._call(
                "list_connections",
                self._client.sso.list_connections(
                    organization_id=organization_id, limit=10
                ),
            )
            states = [str(getattr(c.state, "value", c.state)) for c in page.data]
            active = "active" in states
            status["sso"] = FeatureStatus(
                active,
                "connection active"
                if active
                else (f"connection {states[0]}" if states else "no connection yet"),
            )
        if "dsync" in intents:
            page = await self._call(
                "list_directories",
                self._client.directory_sync.list_directories(
                    organization_id=organization_id, limit=10
                ),
            )
            states = [str(getattr(d.state, "value", d.state)) for d in page.data]
            linked = "linked" in states or "active" in states
            status["dsync"] = FeatureStatus(
                linked,
                "directory linked"
                if linked
                else (f"directory {states[0]}" if states else "no directory yet"),
            )
        if "audit_logs" in intents or "log_streams" in intents:
            # No WorkOS event announces these two; the configuration tells.
            config = await self._call(
                "get_audit_log_configuration",
                self._client.organizations.get_audit_log_configuration(organization_id),
            )
            audit_state = str(getattr(config.state, "value", config.state))
            status["audit_logs"] = FeatureStatus(
                audit_state == "active", f"audit logs {audit_state}"
            )
            stream = config.log_stream
            stream_state = (
                str(getattr(stream.state, "value", stream.state)) if stream else ""
            )
            status["log_streams"] = FeatureStatus(
                stream_state == "active",
                f"log stream {stream_state}" if stream else "no log stream yet",
            )
        if "domain_verification" in intents:
            organization = await self.get_organization(organization_id)
            domain_states = [
                str(getattr(d.state, "value", d.state)) for d in organization.domains
            ]
            count = sum(s in ("verified", "legacy_verified") for s in domain_states)
            verified = bool(domain_states) and count == len(domain_states)
            status["domain_verification"] = FeatureStatus(
                verified,
                "all domains verified"
                if verified
                else f"{count} of {len(domain_states)} domains verified",
            )
        return status

    async def close(self) -> None:
        await self._client.close()

    async def list_events(
        self, *, after: str | None, names: Sequence[str], limit: int
    ) -> list[dict[str, Any]]:
        page = await self._call(
            "list_events",
            self._client.events.list_events(
                events=list(names), after=after, order="asc", limit=limit
            ),
        )
        return [item.to_dict() for item in page.data]

    async def check_credentials(self) -> None:
        await self._call(
            "list_organizations", self._client.organizations.list_organizations(limit=1)
        )
