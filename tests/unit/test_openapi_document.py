"""The committed OpenAPI document matches the code, and every route of template.yaml is
documented and served (and nothing else)."""

from __future__ import annotations

import json
import re

from cli import openapi


def test_the_committed_document_has_not_drifted() -> None:
    assert openapi.drift(openapi.generate()) == []


def test_every_public_route_of_the_contract_is_documented() -> None:
    paths = openapi.generate()["paths"]
    assert "/webhooks/{carrier}/{connection_id}" in paths
    assert all(path.startswith(("/v1/", "/webhooks/", "/track/")) for path in paths)
    assert all("security" in op for path, ops in paths.items() if path.startswith("/v1/") for op in ops.values())


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_route_of_the_template_is_in_the_committed_document_and_nothing_else() -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    documented = {(method, path) for method, path, _ in _operations(committed)}
    assert documented == set(openapi.template_routes())


def test_v1_operations_require_the_bearer_scheme_and_public_ones_do_not() -> None:
    document = openapi.generate()
    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for _, path, operation in _operations(document):
        assert (operation.get("security") == [{"bearer": []}]) == path.startswith("/v1/"), path


def test_every_error_response_is_problem_json() -> None:
    document = openapi.generate()
    problem = {"$ref": "#/components/schemas/Problem"}
    for method, path, operation in _operations(document):
        errors = {code: spec for code, spec in operation["responses"].items() if int(code) >= 400}
        assert {"422", "429"} <= set(errors), f"{method} {path}"
        for code, spec in errors.items():
            assert spec["content"]["application/problem+json"]["schema"] == problem, f"{method} {path} {code}"
            assert "application/json" not in spec["content"], f"{method} {path} {code}"
    assert {"type", "title", "status", "detail"} <= set(document["components"]["schemas"]["Problem"]["required"])


def _has_body(operation: dict) -> bool:
    return bool(operation.get("requestBody"))


def test_each_operation_lists_the_errors_its_route_can_answer() -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    for method, path, operation in _operations(committed):
        label = f"{method} {path}"
        codes = {int(code) for code in operation["responses"] if int(code) >= 400}
        if path.startswith("/v1/"):
            # Unknown query parameters (400), the API key (401) and its scope (403), validation (422),
            # throttling (429) everywhere; the rest by the route's shape.
            assert {400, 401, 403, 422, 429} <= codes, label
            assert (404 in codes) == ("{" in path or _has_body(operation)), label
            assert ({413, 415} <= codes) == _has_body(operation), label
        if method != "GET" and path.startswith("/v1/"):
            assert 409 in codes, label
        if path.startswith("/webhooks/"):
            assert {400, 401, 404, 413} <= codes, label


def test_each_error_response_shows_the_problem_type_that_problems_py_answers() -> None:
    from shared import errors
    from shared.http.problems import problem_of

    committed = json.loads(openapi.DOCUMENT.read_text())
    produced = {}
    for failure in (errors.Malformed("x"), errors.NotAuthenticated("x"), errors.Forbidden("x"), errors.NotFound("x"),
                    errors.NotSupported("x"), errors.Refused("x"), errors.Gone("x"), errors.TooLarge("x"),
                    errors.WrongContentType("x"), errors.Invalid("x"), errors.TooManyRequests("x"),
                    errors.Unavailable("x")):
        status, body = problem_of(failure)
        produced[status] = (body["type"], body["title"])
    for method, path, operation in _operations(committed):
        for code, spec in operation["responses"].items():
            if int(code) < 400:
                continue
            (example,) = spec["content"]["application/problem+json"]["examples"].values()
            value = example["value"]
            assert (value["type"], value["title"]) == produced[int(code)], f"{method} {path} {code}"
            assert value["status"] == int(code) and value["detail"], f"{method} {path} {code}"
            assert f"`{value['type']}`" in spec["description"], f"{method} {path} {code}"
            if code == "422":
                assert value["errors"] and {"field", "type", "message"} <= set(value["errors"][0])


# A rendered HTML page is described in words: it is not an API shape an example could stand for.
_NO_EXAMPLE_MEDIA = {"text/html"}


def _examples_of(media: dict) -> list:
    return [example["value"] for example in (media.get("examples") or {}).values()]


def test_every_request_body_and_response_body_has_an_example() -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    for method, path, operation in _operations(committed):
        label = f"{method} {path}"
        for media_type, media in ((operation.get("requestBody") or {}).get("content") or {}).items():
            assert _examples_of(media), f"{label}: request {media_type}"
        successes = {code: spec for code, spec in operation["responses"].items() if int(code) < 400}
        assert successes or "405" in operation["responses"], label  # DELETE of a customer: always 405
        for code, spec in successes.items():
            for media_type, media in (spec.get("content") or {}).items():
                if media_type not in _NO_EXAMPLE_MEDIA:
                    assert _examples_of(media), f"{label}: {code} {media_type}"


def _floats(value: object, where: str = "") -> list[str]:
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _floats(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _floats(item, f"{where}[{index}]")]
    return []


