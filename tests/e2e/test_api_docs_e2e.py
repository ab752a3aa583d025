"""The local stack serves the committed OpenAPI document and a Swagger UI page that a browser
renders with no network beyond the stack itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PROJECT_ROOT, ApiClient
from tests.e2e.test_tracking_browser import BROWSER_TIMEOUT_SECONDS, chromium

pytestmark = pytest.mark.xdist_group("e2e")


def test_the_stack_serves_the_committed_document_with_itself_as_server(local_stack: dict[str, Any],
                                                                        public_api: ApiClient) -> None:
    response = public_api.get("/_local/openapi.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    served = response.json()
    assert served.pop("servers") == [{"url": local_stack["api_url"], "description": "this local stack"}]
    assert served == json.loads((PROJECT_ROOT / "openapi.json").read_text())


def test_swagger_ui_renders_every_operation_offline(local_stack: dict[str, Any], tmp_path: Path) -> None:
    browser = chromium()
    # Every host but the stack's resolves to nothing: a CDN asset would leave the page blank.
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={tmp_path}",
               "--virtual-time-budget=20000", "--dump-dom", f"{local_stack['api_url']}/_local/docs"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    dom = finished.stdout
    assert "Unable to render this definition" not in dom and "Failed to load API definition" not in dom
    assert 'class="swagger-ui"' in dom and "Colis API" in dom
    document = json.loads((PROJECT_ROOT / "openapi.json").read_text())
    rendered = [path for path in document["paths"] if f'data-path="{path}"' in dom]
    assert rendered == list(document["paths"]), sorted(set(document["paths"]) - set(rendered))
