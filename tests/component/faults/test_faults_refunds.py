"""Refunds and cancellations under faults at each step: reserving (refund record, ledger,
idempotency key), the payment provider's settlement, and recording it on the order. Whatever
fails, the money that left (the provider's settlements) never exceeds what was paid, the order's
refunded totals equal it once the refund is finished, and retrying with the same Idempotency-Key
finishes the refund exactly once.

DynamoDB faults are injected at the call layer (what the function sees once botocore's retries
are spent). The payment provider is the embedded one (settlements in the table), and, for the
external case, a Stripe double that keeps Stripe's idempotency keys and can lose its answer.
"""

from __future__ import annotations

import io
import json
import urllib.error
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from functions.refund import handler as refund_module
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from shared.refunds.payments import StripePaymentProvider
from tests.component.orders_support import cancel, get_order, new_order, refund, refunds_of
from tests.faults import DYNAMODB_THROTTLED, AwsError, Error, FaultInjector, LostAnswer

# Every DynamoDB call of a first refund, in order (checked by the first test).
REFUND_CALLS = [("dynamodb", "GetItem"),  # the Idempotency-Key's record
                ("dynamodb", "GetItem"),  # a refund under the derived id
                ("dynamodb", "GetItem"),  # the order, read once: the refund settles on this read
                ("dynamodb", "GetItem"),  # its ledger
                ("dynamodb", "TransactWriteItems"),  # reserve: pending refund, ledger, key record
                ("dynamodb", "PutItem"),  # the embedded provider's settlement
                ("dynamodb", "TransactWriteItems")]  # settle: order totals, refund, answer, activity
# Refused (nothing written) and lost answer (written). A 5xx that hid a write is walked where it
# matters, at the provider (test_while_a_refund_with_an_unknown_outcome...).
ERRORS: dict[str, Error] = {"throttled": DYNAMODB_THROTTLED, "timeout": LostAnswer()}


