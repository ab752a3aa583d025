"""Builds test resources from template.yaml, so each definition lives once."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent


@cache
def template() -> dict[str, Any]:
    parsed, matches = decode(str(ROOT / "template.yaml"))
    assert not matches, matches
    return parsed


def resources_of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == resource_type}


def table_definition(table_name: str) -> dict[str, Any]:
    props = template()["Resources"]["Table"]["Properties"]
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
        "GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"],
        "StreamSpecification": {"StreamEnabled": True, **props["StreamSpecification"]},
    }
    return definition


def create_table(dynamodb_client: Any, table_name: str) -> None:
    dynamodb_client.create_table(**table_definition(table_name))
    ttl = template()["Resources"]["Table"]["Properties"]["TimeToLiveSpecification"]
    dynamodb_client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
