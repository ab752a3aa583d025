"""The `faults` fixture: an injector active for the test (tests/faults.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults import FaultInjector, injected_faults


@pytest.fixture
def faults(aws_env: dict[str, Any]) -> Iterator[FaultInjector]:
    with injected_faults() as injector:
        yield injector
