"""End-to-end fixtures: the real local stack (`python -m local`, as `make run` starts it) in a
subprocess, once per test session (per xdist worker), and HTTP clients bound to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 15


class ApiClient(requests.Session):
    """A requests.Session whose paths are relative to the API (`api.get("/v1/shipments")`)."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 60)
        return super().request(method, url, *args, **kwargs)


def _tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_for_state(process: subprocess.Popen[bytes], state_file: Path, stderr_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if state_file.exists():
            return json.loads(state_file.read_text(encoding="utf-8"))
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}:\n{_tail(stderr_path)}", pytrace=False)
        time.sleep(0.2)
    pytest.fail(f"the local stack was not ready after {START_TIMEOUT_SECONDS} s:\n{_tail(stderr_path)}",
                pytrace=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # SIGTERM: the stack shuts down its server, pollers and moto
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The state file of a running local stack: api_url, aws_endpoint_url, merchant_id, api_key,
    webhooks {carrier: {connection_id, url, secret}}, second_merchant {merchant_id, api_key}."""
    work = tmp_path_factory.mktemp("local-stack")
    state_file, stdout_path, stderr_path = work / "local-stack.json", work / "stdout.log", work / "stderr.log"
    logs: list[IO[bytes]] = [stdout_path.open("wb"), stderr_path.open("wb")]  # files: a full pipe would block it
    command = [sys.executable, "-m", "local", "--api-port", "0", "--moto-port", "0", "--state-file", str(state_file)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=logs[0], stderr=logs[1],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield _wait_for_state(process, state_file, stderr_path)
    finally:
        _stop(process)
        for log in logs:
            log.close()


@pytest.fixture
def api(local_stack: dict[str, Any]) -> Iterator[ApiClient]:
    """Client of the first seeded merchant (its API key in `Authorization`)."""
    with ApiClient(local_stack["api_url"], local_stack["api_key"]) as client:
        yield client


@pytest.fixture
def second_api(local_stack: dict[str, Any]) -> Iterator[ApiClient]:
    """Client of the second seeded merchant, for isolation tests."""
    with ApiClient(local_stack["api_url"], local_stack["second_merchant"]["api_key"]) as client:
        yield client


@pytest.fixture
def public_api(local_stack: dict[str, Any]) -> Iterator[ApiClient]:
    """Client without an API key: webhooks, tracking pages, `/_local/` routes."""
    with ApiClient(local_stack["api_url"]) as client:
        yield client
