"""Fixtures live in tests/fixtures/, one module per peer; each says when to use it."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.emulator",
    "tests.fixtures.identity",
    "tests.fixtures.staff",
    "tests.fixtures.smtp",
    "tests.fixtures.live_server",
]
