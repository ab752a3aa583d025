"""The embedded local stack (dev only, never deployed): `python -m local`, or `start_stack(...)`."""

from local.stack import Stack, start_stack

__all__ = ["Stack", "start_stack"]
