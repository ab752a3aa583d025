"""The committed OpenAPI document matches the code, and every route of template.yaml is
documented and served (and nothing else)."""

from __future__ import annotations

from cli import openapi


def test_the_committed_document_has_not_drifted() -> None:
    assert openapi.drift(openapi.generate()) == []


def test_every_public_route_of_the_contract_is_documented() -> None:
    paths = openapi.generate()["paths"]
    assert "/webhooks/{carrier}/{connection_id}" in paths
    assert all(path.startswith(("/v1/", "/webhooks/", "/track/")) for path in paths)
    assert all("security" in op for path, ops in paths.items() if path.startswith("/v1/") for op in ops.values())
