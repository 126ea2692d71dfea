"""A local stand-in for the WorkOS API, as stripe-mock is for Stripe (never in production)."""

from dashboard.emulator.app import create_emulator
from dashboard.emulator.core import Emulator
from dashboard.emulator.faults import Faults
from dashboard.emulator.server import ThreadedServer

__all__ = ["Emulator", "Faults", "ThreadedServer", "create_emulator"]
