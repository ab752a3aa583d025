"""The committed OpenAPI document (`openapi.json`), generated from the handlers' pydantic models.

`--write` regenerates it; `--check` fails when the code, the document or template.yaml's routes
have drifted apart.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "openapi.json"
TITLE, VERSION = "Colis API", "1.0.0"
LOCAL_ONLY_PREFIX = "/_local/"


def template_routes(template_path: Path = ROOT / "template.yaml") -> dict[tuple[str, str], str]:
    """(METHOD, path) → handler module, for every `Type: Api` event of the template."""
    template, matches = decode(str(template_path))
    if matches:
        raise SystemExit(f"template.yaml does not parse: {matches}")
    routes = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        handler = resource["Properties"]["Handler"]
        module = handler.rsplit(".", 1)[0].replace("/", ".")
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "Api":
                props = event["Properties"]
                routes[(props["Method"].upper(), props["Path"])] = module
    return routes


def _merge_components(into: dict[str, Any], schemas: dict[str, Any], module: str) -> None:
    for name, schema in schemas.items():
        if name in into and into[name] != schema:
            raise SystemExit(f"schema {name!r} differs between handlers ({module}); give the models distinct names")
        into[name] = schema


def generate() -> dict[str, Any]:
    routes = template_routes()
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION,
                 "description": "Colis: tracking webhooks, notifications, orders, customers, exports, retention."},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    for module_name in sorted(set(routes.values())):
        app = importlib.import_module(module_name).app
        schema = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if (method.upper(), path) not in routes:
                    continue
                if path.startswith("/v1/"):
                    operation["security"] = [{"bearer": []}]
                document["paths"].setdefault(path, {})[method] = operation
        _merge_components(document["components"]["schemas"], schema.get("components", {}).get("schemas", {}),
                          module_name)
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


def drift(document: dict[str, Any]) -> list[str]:
    problems = []
    declared = {(m, p) for (m, p) in template_routes()}
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    problems += [f"{m} {p}: in template.yaml, not served by its handler" for m, p in sorted(declared - documented)]
    problems += [f"{m} {p}: documented, not in template.yaml" for m, p in sorted(documented - declared)]
    committed = json.loads(DOCUMENT.read_text()) if DOCUMENT.exists() else None
    if committed != document:
        problems.append("openapi.json differs from the code: run `make openapi` and commit it")
    return problems


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    document = generate()
    if args.write:
        DOCUMENT.write_text(render(document))
        print(f"wrote {DOCUMENT.relative_to(ROOT)} ({len(document['paths'])} paths)")
        return 0
    problems = drift(document)
    for problem in problems:
        print(f"openapi drift: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
