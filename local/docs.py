"""Local-only API documentation: the committed OpenAPI document and a Swagger UI page, served by
the local stack. The page is Swagger UI 5 as powertools bundles it (its event_handler ships the
script and stylesheet for its own `enable_swagger`), so it renders the 3.1 document as it is and
needs no CDN nor a package of its own: it works offline."""

from __future__ import annotations

import json
from pathlib import Path

from local.gateway_responses import Answer, json_answer, problem

DOCUMENT_PATH = "/_local/openapi.json"
DOCS_PATH = "/_local/docs"
# The page's own files, by the name it asks for → the file in powertools' bundle.
_ASSETS = {"swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "text/javascript; charset=utf-8"),
           "swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8")}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Colis API (local stack)</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script>
window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "{document}", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
    docExpansion: "list", filter: true, tagsSorter: "alpha", persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
  }});
}};
</script>
</body>
</html>
"""


def swagger_ui_directory() -> Path | None:
    try:
        from aws_lambda_powertools.event_handler.openapi import swagger_ui
    except ImportError:
        return None
    return Path(swagger_ui.__file__).parent


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
            return self._document()
        if path.rstrip("/") == DOCS_PATH:
            return self._page()
        if path.startswith(DOCS_PATH + "/"):
            return self._asset(path.removeprefix(DOCS_PATH + "/"))
        return None

    def _document(self) -> Answer:
        if not self._document_file.is_file():
            return problem(404, "Not Found", f"{self._document_file.name} is missing: run `make openapi`.")
        document = json.loads(self._document_file.read_text(encoding="utf-8"))
        document["servers"] = [{"url": self._api_url, "description": "this local stack"}]
        return json_answer(200, document)

    def _page(self) -> Answer:
        if self._assets is None:
            return problem(404, "Not Found", "aws-lambda-powertools' Swagger UI bundle is not installed (make install).")
        body = _PAGE.format(docs=DOCS_PATH, document=DOCUMENT_PATH).encode("utf-8")
        return Answer(200, [("Content-Type", "text/html; charset=utf-8")], body)

    def _asset(self, name: str) -> Answer:
        # Only the page's own files by name: never a path into the package directory.
        asset = _ASSETS.get(name)
        if self._assets is None or asset is None or not (self._assets / asset[0]).is_file():
            return problem(404, "Not Found", f"No documentation asset {name!r}.")
        file_name, content_type = asset
        return Answer(200, [("Content-Type", content_type), ("Cache-Control", "max-age=3600")],
                      (self._assets / file_name).read_bytes())
