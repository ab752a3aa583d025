"""Local-only API documentation: the committed OpenAPI document and a Swagger UI page, served by
the local stack from the installed `swagger_ui_bundle` package (no CDN: the page works offline)."""

from __future__ import annotations

import copy
import json
import mimetypes
from pathlib import Path
from typing import Any

from local.gateway_responses import Answer, json_answer, problem

DOCUMENT_PATH = "/_local/openapi.json"
DOCS_PATH = "/_local/docs"
_UI_DOCUMENT = "openapi-3.0.json"
_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png",
           "favicon-16x16.png")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Colis API (local stack)</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script src="{docs}/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "{docs}/{document}", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"
  }});
}};
</script>
</body>
</html>
"""


def swagger_ui_directory() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


def as_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """The document as OpenAPI 3.0 for the page: swagger-ui-bundle 1.1.0 ships Swagger UI 4, which
    refuses to render 3.1. Only what the generator emits is translated (`type: null` alternatives
    become `nullable`, `const` an enum of one); /_local/openapi.json stays the real document."""
    converted = _to_30(copy.deepcopy(document))
    converted["openapi"] = "3.0.3"
    return converted


def _to_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    alternatives = node.get("anyOf")
    if isinstance(alternatives, list) and {"type": "null"} in alternatives:
        rest = [_to_30(alternative) for alternative in alternatives if alternative != {"type": "null"}]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node.update(rest[0])
        elif len(rest) == 1:
            node["allOf"] = rest
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    node = {key: _to_30(value) for key, value in node.items()}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("type") == "null":  # a lone null (no other alternative): any value, nullable
        del node["type"]
        node["nullable"] = True
    return node


class ApiDocs:
    """`GET /_local/openapi.json` (the committed document, `servers` = this stack) and
    `GET /_local/docs` (Swagger UI, with its assets under /_local/docs/)."""

    def __init__(self, document_file: Path, api_url: str, assets: Path | None = None) -> None:
        self._document_file = document_file
        self._api_url = api_url
        self._assets = assets if assets is not None else swagger_ui_directory()

    def handle(self, method: str, path: str) -> Answer | None:
        if method not in ("GET", "HEAD"):
            return None
        if path == DOCUMENT_PATH:
            return self._document(as_30=False)
        if path.rstrip("/") == DOCS_PATH:
            return self._page()
        if path.startswith(DOCS_PATH + "/"):
            name = path.removeprefix(DOCS_PATH + "/")
            return self._document(as_30=True) if name == _UI_DOCUMENT else self._asset(name)
        return None

    def _document(self, *, as_30: bool) -> Answer:
        if not self._document_file.is_file():
            return problem(404, "Not Found", f"{self._document_file.name} is missing: run `make openapi`.")
        document = json.loads(self._document_file.read_text(encoding="utf-8"))
        document["servers"] = [{"url": self._api_url, "description": "this local stack"}]
        return json_answer(200, as_openapi_30(document) if as_30 else document)

    def _page(self) -> Answer:
        if self._assets is None:
            return problem(404, "Not Found", "The swagger-ui-bundle package is not installed (make install).")
        body = _PAGE.format(docs=DOCS_PATH, document=_UI_DOCUMENT).encode("utf-8")
        return Answer(200, [("Content-Type", "text/html; charset=utf-8")], body)

    def _asset(self, name: str) -> Answer:
        # Only the page's own files by name: never a path into the package directory.
        if self._assets is None or name not in _ASSETS or not (self._assets / name).is_file():
            return problem(404, "Not Found", f"No documentation asset {name!r}.")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return Answer(200, [("Content-Type", content_type), ("Cache-Control", "max-age=3600")],
                      (self._assets / name).read_bytes())
