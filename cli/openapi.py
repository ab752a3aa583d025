"""The committed OpenAPI document (`openapi.json`), generated from the handlers' pydantic models.

`--write` regenerates it; `--check` fails when the code, the document or template.yaml's routes
have drifted apart.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from shared.http import problems

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


PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMAS = {
    "Problem": {
        "title": "Problem", "type": "object", "required": ["type", "title", "status", "detail"],
        "description": "RFC 9457 problem details: every error of the API.",
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array",
                       "items": {"anyOf": [{"$ref": "#/components/schemas/FieldProblem"},
                                           {"$ref": "#/components/schemas/EventProblem"}]},
                       "description": "422: one entry per invalid field; a rejected webhook batch: per event"},
        },
    },
    "FieldProblem": {
        "title": "FieldProblem", "type": "object", "required": ["field", "type", "message"],
        "properties": {"field": {"type": "string"}, "type": {"type": "string"}, "message": {"type": "string"}},
    },
    "EventProblem": {
        "title": "EventProblem", "type": "object", "required": ["index", "detail"],
        "properties": {"index": {"type": "integer"}, "detail": {"type": "string"}},
    },
}
# powertools' own validation-error models: our resolver answers problem details instead.
_POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, an unknown query parameter, a tampered or foreign cursor, or a missing required header",
    401: "Missing or invalid API key (webhooks: a bad signature)",
    403: "A read-only API key on a write, or the merchant is not enrolled in a usage plan",
    404: "No such resource (another merchant's is not found either)",
    405: "This method is not allowed on this resource",
    409: "Conflicts with the resource's current state",
    410: "No longer available",
    413: "The request body is too large",
    415: "Send the body as application/json",
    422: "Invalid fields (`errors` lists them)",
    429: "Too many requests (API Gateway throttling): retry later",
    503: "A dependency failed: send the same request again",
}
# Which errors each family of routes can answer (API.md), beside any its handler declares and those
# that depend on the route's shape (`_errors_of`).
_ERRORS_BY_PREFIX = {
    "/v1/": (400, 401, 403, 422, 429, 503),
    "/webhooks/": (400, 401, 404, 413, 422, 429, 503),
    "/track/": (404, 422, 429),
}
# A typical `detail` per status, for the problem example each error response shows.
_EXAMPLE_DETAILS = {
    400: "Unknown query parameter(s): colour. This route accepts: limit, cursor.",
    401: "Missing or invalid API key: send Authorization: Bearer <api key>.",
    403: "This API key is read-only (scope read): use a key with scope write.",
    404: "Shipment shp_1m98w6q3cz7m2k5x0n4t8r9ab does not exist.",
    405: "Customers cannot be deleted; erase one with POST /v1/customers/{id}/erase.",
    409: "The resource changed meanwhile or its state refuses this request; the detail says which rule.",
    410: "The export's file has expired; create the export again.",
    413: "The request body is larger than 1 MiB.",
    415: "Send the body as application/json (Content-Type: application/json).",
    422: "The request has invalid fields.",
    429: "Too many requests: retry later.",
    503: "A dependency failed: send the same request again.",
}
_EXAMPLE_FIELD_ERRORS = [{"field": "body.currency", "type": "value_error",
                          "message": "currency must be an ISO 4217 code such as EUR"}]
EXAMPLES = Path(__file__).resolve().parent / "openapi_examples.json"


def _errors_of(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The errors `operation` can answer: its family's, 404 where the path or the body names a
    resource (an export's `customer_id`, a shipment's `order_id`), 409 on writes (a refusing rule
    or a version changed meanwhile), 413 and 415 where it takes a body."""
    statuses = set(next((codes for prefix, codes in _ERRORS_BY_PREFIX.items() if path.startswith(prefix)), ()))
    if path.startswith("/v1/"):
        if "{" in path or operation.get("requestBody"):
            statuses.add(404)
        if method != "get":
            statuses.add(409)
        if operation.get("requestBody"):
            statuses |= {413, 415}
    return statuses


def problem_example(status: int) -> dict[str, Any]:
    """The problem details `shared.http.problems` answers with this status (its `type` and title)."""
    title = next(title for _, code, title in problems.STATUS if code == status)
    return problems.problem_body(status, title, _EXAMPLE_DETAILS[status],
                                 _EXAMPLE_FIELD_ERRORS if status == 422 else None)
# How each carrier signs its deliveries (carriers/README.md), for the webhook's documentation.
_CARRIER_SIGNATURES = {
    "aftership": "header `aftership-hmac-sha256`: base64 HMAC-SHA256 of the body",
    "colis": "header `Colis-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256 of `<t>.<body>`, `t` within 300 s; "
             "a batch is `{\"events\": [...]}`",
    "easypost": "header `X-Hmac-Signature: hmac-sha256-hex=<hex>` (secret NFKD-normalised)",
    "sendcloud": "header `Sendcloud-Signature`: hex HMAC-SHA256 of the body",
    "shippo": "`?token=<secret>` in the URL, or header `Shippo-Auth-Signature: t=<unix>,v1=<hex>`",
}
_WEBHOOK_EXAMPLES = Path(__file__).resolve().parent / "webhook_examples"


