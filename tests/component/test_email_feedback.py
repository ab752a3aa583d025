"""SES feedback: bounces and complaints (configuration-set events through SNS) suppress the address
for that merchant, the email's record says what happened, and the next notification to that
address is not sent and its record says why. Rejected sends are counted for their alarm."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.notify import feedback as feedback_module
from functions.notify import service as notify_service
from functions.shipments.handler import lambda_handler as shipments_api
from local.ses_feedback import BOUNCE, COMPLAINT, ses_event
from shared.merchants.store import MerchantRepository
from shared.notifications.store import NotificationRepository, NotificationState, NotificationTarget
from shared.notifications.suppression import SuppressionList, SuppressionReason
from shared.platform import clock
from tests.apigw import LambdaContext, api_event, call
from tests.component.notify_pipeline import Outbox, TableStream, notify, recording_outbox, ses_sent_count
from tests.factories import shipment_body
from tests.faults import SES_REJECTED, injected_faults

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def outbox(aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Outbox:
    clock.use_fixed(NOW)
    return recording_outbox(monkeypatch)


def ship_to(merchant: str, email: str, stream: TableStream) -> tuple[str, dict[str, Any]]:
    """A shipment to `email`; (its id, the outcomes of its ready_to_ship notification)."""
    body = shipment_body()
    body["recipient"]["email"] = email
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert response.status == 201, response.body
    [event] = stream.published("ShipmentCreated")
    return response.json()["id"], notify(event)["outcomes"]


def feedback(merchant: str, shipment_id: str, recipient: str, **bounce: str) -> dict[str, Any]:
    """What SES publishes for the ready_to_ship email of that shipment, delivered by SNS."""
    tags = notify_service.feedback_tags(NotificationTarget(merchant, "ready_to_ship", shipment_id=shipment_id))
    request = {"FromEmailAddress": "no-reply@colis.test", "ConfigurationSetName": "colis-test",
               "Destination": {"ToAddresses": [recipient]},
               "EmailTags": [{"Name": k, "Value": v} for k, v in tags.items()]}
    complaint = recipient == COMPLAINT
    event = ses_event(request, COMPLAINT if complaint else BOUNCE, "ses-message-1", "2026-05-04T12:00:05.000Z")
    assert event is not None
    if not complaint:
        event["bounce"]["bouncedRecipients"][0]["emailAddress"] = recipient
        event["bounce"].update(bounce)
    record = {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(event), "TopicArn": "arn:aws:sns:eu-west-1:1:t"}}
    return feedback_module.lambda_handler({"Records": [record]}, LambdaContext())


def record(merchant: str, shipment_id: str) -> Any:
    found = NotificationRepository().get(NotificationTarget(merchant, "ready_to_ship", shipment_id=shipment_id))
    assert found is not None
    return found


def test_a_permanent_bounce_stops_that_merchants_emails_to_the_address_and_says_why(
        outbox: Outbox, aws_env: dict[str, Any]) -> None:
    stream = TableStream(aws_env["TABLE_NAME"])
    merchant, other = MerchantRepository().create("Atelier Lune").id, MerchantRepository().create("Autre").id
    first, outcomes = ship_to(merchant, BOUNCE, stream)
    assert outcomes == {"ready_to_ship": "sent"} and ses_sent_count() == 1
    assert feedback(merchant, first, BOUNCE) == {"suppressed": 1}
    assert record(merchant, first).feedback == "bounced"
    assert feedback(merchant, first, BOUNCE) == {"suppressed": 0}  # SNS delivered it twice: nothing more

    second, outcomes = ship_to(merchant, "Bounce@Simulator.AmazonSES.com", stream)  # addresses compare caselessly
    assert outcomes == {"ready_to_ship": "suppressed_address"} and ses_sent_count() == 1
    kept = record(merchant, second)
    assert kept.state is NotificationState.skipped and kept.reason == "address_bounced"
    assert kept.recipient_email is None
    # the suppression belongs to that merchant: another merchant still emails the address
    _, outcomes = ship_to(other, BOUNCE, stream)
    assert outcomes == {"ready_to_ship": "sent"} and ses_sent_count() == 2


def test_a_complaint_suppresses_a_transient_bounce_does_not(outbox: Outbox, aws_env: dict[str, Any]) -> None:
    stream = TableStream(aws_env["TABLE_NAME"])
    merchant = MerchantRepository().create("Atelier Lune").id
    shipment, _ = ship_to(merchant, "full@example.fr", stream)
    assert feedback(merchant, shipment, "full@example.fr", bounceType="Transient", bounceSubType="MailboxFull") == {
        "suppressed": 0}
    assert SuppressionList().reason(merchant, "full@example.fr") is None and record(merchant, shipment).feedback is None
    shipment, _ = ship_to(merchant, COMPLAINT, stream)
    assert feedback(merchant, shipment, COMPLAINT) == {"suppressed": 1}
    assert SuppressionList().reason(merchant, COMPLAINT) is SuppressionReason.complained
    assert record(merchant, shipment).feedback == "complained"


def test_feedback_about_an_email_that_is_not_ours_changes_nothing(aws_env: dict[str, Any]) -> None:
    merchant = MerchantRepository().create("Atelier Lune").id
    event = ses_event({"Destination": {"ToAddresses": [BOUNCE]}}, BOUNCE, "m", "2026-05-04T12:00:00.000Z")
    record_ = {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(event)}}
    assert feedback_module.lambda_handler({"Records": [record_]}, LambdaContext()) == {"suppressed": 0}
    assert SuppressionList().reason(merchant, BOUNCE) is None


def test_the_suppression_list_keeps_no_address(aws_env: dict[str, Any]) -> None:
    merchant = MerchantRepository().create("Atelier Lune").id
    SuppressionList().add(merchant, "Jeanne.Martin@example.fr", SuppressionReason.bounced, ses_message_id="m")
    import boto3

    items = boto3.resource("dynamodb", region_name="eu-west-1").Table(aws_env["TABLE_NAME"]).scan()["Items"]
    assert not any("jeanne" in json.dumps(item, default=str).lower() for item in items)
    assert SuppressionList().reason(merchant, " jeanne.martin@EXAMPLE.fr ") is SuppressionReason.bounced


def test_a_rejected_send_is_counted_for_its_alarm(outbox: Outbox, aws_env: dict[str, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    monkeypatch.setattr(notify_service, "count", lambda name, value=1: counted.append(name))
    stream = TableStream(aws_env["TABLE_NAME"])
    merchant = MerchantRepository().create("Atelier Lune").id
    with injected_faults() as faults:
        faults.fail("sesv2", "SendEmail", SES_REJECTED)
        _, outcomes = ship_to(merchant, "jeanne@example.fr", stream)
    assert outcomes == {"ready_to_ship": "failed"} and "EmailRejected" in counted
