"""Refunds and cancellations against moto (DESIGN.md §1.3): components, currencies, idempotency,
the fee ledger, the payment provider, every refusal, and the events on the bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.refund import handler as refund_module
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from shared.platform.ids import derived_id
from shared.refunds.payments import EmbeddedPaymentProvider, PaymentFailed, ProviderReceipt, ProviderRefund
from tests.component.notify_pipeline import TableStream, notify, recording_outbox
from tests.component.orders_support import (
    activity,
    add_note,
    add_tracking,
    cancel,
    edit,
    get_order,
    new_order,
    refund,
    refunds_of,
)
from tests.factories import tracking_number
from tests.faults import injected_faults, key_is

PERSONAL = ("lea.martin@example.fr", "Martin", "Bellecour", "69002", "+33698765432", "Léa")


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def stream(aws_env: dict[str, Any]) -> TableStream:
    return TableStream(aws_env["TABLE_NAME"])


class Provider:
    """The embedded provider, recording its calls and failing on demand."""

    def __init__(self) -> None:
        self.name = "recording"
        self.calls: list[ProviderRefund] = []
        self.failures = 0

    def refund(self, request: ProviderRefund) -> ProviderReceipt:
        self.calls.append(request)
        if self.failures:
            self.failures -= 1
            raise PaymentFailed("the bank is unreachable")
        return EmbeddedPaymentProvider().refund(request)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, Any]) -> Provider:
    recording = Provider()
    monkeypatch.setattr(refund_module, "payment_provider", lambda table=None: recording)
    return recording


def partial(**amounts: str) -> dict[str, Any]:
    return {"amounts": amounts or {"subtotal": "30.00"}, "reason": "damaged", "note": "Lampe fêlée"}


# --- refunds --------------------------------------------------------------------------------------
def test_a_partial_refund_is_issued_in_the_checkout_currency_and_recorded_on_the_order(
        merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    response = refund(merchant, order["id"], partial(subtotal="30.00", duties_taxes="2.50"), key="r-1")
    assert response.status == 201 and "idempotent-replayed" not in response.headers
    issued = response.json()
    assert issued == {
        "id": derived_id("ref", merchant, order["id"], "r-1"), "order_id": order["id"], "kind": "refund",
        "amounts": {"subtotal": "30.00", "shipping": "0.00", "duties_taxes": "2.50"}, "total": "32.50",
        "currency": "EUR", "amount_currency": "checkout",
        "requested_amounts": {"subtotal": "30.00", "duties_taxes": "2.50"}, "reason": "damaged",
        "note": "Lampe fêlée", "fee_returned": "0.76", "created_at": "2026-03-10T12:00:00Z"}
    # fee 6.30, card part 3.48: (6.30 - 3.48) x 32.50 / 120.00 = 0.76375 → 0.76
    after = get_order(merchant, order["id"]).json()
    assert after["refund_status"] == "partial" and after["status"] == "paid"
    assert after["refunded"] == {"subtotal": "30.00", "shipping": "0.00", "duties_taxes": "2.50", "total": "32.50"}
    assert after["fee"] == {"amount": "6.30", "card_part": "3.48", "returned": "0.76"}
    assert refunds_of(merchant, order["id"]).json() == {"items": [issued], "next_cursor": None}
    assert [(c.refund_id, c.amount, c.currency) for c in provider.calls] == [(issued["id"], Decimal("32.50"), "EUR")]
    assert activity(merchant, order["id"]).json()["items"][-1]["details"]["refund_id"] == issued["id"]


def test_refunds_until_everything_is_refunded_make_the_order_fully_refunded(merchant: str,
                                                                            provider: Provider) -> None:
    order = new_order(merchant)
    refund(merchant, order["id"], partial(subtotal="100.00"), key="a")
    refund(merchant, order["id"], partial(shipping="10.00", duties_taxes="10.00"), key="b")
    after = get_order(merchant, order["id"]).json()
    assert after["refund_status"] == "full" and after["refunded"]["total"] == "120.00"
    assert after["fee"]["returned"] == "2.82"  # all of fee - card part, never more
    assert sum(Decimal(r["fee_returned"]) for r in refunds_of(merchant, order["id"]).json()["items"]) == \
        Decimal("2.82")
    response = refund(merchant, order["id"], partial(subtotal="0.01"), key="c")
    assert response.status == 422


def test_display_currency_amounts_are_converted_per_component_and_clamped_by_one_cent(
        merchant: str, provider: Provider) -> None:
    order = new_order(merchant, exchange_rate="1.0850")  # 1 EUR = 1.085 USD
    response = refund(merchant, order["id"], {"amounts": {"subtotal": "54.25", "shipping": "10.86"},
                                              "amount_currency": "display", "reason": "customer_request"})
    issued = response.json()
    assert response.status == 201 and issued["currency"] == "EUR" and issued["amount_currency"] == "display"
    # 54.25 / 1.085 = 50.00; 10.86 / 1.085 = 10.0092… → 10.01, one cent over the 10.00 paid: clamped.
    assert issued["amounts"] == {"subtotal": "50.00", "shipping": "10.00", "duties_taxes": "0.00"}
    assert issued["requested_amounts"] == {"subtotal": "54.25", "shipping": "10.86"}
    over = refund(merchant, order["id"], {"amounts": {"subtotal": "54.26"}, "amount_currency": "display",
                                          "reason": "other"}, key="k2")
    assert over.status == 201 and over.json()["amounts"]["subtotal"] == "50.00"  # 50.009… → 50.01 → 50.00
    assert refund(merchant, order["id"], {"amounts": {"duties_taxes": "10.88"}, "amount_currency": "display",
                                          "reason": "other"}, key="k3").status == 422  # 10.03 > 10.00 + 0.01


@pytest.mark.parametrize(("body", "field"), [
    ({"amounts": {"subtotal": "100.01"}, "reason": "damaged"}, "amounts.subtotal"),
    ({"amounts": {"shipping": "10.01"}, "reason": "damaged"}, "amounts.shipping"),
    ({"amounts": {"subtotal": "1.005"}, "reason": "damaged"}, "amounts.subtotal"),
    ({"amounts": {"subtotal": "1.005"}, "amount_currency": "display", "reason": "damaged"}, "amounts.subtotal"),
    ({"amounts": {}, "reason": "damaged"}, "amounts"),
    ({"amounts": {"subtotal": "0"}, "reason": "damaged"}, "amounts"),
])
def test_refunds_beyond_a_component_or_without_an_amount_or_with_extra_decimals_are_422(
        merchant: str, provider: Provider, body: dict[str, Any], field: str) -> None:
    order = new_order(merchant)
    response = refund(merchant, order["id"], body)
    assert response.status == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert get_order(merchant, order["id"]).json() == order and provider.calls == []


@pytest.mark.parametrize("body", [{"amounts": {"subtotal": "-1"}, "reason": "damaged"},
                                  {"amounts": {"subtotal": "1"}, "reason": "bored"},
                                  {"amounts": {"subtotal": "1"}},
                                  {"amounts": {"total": "1"}, "reason": "damaged"},
                                  {"amounts": {"subtotal": "1"}, "reason": "damaged", "amount_currency": "GBP"}])
def test_malformed_refund_requests_are_422(merchant: str, provider: Provider, body: dict[str, Any]) -> None:
    assert refund(merchant, new_order(merchant)["id"], body).status == 422


def test_the_idempotency_key_is_required(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    for key in (None, "", "with space"):
        response = refund(merchant, order["id"], partial(), key=key)
        assert response.status == 400 and "Idempotency-Key" in response.json()["detail"]
    assert provider.calls == []


def test_a_replay_gets_the_first_answer_with_idempotent_replayed(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    first = refund(merchant, order["id"], partial(), key="same")
    clock.advance(timedelta(hours=1))
    replay = refund(merchant, order["id"], {**partial(), "amounts": {"subtotal": "30"}}, key="same")
    assert (replay.status, replay.body) == (first.status, first.body)
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(refunds_of(merchant, order["id"]).json()["items"]) == 1 and len(provider.calls) == 1
    assert get_order(merchant, order["id"]).json()["refunded"]["total"] == "30.00"


def test_the_same_key_with_another_body_is_409(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    refund(merchant, order["id"], partial(subtotal="30.00"), key="same")
    response = refund(merchant, order["id"], partial(subtotal="31.00"), key="same")
    assert response.status == 409 and "another request body" in response.json()["detail"]
    assert get_order(merchant, order["id"]).json()["refunded"]["total"] == "30.00"


def test_keys_are_scoped_to_the_merchant_and_the_order(merchant: str, provider: Provider) -> None:
    first, second = new_order(merchant), new_order(merchant)
    one = refund(merchant, first["id"], partial(), key="shared-key").json()
    two = refund(merchant, second["id"], partial(), key="shared-key").json()
    assert one["id"] != two["id"] and one["order_id"] == first["id"] and two["order_id"] == second["id"]


def test_the_key_is_kept_at_least_24_hours_and_its_refund_id_forever(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    first = refund(merchant, order["id"], partial(), key="daily")
    clock.advance(timedelta(hours=23, minutes=59))
    assert refund(merchant, order["id"], partial(), key="daily").body == first.body
    assert refund(merchant, order["id"], partial(subtotal="1.00"), key="daily").status == 409
    clock.advance(timedelta(hours=2))  # the record has expired (reads treat it as gone)
    late = refund(merchant, order["id"], partial(), key="daily")
    assert late.status == 201 and late.json() == first.json() and late.headers["idempotent-replayed"] == "true"
    assert refund(merchant, order["id"], partial(subtotal="1.00"), key="daily").status == 409
    assert len(refunds_of(merchant, order["id"]).json()["items"]) == 1 and len(provider.calls) == 1


def test_an_external_order_is_refunded_on_its_platform_409(merchant: str, provider: Provider) -> None:
    order = new_order(merchant, payment_mode="external")
    response = refund(merchant, order["id"], partial())
    assert response.status == 409 and "e-commerce platform" in response.json()["detail"]


def test_a_cancelled_order_takes_no_refund_409(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    cancel(merchant, order["id"])
    response = refund(merchant, order["id"], partial(), key="after-cancel")
    assert response.status == 409 and "cancelled" in response.json()["detail"]


def test_another_merchants_order_is_404(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    other = MerchantRepository().create("Other").id
    assert refund(other, order["id"], partial()).status == 404
    assert refunds_of(other, order["id"]).status == 404


def test_a_provider_failure_leaves_the_order_unchanged_and_the_same_key_retries(merchant: str,
                                                                               provider: Provider) -> None:
    order = new_order(merchant)
    provider.failures = 1
    failed = refund(merchant, order["id"], partial(subtotal="100.00"), key="flaky")
    assert failed.status == 503 and "same Idempotency-Key" in failed.json()["detail"]
    assert get_order(merchant, order["id"]).json() == order
    assert refunds_of(merchant, order["id"]).json()["items"] == []
    assert [e["type"] for e in activity(merchant, order["id"]).json()["items"]] == ["created"]
    retried = refund(merchant, order["id"], partial(subtotal="100.00"), key="flaky")
    assert retried.status == 201 and "idempotent-replayed" not in retried.headers
    assert retried.json()["id"] == derived_id("ref", merchant, order["id"], "flaky")
    assert [c.refund_id for c in provider.calls] == [retried.json()["id"]] * 2  # one idempotency key
    assert get_order(merchant, order["id"]).json()["refunded"]["subtotal"] == "100.00"


def test_after_a_provider_failure_the_amount_is_free_for_another_refund(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    provider.failures = 1
    refund(merchant, order["id"], partial(subtotal="100.00"), key="first")
    assert refund(merchant, order["id"], partial(subtotal="100.00"), key="second").status == 201


def test_a_refund_reads_its_order_once_and_settles_on_that_read(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    order_key = keys.order(merchant, order["id"])
    with injected_faults() as calls:
        assert refund(merchant, order["id"], partial(), key="once").status == 201
    reads = [c for c in calls.calls if c.operation in ("GetItem", "Query", "BatchGetItem", "Scan")]
    assert [c.operation for c in reads if key_is(order_key)(c.params)] == ["GetItem"]
    assert not [c for c in reads if c.operation != "GetItem"]  # no list read stands in for the order either
    # The one read was enough: the settlement landed on the order's version as read.
    assert get_order(merchant, order["id"]).json()["refunded"]["total"] == "30.00"


def test_a_refund_whose_order_changed_after_its_read_settles_on_the_order_read_again(
        merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    original = provider.refund

    def pay_while_a_note_lands(request: ProviderRefund) -> ProviderReceipt:
        assert add_note(merchant, order["id"], "Appelée").status == 201  # the order's version moves on
        return original(request)

    provider.refund = pay_while_a_note_lands  # type: ignore[method-assign]
    assert refund(merchant, order["id"], partial(), key="moved").status == 201
    shown = get_order(merchant, order["id"]).json()
    assert shown["refunded"]["total"] == "30.00"
    kinds = [entry["type"] for entry in activity(merchant, order["id"]).json()["items"]]
    assert kinds[-2:] == ["note", "refunded"]

def test_a_refund_whose_attempt_died_is_finished_by_a_retry_once_its_lease_runs_out(
        merchant: str, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.refund import service

    order = new_order(merchant)

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("Lambda timed out")

    pay_and_settle = service._pay_and_settle
    monkeypatch.setattr(service, "_pay_and_settle", crash)
    assert refund(merchant, order["id"], partial(), key="crashed").status == 500
    monkeypatch.setattr(service, "_pay_and_settle", pay_and_settle)
    in_flight = refund(merchant, order["id"], partial(), key="crashed")
    assert in_flight.status == 409 and "still being processed" in in_flight.json()["detail"]
    clock.advance(timedelta(minutes=1))
    finished = refund(merchant, order["id"], partial(), key="crashed")
    assert finished.status == 201 and get_order(merchant, order["id"]).json()["refunded"]["total"] == "30.00"


# --- cancellation ---------------------------------------------------------------------------------
def test_cancelling_a_platform_order_refunds_what_remains(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    refund(merchant, order["id"], partial(subtotal="30.00"), key="early")
    response = cancel(merchant, order["id"], reason="Rupture de stock")
    assert response.status == 200
    cancelled, issued = response.json()["order"], response.json()["refund"]
    assert cancelled["status"] == "cancelled" and cancelled["refund_status"] == "full"
    assert cancelled["cancellation"] == {"reason": "Rupture de stock", "source": "merchant", "notify_customer": False,
                                         "at": "2026-03-10T12:00:00Z", "refund_id": issued["id"]}
    assert issued["kind"] == "cancellation" and issued["total"] == "90.00"
    assert issued["amounts"] == {"subtotal": "70.00", "shipping": "10.00", "duties_taxes": "10.00"}
    assert cancelled["refunded"]["total"] == "120.00" and cancelled["fee"]["returned"] == "2.82"
    assert [r["id"] for r in refunds_of(merchant, order["id"]).json()["items"]][-1] == issued["id"]
    replay = refund(merchant, order["id"], partial(subtotal="30.00"), key="early")  # still its first answer
    assert replay.status == 201 and replay.headers["idempotent-replayed"] == "true"


def test_an_idempotency_key_never_names_the_cancellation_refund(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    cancelled = cancel(merchant, order["id"]).json()["refund"]
    for key in ("cancellation", "order-cancellation"):
        assert refund(merchant, order["id"], partial(), key=key).status == 409  # cancelled, not a replay
    assert derived_id("ref", merchant, order["id"], "cancellation") != cancelled["id"]


def test_cancelling_an_external_order_refunds_nothing(merchant: str, provider: Provider) -> None:
    order = new_order(merchant, payment_mode="external")
    response = cancel(merchant, order["id"])
    assert response.status == 200 and response.json()["refund"] is None
    assert response.json()["order"]["status"] == "cancelled" and provider.calls == []


def test_cancellation_is_final(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    cancel(merchant, order["id"])
    response = cancel(merchant, order["id"])
    assert response.status == 409 and "final" in response.json()["detail"]


def test_a_fully_refunded_order_cannot_be_cancelled(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    refund(merchant, order["id"], partial(subtotal="100.00", shipping="10.00", duties_taxes="10.00"))
    response = cancel(merchant, order["id"])
    assert response.status == 409 and "refunded in full" in response.json()["detail"]


def test_a_shipped_order_cannot_be_cancelled_void_the_label_first(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    add_tracking(merchant, order["id"], tracking_number())
    response = cancel(merchant, order["id"])
    assert response.status == 409 and "void the label" in response.json()["detail"]


def test_a_guarantee_order_paid_elsewhere_is_cancelled_on_its_platform(merchant: str, provider: Provider,
                                                                       stream: TableStream) -> None:
    order = new_order(merchant, payment_mode="external", guarantee=True)
    refused = cancel(merchant, order["id"])
    assert refused.status == 409 and "cancel it on that platform" in refused.json()["detail"]
    response = cancel(merchant, order["id"], reason="Cancelled in Shopify", source="platform", notify_customer=True)
    assert response.status == 200 and response.json()["refund"] is None
    assert response.json()["order"]["cancellation"]["source"] == "platform"
    assert response.json()["order"]["cancellation"]["notify_customer"] is False  # no email from Colis
    [event] = stream.published("OrderCancelled")
    assert event.detail["source"] == "platform" and event.detail["notify_customer"] is False


def test_a_platform_source_cannot_cancel_an_order_paid_through_colis(merchant: str, provider: Provider) -> None:
    response = cancel(merchant, new_order(merchant)["id"], source="platform")
    assert response.status == 409 and "source \"merchant\"" in response.json()["detail"]


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "x", "source": "support"},
                                  {"reason": "x", "notify_customer": "maybe"}])
def test_a_cancellation_needs_a_reason_and_a_known_source(merchant: str, provider: Provider,
                                                          body: dict[str, Any]) -> None:
    order = new_order(merchant)
    reason = body.pop("reason")
    assert cancel(merchant, order["id"], reason=reason, **body).status == 422


def test_a_provider_failure_leaves_the_order_uncancelled(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    provider.failures = 1
    response = cancel(merchant, order["id"])
    assert response.status == 503 and "not cancelled" in response.json()["detail"]
    assert get_order(merchant, order["id"]).json() == order
    assert refund(merchant, order["id"], partial(subtotal="100.00"), key="still-possible").status == 201
    assert cancel(merchant, order["id"]).json()["refund"]["total"] == "20.00"


def test_notes_are_still_allowed_after_cancellation_but_edits_are_not(merchant: str, provider: Provider) -> None:
    order = new_order(merchant)
    cancel(merchant, order["id"])
    assert add_note(merchant, order["id"], "Remboursé").status == 201
    assert edit(merchant, order["id"], {"order_number": "#X"}).status == 409


# --- events ---------------------------------------------------------------------------------------
def test_refund_issued_is_published_from_the_stream_without_personal_data(merchant: str, provider: Provider,
                                                                          stream: TableStream) -> None:
    order = new_order(merchant)
    issued = refund(merchant, order["id"], partial(subtotal="30.00"), key="evt").json()
    refund(merchant, order["id"], partial(subtotal="30.00"), key="evt")  # a replay publishes nothing
    events = stream.published("RefundIssued")
    assert [e.detail for e in events] == [{
        "merchant_id": merchant, "order_id": order["id"], "refund_id": issued["id"], "total": "30.00",
        "currency": "EUR", "fee_returned": "0.71", "kind": "refund", "created_at": "2026-03-10T12:00:00.000Z"}]
    assert not any(text in json.dumps(events[0].detail) for text in (*PERSONAL, "fêlée"))


def test_order_cancelled_is_published_with_its_refund_and_the_email_goes_out_in_the_customers_language(
        merchant: str, provider: Provider, stream: TableStream, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = recording_outbox(monkeypatch)
    order = new_order(merchant)
    result = cancel(merchant, order["id"], reason="Rupture de stock", notify_customer=True).json()
    events = stream.published("OrderCancelled", "RefundIssued")
    [cancelled] = [e for e in events if e.detail_type == "OrderCancelled"]
    assert cancelled.detail == {
        "merchant_id": merchant, "order_id": order["id"], "notify_customer": True, "currency": "EUR",
        "source": "merchant", "cancelled_at": "2026-03-10T12:00:00.000Z", "refund_id": result["refund"]["id"],
        "refund_total": "120.00"}
    assert not any(text in json.dumps(cancelled.detail) for text in (*PERSONAL, "Rupture"))
    assert [e.detail["refund_id"] for e in events if e.detail_type == "RefundIssued"] == [result["refund"]["id"]]
    notify(cancelled)
    [email] = outbox.sent
    assert email.to == "lea.martin@example.fr" and email.language == "fr"


def test_no_email_unless_asked(merchant: str, provider: Provider, stream: TableStream,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = recording_outbox(monkeypatch)
    cancel(merchant, new_order(merchant)["id"])
    [cancelled] = stream.published("OrderCancelled")
    assert cancelled.detail["notify_customer"] is False
    notify(cancelled)
    assert outbox.sent == []