def _webhook_body() -> dict[str, Any]:
    """The carrier webhook's body, one documented example per carrier (its own published sample;
    `colis` is ours), each saying how that carrier signs."""
    examples = {carrier: {"summary": carrier, "description": f"Signed with {signature}.",
                          "value": json.loads((_WEBHOOK_EXAMPLES / f"{carrier}.json").read_text(encoding="utf-8"))}
                for carrier, signature in sorted(_CARRIER_SIGNATURES.items())}
    return {"description": "The carrier's delivery as it sends and signs it (JSON), verified over the raw bytes: "
                           "the `{carrier}` segment names the format. Event types other than tracking updates are "
                           "answered 200 and ignored.",
            "required": True, "content": {"application/json": {"schema": {"type": "object"}, "examples": examples}}}


# Routes that read their raw body (not a pydantic model), so powertools cannot describe it.
_RAW_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/webhooks/{carrier}/{connection_id}"): _webhook_body(),
    ("post", "/v1/customer-imports"): {
        "description": 'The CSV file (at most 4,000,000 bytes), or `{"upload": true}` for a presigned upload URL.',
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object", "required": ["upload"],
                                                    "properties": {"upload": {"type": "boolean"}}}}}},
}


# Headers an operation cannot do without, which its handler reads as optional: so that a missing
# one is the 400 the service words (a header powertools requires would be a 422 about a field).
_REQUIRED_HEADERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("post", "/v1/orders/{order_id}/refunds"): ("idempotency-key",),
}


def mark_required_headers(method: str, path: str, operation: dict[str, Any]) -> None:
    required = _REQUIRED_HEADERS.get((method, path), ())
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name", "").lower() in required:
            parameter["required"] = True
            schema = parameter.get("schema", {})
            alternatives = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
            if len(alternatives) == 1:
                schema.update(alternatives[0])
            schema.pop("default", None)


def _problem_response(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    """`status` answered as problem details; other media types a handler declares (the tracking
    page's HTML 404) are kept."""
    content = {media: spec for media, spec in ((existing or {}).get("content") or {}).items()
               if media not in ("application/json", PROBLEM_JSON)}
    description = (existing or {}).get("description")
    if not description or description == "Validation Error":
        description = ERROR_DESCRIPTIONS.get(status, "Error")
    example = problem_example(status)
    problem = {"schema": PROBLEM_REF, "examples": {example["title"]: {"value": example}}}
    return {"description": f"{description} (problem type `{example['type']}`)",
            "content": {PROBLEM_JSON: problem, **content}}


def document_errors(method: str, path: str, operation: dict[str, Any]) -> None:
    """Every 4xx/5xx of `operation` as application/problem+json with an example of the problem
    answered, the request body of raw-body routes, and no body on a 204 or a redirect."""
    raw_body = _RAW_BODIES.get((method, path))
    if raw_body is not None:
        operation["requestBody"] = copy.deepcopy(raw_body)
    responses = operation.setdefault("responses", {})
    statuses = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    statuses |= _errors_of(method, path, operation)
    for status in sorted(statuses):
        responses[str(status)] = _problem_response(status, responses.get(str(status)))
    for code, response in responses.items():
        # powertools gives every response a JSON body, even a 204, a redirect or a `Response[None]`.
        json_schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
        if code == "204" or code.startswith("3") or json_schema.get("type") == "null":
            response.pop("content", None)
    operation["responses"] = dict(sorted(responses.items()))


def add_examples(method: str, path: str, operation: dict[str, Any], examples: dict[str, Any]) -> None:
    """The operation's request and response examples (`openapi_examples.json`: real requests and
    the answers Colis gave them, one per media type). An example the operation has no place for
    stops the generation: the data is stale."""
    found = examples.get(f"{method.upper()} {path}", {})
    places: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("request", (operation.get("requestBody") or {}).get("content") or {}, found.get("request") or {})]
    places += [(f"response {code}", (operation["responses"].get(code) or {}).get("content") or {}, by_media)
               for code, by_media in (found.get("responses") or {}).items()]
    for where, content, by_media in places:
        for media, value in by_media.items():
            if media not in content:
                raise SystemExit(f"openapi_examples.json: {method.upper()} {path} has no {media} {where}")
            content[media].setdefault("examples", {})["example"] = {"value": value}


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
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    for module_name in sorted(set(routes.values())):
        app = importlib.import_module(module_name).app
        schema = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if (method.upper(), path) not in routes:
                    continue
                if path.startswith("/v1/"):
                    operation["security"] = [{"bearer": []}]
                document_errors(method, path, operation)
                mark_required_headers(method, path, operation)
                add_examples(method, path, operation, examples)
                document["paths"].setdefault(path, {})[method] = operation
        _merge_components(document["components"]["schemas"], schema.get("components", {}).get("schemas", {}),
                          module_name)
    schemas = document["components"]["schemas"]
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        schemas.pop(name, None)
    _merge_components(schemas, PROBLEM_SCHEMAS, "problem details")
    # Powertools documents routes only: the events Colis sends merchants are added here.
    from shared.webhooks.payloads import openapi_webhooks

    webhooks, webhook_schemas = openapi_webhooks()
    _merge_components(schemas, webhook_schemas, "webhook payloads")
    document["webhooks"] = webhooks
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