def test_every_example_is_valid_against_its_schema_and_carries_money_as_strings() -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    committed = json.loads(openapi.DOCUMENT.read_text())
    registry = Registry().with_resource("urn:colis", Resource.from_contents(
        {**committed, "$schema": "https://json-schema.org/draft/2020-12/schema"}))

    def check(label: str, media_type: str, media: dict) -> None:
        schema = media.get("schema")
        for value in _examples_of(media):
            # Colis's own bodies only: a carrier's delivery is in the carrier's format.
            if "/webhooks/" not in label:
                assert not _floats(value), f"{label}: amounts are decimal strings, not numbers: {_floats(value)}"
            if schema and media_type.endswith("json"):
                resolved = json.loads(json.dumps(schema).replace('"#/components', '"urn:colis#/components'))
                found = [error.message for error in Draft202012Validator(resolved, registry=registry)
                         .iter_errors(value)]
                assert not found, f"{label} {media_type}: {found[:3]}"

    for method, path, operation in _operations(committed):
        label = f"{method} {path}"
        for media_type, media in ((operation.get("requestBody") or {}).get("content") or {}).items():
            check(f"{label} request", media_type, media)
        for code, spec in operation["responses"].items():
            for media_type, media in (spec.get("content") or {}).items():
                check(f"{label} {code}", media_type, media)


def test_an_example_for_an_operation_that_has_no_place_for_it_stops_the_generation() -> None:
    import pytest

    operation = {"responses": {"200": {"content": {"application/json": {}}}}}
    with pytest.raises(SystemExit):
        openapi.add_examples("get", "/v1/x", operation, {"GET /v1/x": {"responses": {"201": {"application/json": {}}}}})
    openapi.add_examples("get", "/v1/x", operation, {"GET /v1/x": {"responses": {"200": {"application/json": {"a": "1"}}}}})
    assert operation["responses"]["200"]["content"]["application/json"]["examples"] == {"example": {"value": {"a": "1"}}}


def test_contract_statuses_are_documented() -> None:
    paths = openapi.generate()["paths"]
    webhook = paths["/webhooks/{carrier}/{connection_id}"]["post"]
    assert {"200", "400", "401", "404", "413"} <= set(webhook["responses"])
    assert "application/json" in webhook["requestBody"]["content"]
    assert {"401", "403", "400", "422"} <= set(paths["/v1/orders"]["get"]["responses"])
    page = paths["/track/{tracking_slug}/{tracking_number}"]["get"]["responses"]
    assert "text/html" in page["404"]["content"] and "301" in page
    assert {"200", "301", "303", "404"} <= set(paths["/track/{tracking_slug}"]["get"]["responses"])
    assert "/track/{tracking_number}" not in paths  # nothing picks between merchants
    assert "content" not in paths["/v1/api-keys/{key_id}"]["delete"]["responses"]["204"]
    assert "content" not in paths["/v1/exports/{export_id}/download"]["get"]["responses"]["302"]


def test_every_reference_resolves_and_every_schema_is_used() -> None:
    document = openapi.generate()
    text = json.dumps(document)
    referenced = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert referenced == set(document["components"]["schemas"])


RESOURCE_TAGS = {"Shipments", "Tracking", "Orders", "Refunds", "Customers", "Customer imports", "Exports", "Settings",
                 "API keys", "Connections", "Carrier webhooks", "Webhook endpoints"}


def test_every_operation_has_a_resource_tag_a_summary_that_is_not_its_path_and_a_description() -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    for method, path, operation in _operations(committed):
        label = f"{method} {path}"
        assert len(operation.get("tags") or []) == 1 and operation["tags"][0] in RESOURCE_TAGS, label
        summary = operation.get("summary") or ""
        assert summary and path not in summary and not summary.startswith(method), label
        assert len(operation.get("description") or "") > len(summary), label
    summaries = [op["summary"] for _, _, op in _operations(committed)]
    assert len(summaries) == len(set(summaries)), "each operation's summary tells it apart"


def test_the_refund_idempotency_key_is_marked_required() -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    parameters = committed["paths"]["/v1/orders/{order_id}/refunds"]["post"]["parameters"]
    key = next(p for p in parameters if p["in"] == "header" and p["name"].lower() == "idempotency-key")
    assert key["required"] is True and key["schema"]["type"] == "string"
    order_import = committed["paths"]["/v1/orders"]["post"]["parameters"]
    assert not next(p for p in order_import if p["name"].lower() == "idempotency-key").get("required")


def test_the_carrier_webhook_body_is_documented_per_registered_carrier_with_examples_it_reads() -> None:
    from functions.webhook.carriers import parse_delivery
    from shared.shipments.carriers import CARRIERS

    committed = json.loads(openapi.DOCUMENT.read_text())
    body = committed["paths"]["/webhooks/{carrier}/{connection_id}"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    assert set(examples) == set(CARRIERS)
    for carrier, example in examples.items():
        assert "Signed with" in example["description"], carrier
        parsed = parse_delivery(carrier, example["value"])
        assert parsed.updates and not parsed.failures, carrier


def test_each_webhook_event_type_has_an_example_its_model_reads_back_unchanged() -> None:
    from shared.webhooks.payloads import DATA_EXAMPLES, DATA_OF

    committed = json.loads(openapi.DOCUMENT.read_text())
    assert set(DATA_EXAMPLES) == set(DATA_OF) == set(committed["webhooks"])
    for event_type, data in DATA_EXAMPLES.items():
        sent = DATA_OF[event_type].model_validate(data).model_dump(mode="json")
        assert {key: value for key, value in sent.items() if key in data} == data, event_type
        media = committed["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        (example,) = _examples_of(media)
        assert example["type"] == event_type and example["data"] == sent and not _floats(example)
