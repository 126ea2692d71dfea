"""The ASGI app for `dashboard serve` (uvicorn imports it in each worker)."""

from __future__ import annotations

import sys

from dashboard.app import create_app
from dashboard.settings import SettingsError, load_settings

try:
    _settings = load_settings()
except SettingsError as exc:  # uvicorn workers import this module directly
    sys.stderr.write(f"configuration error: {exc}\n")
    raise SystemExit(2) from None

app = create_app(_settings)
