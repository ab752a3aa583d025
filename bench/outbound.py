"""Outbound webhooks: events through the real delivery function (queue batches, then the retry
schedule as the product clock moves) to a receiver on loopback that fails 30 % of requests at
random and verifies every signature with the reference `standardwebhooks` library (when
installed). Prints deliveries per second and `max_lost_events`, which must be 0: every event
reaches the receiver at least once.

BENCH_OUTBOUND_EVENTS (default 1000) events over 4 merchants with 2 endpoints each."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENTS = int(os.environ.get("BENCH_OUTBOUND_EVENTS", "1000"))
MERCHANTS, ENDPOINTS_EACH = 4, 2
FAILURE_RATE = 0.30
BATCH = 5  # the template's SQS batch size
CLOCK_STEP = timedelta(minutes=30)
MAX_CLOCK = timedelta(days=4)


def _environment() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "TABLE_NAME": "colis-bench",
                       "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_METRICS_DISABLED": "true", "OUTBOUND_ALLOW_LOOPBACK": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _records(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "md5OfBody": "x",
                         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:outbound",
                         "awsRegion": "eu-west-1", "attributes": {}, "messageAttributes": {},
                         "body": json.dumps(body)} for body in bodies]}


def run() -> dict[str, Any]:
    import boto3

    from functions.outbound import delivery_handler
    from shared.events.catalogue import ShipmentTrackingUpdated
    from shared.platform import aws, clock
    from shared.webhooks.model import EndpointRequest, new_endpoint
    from shared.webhooks.store import WebhookEndpointStore
    from tests.apigw import LambdaContext
    from tests.component.webhook_receiver import Receiver, receiving
    from tests.template_resources import create_table

    create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    aws.reset_clients()
    verified = importlib.util.find_spec("standardwebhooks") is not None
    store = WebhookEndpointStore()
    with receiving(Receiver(failure_rate=FAILURE_RATE, check_signatures=verified)) as receiver:
        merchants = [f"mer_bench{i}" for i in range(MERCHANTS)]
        for merchant in merchants:
            for number in range(ENDPOINTS_EACH):
                endpoint, secret = new_endpoint(EndpointRequest(url=f"{receiver.url}/{merchant}/{number}",
                                                                events=["shipment.status_changed"]))
                store.create(merchant, endpoint)
                receiver.secrets.append(secret)
        bus_events = [{"id": str(uuid.uuid4()), "detail-type": "ShipmentTrackingUpdated", "source": "colis",
                       "time": clock.isoformat(clock.now()),
                       "detail": json.loads(ShipmentTrackingUpdated(
                           merchant_id=merchants[i % MERCHANTS], shipment_id=f"shp_{i}", parcel_status="in_transit",
                           previous_shipment_status="pre_transit", shipment_status="in_transit").model_dump_json())}
                      for i in range(EVENTS)]
        expected = EVENTS * ENDPOINTS_EACH  # each endpoint of the event's merchant receives it
        started = time.perf_counter()
        failed_records = 0
        for start in range(0, EVENTS, BATCH):
            result = delivery_handler.lambda_handler(_records(bus_events[start:start + BATCH]), LambdaContext())
            failed_records += len(result["batchItemFailures"])
        first_pass = time.perf_counter() - started
        moved = timedelta()
        while store.pending(clock.now(), limit=1) and moved < MAX_CLOCK:
            clock.advance(CLOCK_STEP)
            moved += CLOCK_STEP
            while delivery_handler.lambda_handler({}, LambdaContext())["attempted"]:
                pass
        elapsed = time.perf_counter() - started
        # The receiver counts per (endpoint path, webhook-id): each endpoint must see each of its events.
        lost = expected - len(receiver.received)
        misdelivered = sum(1 for key, payload in receiver.events.items() if not _own(key, payload, merchants))
        requests = receiver.requests
        return {"events": EVENTS, "endpoints": MERCHANTS * ENDPOINTS_EACH, "expected_deliveries": expected,
                "http_requests": requests, "failure_rate_injected": FAILURE_RATE,
                "successful_deliveries": sum(receiver.received.values()), "duplicates": receiver.duplicates,
                "unverified": receiver.unverified, "signatures_verified_with_standardwebhooks": verified,
                "failed_queue_records": failed_records, "product_clock_moved_hours": moved.total_seconds() / 3600,
                "first_pass_seconds": round(first_pass, 2), "seconds": round(elapsed, 2),
                "deliveries_per_second": round(requests / elapsed, 1),
                "misdelivered": misdelivered, "max_lost_events": lost}


def _own(key: str, payload: dict[str, Any], merchants: list[str]) -> bool:
    """The delivery reached an endpoint of the event's own merchant (path /hooks/<merchant>/<n>;
    shipment `shp_<i>` belongs to merchant i mod MERCHANTS)."""
    path_merchant = key.split(" ", 1)[0].split("/")[2]
    return path_merchant == merchants[int(payload["data"]["shipment_id"].removeprefix("shp_")) % MERCHANTS]


def main() -> int:
    _environment()
    from moto import mock_aws

    with mock_aws():
        figures = run()
    print(json.dumps(figures))
    return 0 if figures["max_lost_events"] == 0 and figures["unverified"] == 0 and not figures["misdelivered"] else 1


if __name__ == "__main__":
    sys.exit(main())
