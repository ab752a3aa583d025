"""The local stack's API documentation routes (local/docs.py), without a running stack: the served
document, and the Swagger UI 5 page (powertools' bundle) reading it as it is (OpenAPI 3.1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local.__main__ import _banner
from local.docs import DOCS_PATH, DOCUMENT_PATH, ApiDocs, swagger_ui_directory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = PROJECT_ROOT / "openapi.json"
API_URL = "http://127.0.0.1:3999"


@pytest.fixture
def docs() -> ApiDocs:
    return ApiDocs(COMMITTED, API_URL)


def _content_type(answer: object) -> str:
    return dict((name.lower(), value) for name, value in answer.headers)["content-type"]  # type: ignore[attr-defined]


def test_the_document_is_the_committed_one_served_from_this_stack(docs: ApiDocs) -> None:
    answer = docs.handle("GET", DOCUMENT_PATH)
    assert answer is not None and answer.status == 200
    served = json.loads(answer.body)
    assert served.pop("servers") == [{"url": API_URL, "description": "this local stack"}]
    assert served == json.loads(COMMITTED.read_text())


def test_the_page_loads_swagger_ui_from_the_stack_only(docs: ApiDocs) -> None:
    answer = docs.handle("GET", DOCS_PATH)
    assert answer is not None and answer.status == 200 and _content_type(answer).startswith("text/html")
    page = answer.body.decode()
    assert "//" not in re.sub(r"<!--.*?-->", "", page).replace("://", ""), "no protocol-relative URL"
    assert not re.search(r"https?://", page), "no CDN or other remote URL"
    references = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r'url: "([^"]+)"', page)
    assert {f"{DOCS_PATH}/swagger-ui-bundle.js", f"{DOCS_PATH}/swagger-ui.css"} <= set(references)
    for reference in references:
        served = docs.handle("GET", reference)
        assert served is not None and served.status == 200 and served.body, reference
    assert _content_type(docs.handle("GET", f"{DOCS_PATH}/swagger-ui-bundle.js")).startswith("text/javascript")


@pytest.mark.parametrize("path", [f"{DOCS_PATH}/../../../pyvenv.cfg", f"{DOCS_PATH}/index.j2",
                                  f"{DOCS_PATH}/%2e%2e/swagger-ui.css", f"{DOCS_PATH}/nothing.js"])
def test_only_the_pages_own_assets_are_served(docs: ApiDocs, path: str) -> None:
    answer = docs.handle("GET", path)
    assert answer is not None and answer.status == 404
    assert _content_type(answer) == "application/problem+json"


def test_other_paths_and_methods_are_left_to_the_other_routes(docs: ApiDocs) -> None:
    assert docs.handle("POST", DOCUMENT_PATH) is None
    assert docs.handle("GET", "/_local/clock") is None


def test_without_the_committed_document_the_route_says_how_to_make_it(tmp_path: Path) -> None:
    answer = ApiDocs(tmp_path / "openapi.json", API_URL).handle("GET", DOCUMENT_PATH)
    assert answer is not None and answer.status == 404 and b"make openapi" in answer.body


def test_the_assets_are_swagger_ui_5_from_powertools() -> None:
    directory = swagger_ui_directory()
    assert directory is not None and "aws_lambda_powertools" in directory.parts
    script = (directory / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    assert re.search(r'"5\.\d+\.\d+"', script), "Swagger UI 5 (it renders OpenAPI 3.1)"


def test_the_page_reads_the_31_document_itself(docs: ApiDocs) -> None:
    page = docs.handle("GET", DOCS_PATH).body.decode()  # type: ignore[union-attr]
    assert re.findall(r'url: "([^"]+)"', page) == [DOCUMENT_PATH]
    assert json.loads(docs.handle("GET", DOCUMENT_PATH).body)["openapi"].startswith("3.1")  # type: ignore[union-attr]
    assert docs.handle("GET", f"{DOCS_PATH}/openapi-3.0.json").status == 404  # type: ignore[union-attr]


def test_the_start_up_banner_prints_the_docs_url() -> None:
    banner = _banner({"api_url": API_URL, "aws_endpoint_url": "http://127.0.0.1:5000"})
    assert f"{API_URL}{DOCS_PATH}" in banner and f"{API_URL}{DOCUMENT_PATH}" in banner
