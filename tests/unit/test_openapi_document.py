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
        assert {"404", "422", "429"} <= set(errors), f"{method} {path}"
        for code, spec in errors.items():
            assert spec["content"]["application/problem+json"] == {"schema": problem}, f"{method} {path} {code}"
            assert "application/json" not in spec["content"], f"{method} {path} {code}"
    assert {"type", "title", "status", "detail"} <= set(document["components"]["schemas"]["Problem"]["required"])


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
