from __future__ import annotations

from pathlib import Path

import pytest

from tests import artifacts


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `sam build` per session (per xdist worker: every test using it is in the `sam_build`
    group, so one worker builds)."""
    return artifacts.build(tmp_path_factory.mktemp("sam-build"))