@pytest.fixture
def merchant(aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PAYMENT_PROVIDER", "embedded")
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


def settled(merchant: str, order_id: str) -> list[Decimal]:
    """What the embedded provider paid out for the order: the money that really left."""
    prefix = keys.order_settlement(merchant, order_id, "")[keys.SK]
    items = aws.table().query(KeyConditionExpression=Key(keys.PK).eq(keys.order_partition(merchant, order_id))
                              & Key(keys.SK).begins_with(prefix), ConsistentRead=True)["Items"]
    return [Decimal(str(i["amount"])) for i in items]


def finish(merchant: str, order_id: str, body: dict[str, Any], key: str) -> Any:
    """The client's retry with the same key, once any lease a dead attempt held has run out."""
    clock.advance(timedelta(minutes=1))
    return refund(merchant, order_id, body, key=key)


def partial(subtotal: str = "30.00") -> dict[str, Any]:
    return {"amounts": {"subtotal": subtotal}, "reason": "damaged"}


def test_the_walk_covers_every_dynamodb_call_of_a_refund(merchant: str, faults: FaultInjector) -> None:
    order = new_order(merchant)
    faults.clear()
    assert refund(merchant, order["id"], partial(), key="k").status == 201
    assert [(c.service, c.operation) for c in faults.calls] == REFUND_CALLS


@pytest.mark.parametrize("error", list(ERRORS), ids=list(ERRORS))
def test_a_fault_at_any_step_never_over_refunds_and_the_same_key_finishes_once(
        merchant: str, faults: FaultInjector, error: str) -> None:
    for point, (service, operation) in enumerate(REFUND_CALLS):
        if error == "timeout" and operation == "GetItem":
            continue  # a read's lost answer is a refused read to the function
        where = f"fault at call {point + 1} ({operation})"
        order = new_order(merchant)
        faults.clear()
        fault = faults.fail(service, operation, ERRORS[error], on_call=REFUND_CALLS[: point + 1].count((service, operation)))
        failed = refund(merchant, order["id"], partial(), key="k")
        assert fault.hits == 1, where
        assert failed.status >= 500 or failed.status == 201, (where, failed.status, failed.body)
        assert sum(settled(merchant, order["id"])) <= Decimal("30.00"), where

        done = finish(merchant, order["id"], partial(), key="k")
        assert done.status == 201, (where, done.status, done.body)
        shown = get_order(merchant, order["id"]).json()
        assert (shown["refunded"]["subtotal"], shown["refunded"]["total"]) == ("30.00", "30.00"), where
        assert settled(merchant, order["id"]) == [Decimal("30.00")], where
        assert [r["total"] for r in refunds_of(merchant, order["id"]).json()["items"]] == ["30.00"], where
        replay = refund(merchant, order["id"], partial(), key="k")
        assert replay.status == 201 and replay.headers.get("idempotent-replayed") == "true", where
        assert replay.json() == done.json(), where


def test_while_a_refund_with_an_unknown_outcome_is_unfinished_its_amount_stays_reserved(
        merchant: str, faults: FaultInjector) -> None:
    """The settlement landed but its answer was a 5xx: the money may have left, so another key
    cannot refund it again."""
    order = new_order(merchant)
    fault = faults.fail("dynamodb", "PutItem", AwsError("InternalServerError", 500, applied=True),
                        when=lambda p: str(p.get("Item", {}).get(keys.SK, "")).startswith(
                            keys.order_settlement("m", "o", "")[keys.SK]))
    assert refund(merchant, order["id"], partial("100.00"), key="first").status >= 500
    assert fault.hits == 1
    other = refund(merchant, order["id"], partial("100.00"), key="second")
    assert other.status == 422, other.body
    assert finish(merchant, order["id"], partial("100.00"), key="first").status == 201
    assert settled(merchant, order["id"]) == [Decimal("100.00")]
    assert get_order(merchant, order["id"]).json()["refunded"]["subtotal"] == "100.00"


class FakeStripe:
    """Stripe's refunds endpoint: one refund per Idempotency-Key; `lose_answers` refunds and then
    times out, as a connection cut after Stripe processed the request."""

    def __init__(self) -> None:
        self.refunds: dict[str, int] = {}
        self.lose_answers = 0
        self.refuse = 0

    def __call__(self, request: Any, timeout: float) -> Any:
        if self.refuse:
            self.refuse -= 1
            raise urllib.error.HTTPError(request.full_url, 402, "card_declined", {}, io.BytesIO(b"{}"))  # type: ignore[arg-type]
        key = request.headers["Idempotency-key"]
        amount = int(dict(p.split("=", 1) for p in request.data.decode().split("&"))["amount"])
        self.refunds.setdefault(key, amount)
        if self.lose_answers:
            self.lose_answers -= 1
            raise TimeoutError("The read operation timed out")
        return io.BytesIO(json.dumps({"id": f"re_{key[-8:]}", "status": "succeeded"}).encode())

    def refunded(self) -> Decimal:
        return Decimal(sum(self.refunds.values())) / 100


@pytest.fixture
def stripe(merchant: str, monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    fake = FakeStripe()
    monkeypatch.setattr(refund_module, "payment_provider",
                        lambda table=None: StripePaymentProvider("sk_test", opener=fake))
    return fake


def stripe_order(merchant: str) -> dict[str, Any]:
    return new_order(merchant, payment_reference="pi_123")


def test_a_provider_answer_lost_after_it_refunded_never_lets_another_key_refund_again(
        merchant: str, stripe: FakeStripe) -> None:
    order = stripe_order(merchant)
    stripe.lose_answers = 1
    lost = refund(merchant, order["id"], partial("100.00"), key="first")
    assert lost.status == 503 and "same Idempotency-Key" in lost.json()["detail"]
    assert stripe.refunded() == Decimal("100.00")
    # The merchant tries again with a new key: the first refund may have happened, so no.
    assert refund(merchant, order["id"], partial("100.00"), key="second").status == 422
    assert stripe.refunded() == Decimal("100.00")
    # The same key finishes it, at once (the lost attempt gave up its lease), with Stripe's dedup.
    done = refund(merchant, order["id"], partial("100.00"), key="first")
    assert done.status == 201, done.body
    assert stripe.refunded() == Decimal("100.00") and len(stripe.refunds) == 1
    shown = get_order(merchant, order["id"]).json()
    assert shown["refunded"]["subtotal"] == "100.00"


def test_a_provider_refusal_frees_the_amount(merchant: str, stripe: FakeStripe) -> None:
    order = stripe_order(merchant)
    stripe.refuse = 1
    assert refund(merchant, order["id"], partial("100.00"), key="first").status == 503
    assert refund(merchant, order["id"], partial("100.00"), key="second").status == 201
    assert stripe.refunded() == Decimal("100.00")


def test_a_cancellation_whose_provider_answer_was_lost_is_finished_by_its_retry_once(
        merchant: str, stripe: FakeStripe) -> None:
    order = stripe_order(merchant)
    stripe.lose_answers = 1
    assert cancel(merchant, order["id"]).status == 503
    assert stripe.refunded() == Decimal("120.00")
    done = cancel(merchant, order["id"])
    assert done.status == 200, done.body
    assert done.json()["order"]["status"] == "cancelled"
    assert stripe.refunded() == Decimal("120.00") and len(stripe.refunds) == 1
    assert get_order(merchant, order["id"]).json()["refunded"]["total"] == "120.00"


# The calls of a cancellation that refunds: order, ledger, reserve (order, ledger, pending refund),
# the provider's settlement, settle (order, refund, activity).
CANCEL_WRITES = {"reserve": 2, "settlement": 3, "settle": 4}


@pytest.mark.parametrize("point", list(CANCEL_WRITES.values()), ids=list(CANCEL_WRITES))
def test_a_cancellation_whose_write_answer_was_lost_is_finished_by_its_retry_once(
        merchant: str, faults: FaultInjector, point: int) -> None:
    order, rehearsal = new_order(merchant), new_order(merchant)
    faults.clear()
    assert cancel(merchant, rehearsal["id"]).status == 200
    calls = [(c.service, c.operation) for c in faults.calls]
    assert [op for _, op in calls] == ["GetItem", "GetItem", "TransactWriteItems", "PutItem", "TransactWriteItems"]
    faults.clear()
    service, operation = calls[point]
    fault = faults.fail(service, operation, LostAnswer(), on_call=calls[: point + 1].count((service, operation)))
    first = cancel(merchant, order["id"])
    assert fault.hits == 1
    assert first.status >= 500 or first.status == 200
    clock.advance(timedelta(minutes=1))
    second = cancel(merchant, order["id"])
    assert second.status in (200, 409), second.body
    shown = get_order(merchant, order["id"]).json()
    assert shown["status"] == "cancelled" and shown["refunded"]["total"] == "120.00"
    assert settled(merchant, order["id"]) == [Decimal("120.00")]
