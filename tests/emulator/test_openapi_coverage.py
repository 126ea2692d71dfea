"""Which emulator answers the vendored OpenAPI description checks (the `sdk` fixture checks them all)."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import OpenAPISpec

COVERED = [
    ("GET", "/organizations", 200),
    ("POST", "/organizations", 201),
    ("GET", "/organizations/org_1", 200),
    ("GET", "/organizations/external_id/crm-1", 200),
    ("PUT", "/organizations/org_1", 200),
    ("GET", "/organizations/org_1/audit_log_configuration", 200),
    ("POST", "/organization_domains", 201),
    ("GET", "/organization_domains/org_domain_1", 200),
    ("POST", "/organization_domains/org_domain_1/verify", 201),
    ("POST", "/portal/generate_link", 201),
    ("GET", "/connections", 200),
    ("GET", "/connections/conn_1", 200),
    ("GET", "/directories", 200),
    ("GET", "/directories/directory_1", 200),
    ("GET", "/events", 200),
]


@pytest.mark.parametrize(("method", "path", "status"), COVERED)
def test_the_spec_describes_these_answers(
    openapi_spec: OpenAPISpec, method: str, path: str, status: int
) -> None:
    assert openapi_spec.schema_pointer(method, path, status) is not None


def test_the_spec_lacks_revoke_link(openapi_spec: OpenAPISpec) -> None:
    """Not in @workos/openapi-spec 0.1.0: the SDK is the only reference there."""
    assert openapi_spec.template("/portal/revoke_link") is None
