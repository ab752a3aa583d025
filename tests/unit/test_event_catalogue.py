"""The event catalogue is the one place an event is named: the template's rules name catalogue
events only, every event a function consumes has its rule, and no module spells a name itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from functions.notify import handler as notify_handler
from functions.orders import shipment_events
from shared.errors import Malformed
from shared.events import catalogue
from shared.events.catalogue import (
    CATALOGUE,
    CustomerMerged,
    ExportRequested,
    OrderCancelled,
    ShipmentCreated,
    ShipmentStatusChanged,
    parse,
    parse_as,
)
from shared.webhooks.payloads import SOURCED_DOMAIN_EVENTS
from tests.template_resources import ROOT, template

# Published for integrations on the bus; no function of ours consumes them (RefundIssued was, until
# the outbound webhooks delivered it to merchants as refund.succeeded).
PUBLISHED_ONLY: set[str] = set()
# Consumed by a function whose handler reads one type only (its rule names that one).
SINGLE_TYPE_CONSUMERS = {CustomerMerged.name, ExportRequested.name}


def _patterns(node: Any) -> Iterator[dict[str, Any]]:
    """Every EventBridge pattern in the template: SAM `Pattern`s and `AWS::Events::Rule` `EventPattern`s."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name in ("Pattern", "EventPattern") and isinstance(value, dict):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def template_detail_types() -> set[str]:
    return {name for pattern in _patterns(template()["Resources"])
            if pattern.get("source") == [catalogue.SOURCE] for name in pattern.get("detail-type", [])}


def test_every_detail_type_of_the_templates_rules_is_a_catalogue_event() -> None:
    named = template_detail_types()
    assert named, "no rule of the template names an event"
    assert named <= set(CATALOGUE), named - set(CATALOGUE)


def test_every_consumed_event_has_a_rule_and_every_catalogue_event_is_consumed_or_only_published() -> None:
    consumed = (set(notify_handler.HANDLERS) | set(shipment_events.HANDLERS) | SINGLE_TYPE_CONSUMERS
                | set(SOURCED_DOMAIN_EVENTS))
    assert consumed <= set(CATALOGUE)
    assert consumed == template_detail_types()
    assert set(CATALOGUE) == consumed | PUBLISHED_ONLY


def test_an_event_is_named_by_its_class_once() -> None:
    assert ShipmentStatusChanged.name == "ShipmentStatusChanged"
    assert all(kind.name == name for name, kind in CATALOGUE.items())
    with pytest.raises(TypeError):
        type("ShipmentCreated", (catalogue.Event,), {"__module__": __name__})


def _python_sources() -> Iterator[Any]:
    for folder in ("shared", "functions", "local", "cli"):
        yield from (ROOT / folder).rglob("*.py")


def test_no_module_outside_the_catalogue_spells_an_event_name() -> None:
    spelled = re.compile(r"""["'](""" + "|".join(CATALOGUE) + r""")["']""")
    found = [f"{path.relative_to(ROOT)}:{number}" for path in _python_sources()
             if path != ROOT / "shared" / "events" / "catalogue.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if spelled.search(line)]
    assert found == []


def test_a_bus_delivery_is_read_through_its_class() -> None:
    created = parse({"detail-type": "ShipmentCreated", "detail": {"merchant_id": "mer_1", "shipment_id": "shp_1",
                                                                  "order_id": "ord_1", "unknown": "ignored"}})
    assert created == ShipmentCreated(merchant_id="mer_1", shipment_id="shp_1", order_id="ord_1")
    with pytest.raises(Malformed):
        parse({"detail-type": "Nope", "detail": {}})
    with pytest.raises(ValidationError):
        parse_as(ExportRequested, {"detail": {"merchant_id": "mer_1"}})


def test_payloads_travel_as_text_times_and_amounts() -> None:
    event = OrderCancelled(merchant_id="mer_1", order_id="ord_1", notify_customer=True, currency="EUR",
                           source="merchant", cancelled_at=datetime(2026, 3, 10, 12, 0, 0, 5000, tzinfo=UTC),
                           refund_id="ref_1", refund_total=Decimal("120.00"))
    assert event.model_dump(mode="json") == {
        "merchant_id": "mer_1", "order_id": "ord_1", "notify_customer": True, "currency": "EUR",
        "source": "merchant", "cancelled_at": "2026-03-10T12:00:00.005Z", "refund_id": "ref_1",
        "refund_total": "120.00"}


PERSONAL_FIELD = re.compile(r"name|email|phone|address|street|city|postal|note|reason|text|message", re.I)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_payloads_carry_no_personal_data_fields(name: str) -> None:
    fields = CATALOGUE[name].model_fields
    assert not [field for field in fields if PERSONAL_FIELD.search(field)]
