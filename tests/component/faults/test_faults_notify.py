"""Customer emails under faults: an SES refusal or a DynamoDB fault before the send makes Lambda
retry the event and the email goes out exactly once after recovery; a fault in the bookkeeping
after SES took the email never sends it a second time.

The design (functions/notify/service.py `deliver`): each (shipment, milestone) is claimed with a
conditional write before SES is called, so delivery is *at most once*: a retried event finds the
claim and sends nothing. The price, shown by the last test: when the send certainly failed but
recording that failure fails too, the claim stays `claimed` and that email is not sent (the record
says so; after 15 minutes the next event marks it `unknown`). Sending twice is never the price.

Faults are injected at the call layer: the SES client makes one attempt (no botocore retry), and
for DynamoDB it is what the function sees once botocore's retries are spent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.notify.sender import THROTTLED_ATTEMPTS
from functions.shipments.handler import lambda_handler as shipments_api
from shared.merchants.store import MerchantRepository
from shared.notifications.model import NotificationState, NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.platform import clock
from tests.apigw import api_event, call
from tests.component.notify_pipeline import BusEvent, TableStream, notify, recording_outbox, ses_sent_count
from tests.factories import shipment_body
from tests.faults import DYNAMODB_THROTTLED, SES_REJECTED, SES_THROTTLED, FaultInjector, LostAnswer, NoConnection

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
# The calls of one milestone email, in order (checked by the first test).
EMAIL_CALLS = [("dynamodb", "GetItem"),  # the merchant (settings)
               ("dynamodb", "GetItem"),  # the shipment
               ("dynamodb", "GetItem"),  # the merchant's suppression list (SES feedback)
               ("dynamodb", "UpdateItem"),  # the claim
               ("sesv2", "SendEmail"),
               ("dynamodb", "UpdateItem")]  # the outcome
LAMBDA_ATTEMPTS = 3  # an asynchronous invocation and Lambda's two retries


@pytest.fixture
def merchant(aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    clock.use_fixed(NOW)
    recording_outbox(monkeypatch)
    return MerchantRepository().create("Atelier Lune").id


def created_event(merchant: str, stream: TableStream) -> tuple[str, BusEvent]:
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=shipment_body(), merchant_id=merchant))
    assert response.status == 201
    [event] = stream.published("ShipmentCreated")
    return response.json()["id"], event


def as_lambda_would(event: BusEvent) -> list[str]:
    """The invocation, then Lambda's retries while it raises: each attempt's outcome."""
    outcomes = []
    for _ in range(LAMBDA_ATTEMPTS):
        try:
            outcomes.append(notify(event)["outcomes"]["ready_to_ship"])
            break
        except Exception as error:
            outcomes.append(type(error).__name__)
    return outcomes


def state(merchant: str, shipment_id: str) -> NotificationState:
    record = NotificationRepository().get(NotificationTarget(merchant, "ready_to_ship", shipment_id=shipment_id))
    assert record is not None
    return record.state


def test_the_walk_covers_every_call_of_an_email(merchant: str, faults: FaultInjector, aws_env: dict[str, Any]) -> None:
    stream = TableStream(aws_env["TABLE_NAME"])
    _, event = created_event(merchant, stream)
    faults.clear()
    assert notify(event)["outcomes"] == {"ready_to_ship": "sent"}
    assert [(c.service, c.operation) for c in faults.calls] == EMAIL_CALLS


@pytest.mark.parametrize("error", [DYNAMODB_THROTTLED, NoConnection()], ids=["throttled", "no-connection"])
def test_a_fault_at_any_call_sends_the_email_exactly_once(merchant: str, faults: FaultInjector,
                                                          aws_env: dict[str, Any], error: Any) -> None:
    stream = TableStream(aws_env["TABLE_NAME"])
    for point, (service, operation) in enumerate(EMAIL_CALLS):
        where = f"fault at call {point + 1} ({operation})"
        shipment_id, event = created_event(merchant, stream)
        faults.clear()
        # SES throttling that outlasts the sender's own backed-off attempts
        faults.fail(service, operation, SES_THROTTLED if service == "sesv2" else error,
                    on_call=EMAIL_CALLS[: point + 1].count((service, operation)),
                    times=THROTTLED_ATTEMPTS if service == "sesv2" else 1)
        outcomes = as_lambda_would(event)
        assert outcomes[0] != "sent", (where, outcomes)
        assert ses_sent_count() == point + 1, (where, outcomes)  # one email per shipment so far
        assert notify(event)["outcomes"] == {"ready_to_ship": "duplicate"}, where  # yet another repeat
        assert ses_sent_count() == point + 1, where
        if point < len(EMAIL_CALLS) - 1:  # the outcome was recorded
            assert state(merchant, shipment_id) is NotificationState.sent, where


def test_a_lost_answer_from_ses_is_unknown_and_never_resent(merchant: str, faults: FaultInjector,
                                                           aws_env: dict[str, Any]) -> None:
    shipment_id, event = created_event(merchant, TableStream(aws_env["TABLE_NAME"]))
    faults.fail("sesv2", "SendEmail", LostAnswer())
    assert as_lambda_would(event) == ["unknown"]
    assert notify(event)["outcomes"] == {"ready_to_ship": "duplicate"}
    assert ses_sent_count() == 1 and state(merchant, shipment_id) is NotificationState.unknown


def test_a_message_ses_rejects_is_failed_and_not_retried(merchant: str, faults: FaultInjector,
                                                        aws_env: dict[str, Any]) -> None:
    shipment_id, event = created_event(merchant, TableStream(aws_env["TABLE_NAME"]))
    fault = faults.fail("sesv2", "SendEmail", SES_REJECTED)
    assert as_lambda_would(event) == ["failed"]
    assert fault.hits == 1 and ses_sent_count() == 0 and state(merchant, shipment_id) is NotificationState.failed


def test_a_refused_send_whose_failure_cannot_be_recorded_is_not_sent_rather_than_sent_twice(
        merchant: str, faults: FaultInjector, aws_env: dict[str, Any]) -> None:
    shipment_id, event = created_event(merchant, TableStream(aws_env["TABLE_NAME"]))
    faults.fail("sesv2", "SendEmail", SES_THROTTLED, times=THROTTLED_ATTEMPTS)
    faults.fail("dynamodb", "UpdateItem", DYNAMODB_THROTTLED, on_call=2)  # recording `failed`
    assert as_lambda_would(event) == ["ProvisionedThroughputExceededException", "duplicate"]
    assert ses_sent_count() == 0 and state(merchant, shipment_id) is NotificationState.claimed
