"""One local stack, started in this process from tests/local/fixture_template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local import Stack, start_stack

HERE = Path(__file__).parent
PROJECT_ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack(HERE / "fixture_template.yaml", api_port=0, moto_port=0, state_file=None, seed=False,
                          project_root=PROJECT_ROOT, background_schedules=False, ttl_interval=1.0)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(stack: Stack) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
