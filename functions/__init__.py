"""Lambda functions: collection stays rare while a handler loads (see shared/platform/coldstart.py)."""

from shared.platform import coldstart

coldstart.loading()
