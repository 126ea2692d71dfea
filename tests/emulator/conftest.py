"""Contract-test tools: the real SDK against the emulator, each answer checked against WorkOS's OpenAPI description."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx2
import pytest
import workos
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.fixtures.emulator import EmulatorHandle

SPEC_PATH = Path(__file__).parent / "openapi" / "open-api-spec.yaml"
SPEC_URI = "urn:workos-openapi-spec"
T = TypeVar("T")


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    body: Any


@dataclass
class OpenAPISpec:
    """WorkOS's published OpenAPI description, able to check one answer against it."""

    document: dict[str, Any]
    registry: Registry[Any]
    _routes: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        templates = sorted(self.document["paths"], key=lambda p: p.count("{"))
        for template in templates:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template))

    def template(self, path: str) -> str | None:
        return next((t for rx, t in self._routes if rx.match(path)), None)

    def schema_pointer(self, method: str, path: str, status: int) -> str | None:
        """JSON pointer of the response schema, or None when the spec does not cover it."""
        template = self.template(path)
        if template is None:
            return None
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            return None
        response = operation.get("responses", {}).get(str(status))
        if response is None or "application/json" not in response.get("content", {}):
            return None
        escaped = template.replace("~", "~0").replace("/", "~1")
        return f"#/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"

    def errors(self, exchange: Exchange) -> list[str] | None:
        """Schema violations of one answer; None when the spec has nothing to say."""
        pointer = self.schema_pointer(exchange.method, exchange.path, exchange.status)
        if pointer is None:
            return None
        validator = Draft202012Validator(
            {"$ref": SPEC_URI + pointer}, registry=self.registry
        )
        return [
            f"{exchange.method} {exchange.path} {exchange.status}: "
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(exchange.body)
        ]


@pytest.fixture(scope="session")
def openapi_spec() -> OpenAPISpec:
    """The vendored @workos/openapi-spec, parsed once per run."""
    document = yaml.load(SPEC_PATH.read_text(), Loader=yaml.CSafeLoader)
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return OpenAPISpec(document, Registry().with_resource(SPEC_URI, resource))


class SDKRunner:
    """Runs coroutines with a real SDK client and keeps every answer for spec checks."""

    def __init__(self, emulator: EmulatorHandle) -> None:
        self.emulator = emulator
        self.exchanges: list[Exchange] = []

    async def _record(self, response: httpx2.Response) -> None:
        await response.aread()
        body = None
        if response.content:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
        self.exchanges.append(
            Exchange(
                response.request.method,
                urlsplit(str(response.request.url)).path,
                response.status_code,
                body,
            )
        )

    def __call__(
        self, use: Callable[[workos.AsyncWorkOSClient], Awaitable[T]], **options: Any
    ) -> T:
        """`sdk(lambda c: c.organizations.get_organization(id))`; max_retries defaults to 0."""

        async def main() -> T:
            async with httpx2.AsyncClient(
                event_hooks={"response": [self._record]}
            ) as http:
                options.setdefault("max_retries", 0)
                client = self.emulator.client(http_client=http, **options)
                return await use(client)

        return asyncio.run(main())


@pytest.fixture
def sdk(emulator: EmulatorHandle, openapi_spec: OpenAPISpec) -> Iterator[SDKRunner]:
    """Call the emulator through the SDK; after the test every answer the spec covers must match it."""
    runner = SDKRunner(emulator)
    yield runner
    problems = [p for x in runner.exchanges for p in (openapi_spec.errors(x) or [])]
    assert not problems, (
        "answers differ from the WorkOS OpenAPI description:\n" + "\n".join(problems)
    )
