"""Personal-data hygiene (issue 9, item 4): every flow, run with every logger at DEBUG, leaves no
recipient or customer name, street, postal code, phone or email in logs, EventBridge events or
dead-letter messages.

The whole template runs in this process (`local.start_stack`: the real handlers behind the gateway,
the table stream consumers, EventBridge rules, S3 notifications, TTL, schedules, on-failure
destinations), so what a function logs, what the outbox puts on the bus and what a failed
asynchronous invocation sends to its queue is what AWS would see. Lambda's advanced logging
controls can set the root logger to DEBUG, and POWERTOOLS_LOG_LEVEL the service logger: both are.

Seen here: every log record (its message, arguments, extra keys and exception text, whatever the
logger), everything written to stdout/stderr (the powertools JSON lines included), every event put
on the bus (an SQS queue subscribed to all of them), and every message of every queue of the stack
at the end (the on-failure destinations and dead-letter queues of the template among them), with a
forced failure so that the dead-letter path really carries something.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests

from tests.carrier_payloads import BUILDERS
from tests.carrier_signing import shippo_query, signed_headers

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60

# Distinctive values, one per kind of personal data; every record below uses them (with a suffix
# where a value must be unique), so any copy of one anywhere is a leak.
FIRST_NAME, LAST_NAME = "Zyxwname", "Vbnmlastname"
STREET, STREET_2 = "Qwertystraat 77", "Qwertyhof bus 9"
POSTAL_CODE = "9999 ZZ"
PHONE = "+31 6 98765432"
EMAIL_USER, EMAIL_DOMAIN = "pii.marker", "example.org"
EMAIL = f"{EMAIL_USER}@{EMAIL_DOMAIN}"


def _variants(value: str) -> set[str]:
    """The spellings a value can take on the way out: as sent, JSON- or URL-encoded, spaces or
    case normalised, a phone's digits alone."""
    spellings = {value, value.replace(" ", ""), value.casefold(), value.upper(), quote(value), quote_plus(value),
                 json.dumps(value)[1:-1]}
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("+") and len(digits) >= 8:
        spellings |= {digits, digits[-8:]}  # +31698765432, 0698765432, 98765432 all end the same
    return {s for s in spellings if len(s) >= 6}


NEEDLES: dict[str, set[str]] = {
    "first name": _variants(FIRST_NAME), "last name": _variants(LAST_NAME),
    "street": _variants(STREET.split()[0]) | _variants(STREET_2.split()[0]),
    "postal code": _variants(POSTAL_CODE), "phone": _variants(PHONE),
    "email": _variants(EMAIL_USER) | {quote(EMAIL), EMAIL_USER.replace(".", "%2E")},
}


@dataclass(frozen=True)
class Leak:
    channel: str
    kinds: tuple[str, ...]
    excerpt: str

    def __str__(self) -> str:
        return f"{self.channel} ({', '.join(self.kinds)}): ...{self.excerpt}..."


def find_personal_data(channel: str, text: str) -> list[Leak]:
    """The kinds of personal data found in `text` (one leak per text), with the context of the first."""
    lowered = text.casefold()
    found: dict[str, int] = {}
    for kind, needles in NEEDLES.items():
        hits = [at for at in (lowered.find(needle.casefold()) for needle in needles) if at >= 0]
        if hits:
            found[kind] = min(hits)
    if not found:
        return []
    first = min(found.values())
    return [Leak(channel, tuple(found), text[max(0, first - 300):first + 100])]


def recipient(suffix: str = "") -> dict[str, Any]:
    return {"first_name": FIRST_NAME, "last_name": LAST_NAME + suffix, "company": "Zyxw BV", "address_1": STREET,
            "address_2": STREET_2, "city": "Utrecht", "postal_code": POSTAL_CODE, "country": "NL", "phone": PHONE,
            "email": f"{EMAIL_USER}{suffix}@{EMAIL_DOMAIN}", "language": "nl"}


# --- what is captured ----------------------------------------------------------------------------------
class RecordCapture(logging.Handler):
    """Every record reaching the root logger: message, arguments, extra keys, exception text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exception = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
            self.texts.append(f"{record.name} {record.levelname} {record.getMessage()} {record.__dict__!r} {exception}")
        except Exception as error:  # a record that cannot be read is itself worth seeing
            self.texts.append(f"{record.name}: unreadable record ({type(error).__name__}) {record.msg!r}")


class Tee(io.TextIOBase):
    """Stands in for a handler's stream: keeps everything written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Captured:
    records: RecordCapture
    streams: list[Tee] = field(default_factory=list)


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """Root at DEBUG (Lambda's advanced logging controls), the service logger at DEBUG
    (POWERTOOLS_LOG_LEVEL), and a copy of whatever any handler writes."""
    from shared.platform.observability import logger as service_logger

    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    capture = RecordCapture()
    logging.getLogger().addHandler(capture)
    previous_level = service_logger.log_level
    service_logger.setLevel("DEBUG")
    tees: list[Tee] = []
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    # powertools' handler holds the sys.stdout of its import time, which no fd capture sees.
    for handler in service_logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            tee = Tee()
            swapped.append((handler, handler.setStream(tee)))
            tees.append(tee)
    # Records of the service logger reach `capture` through the root, unless it stops propagating.
    own_capture = not service_logger._logger.propagate
    if own_capture:
        service_logger.addHandler(capture)
    try:
        yield Captured(capture, tees)
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)
        if own_capture:
            service_logger.removeHandler(capture)
        service_logger.setLevel(previous_level)
        logging.getLogger().removeHandler(capture)


# --- the local stack, in this process --------------------------------------------------------------------
@dataclass
class Stack:
    handle: Any
    api: requests.Session
    url: str
    state: dict[str, Any]
    tap_queue: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.api.request(method, self.url + path, **kwargs)

    def ok(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else response

    def sqs(self) -> Any:
        return self.handle.aws.client("sqs")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _tap_the_bus(handle: Any) -> str:
    """A queue subscribed to every event of the stack's bus: what the outbox really puts there."""
    events, sqs = handle.aws.client("events"), handle.aws.client("sqs")
    bus = os.environ["EVENT_BUS_NAME"]
    url = sqs.create_queue(QueueName="hygiene-bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="hygiene-everything", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule="hygiene-everything", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return url


def _roles_of_the_local_stack() -> dict[str, list[dict[str, Any]]]:
    """Every function's role resolved against the local stack's resource names (the session's
    enforcer resolves them for the component tests' `aws_env` names): the handlers called through
    the stack still run under their own roles, now over the stack's table, queues and buckets."""
    from local import iam
    from local.resources import physical_name
    from tests import least_privilege

    translated = iam.translated_template()
    names = {logical_id: physical_name(logical_id, lowercase=resource["Type"] == "AWS::S3::Bucket")
             for logical_id, resource in translated["Resources"].items()}
    parameters = {name: str(spec["Default"]) for name, spec in translated.get("Parameters", {}).items()
                  if "Default" in spec}
    resolver = iam.resolver_for(translated, parameters, least_privilege.REGION, least_privilege.ACCOUNT, names)
    # The local stack emulates SES configuration sets under its own names (it creates none in moto).
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] == "AWS::SES::ConfigurationSet":
            resolver.register(logical_id, *iam._physical(resource["Type"], names[logical_id], least_privilege.REGION,
                                                         least_privilege.ACCOUNT))
    return iam.function_policies(translated, resolver)


@pytest.fixture
def stack(debug_logging: Captured) -> Iterator[Stack]:
    from functions.webhook import handler as webhook_module
    from local import start_stack
    from tests import least_privilege

    # A new stack is a new deployment: no warm state (clients of an earlier stack's moto) carries over.
    webhook_module._connections.cache_clear()
    webhook_module._warm_state.cache_clear()
    enforcer = least_privilege.enforcer
    component_roles = enforcer.statements if enforcer else None
    if enforcer is not None:
        enforcer.statements = _roles_of_the_local_stack()
    handle = start_stack(PROJECT_ROOT / "template.yaml", api_port=0, moto_port=0, state_file=None,
                         project_root=PROJECT_ROOT, background_schedules=False, ttl_interval=1.0)
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {handle.state['api_key']}"
        yield Stack(handle, session, handle.api_url, handle.state, _tap_the_bus(handle))
        session.close()
    finally:
        # moto's backends live in this process, beyond the server: the next in-process stack of the
        # session creates the same table, queues and buckets again.
        requests.post(handle.aws_endpoint_url + "/moto-api/reset", timeout=30)
        handle.stop()
        if enforcer is not None and component_roles is not None:
            enforcer.statements = component_roles


def drain(sqs: Any, queue_url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=300, MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.dumps(message) for message in messages]


# --- the flows ----------------------------------------------------------------------------------------------
def _emails_to(stack: Stack, address: str) -> list[dict[str, Any]]:
    items = stack.ok("GET", "/_local/outbox")["items"]
    return [item for item in items if address in json.dumps(item)]


def run_shipment_and_webhook_flows(stack: Stack) -> dict[str, Any]:
    numbers = [f"HYG{uuid.uuid4().hex[:10].upper()}" for _ in range(5)]
    body = {"recipient": recipient(), "return_address": {"name": "Atelier Lune", "address_1": "5 quai Voltaire",
                                                          "city": "Paris", "postal_code": "75007", "country": "FR"},
            "package": {"type": "parcel", "size_unit": "cm", "length": "30", "width": "20", "height": "10",
                        "weight_unit": "kg", "weight": "1.2", "contents": "merchandise", "value": "49.90",
                        "currency": "EUR"},
            "postage_type": "standard", "carrier": "colissimo",
            "parcels": [{"tracking_number": number} for number in numbers]}
    shipment = stack.ok("POST", "/v1/shipments", 201, json=body)
    # Refused input is personal data too: the problem answer may quote it, the logs may not.
    bad = {**body, "recipient": {**recipient(), "country": "Nederland", "email": "not an email " + EMAIL}}
    assert stack.call("POST", "/v1/shipments", json=bad).status_code == 422
    stack.ok("GET", f"/v1/shipments/{shipment['id']}")
    stack.ok("GET", "/v1/shipments", params={"q": numbers[0]})
    stack.ok("GET", "/v1/shipments", params={"limit": "1"})

    now = datetime.fromisoformat(stack.ok("GET", "/_local/clock")["now"].replace("Z", "+00:00"))
    for number, carrier in zip(numbers, ("sendcloud", "easypost", "aftership", "shippo", "colis"), strict=True):
        deliver_webhook(stack, carrier, carrier_payload(carrier, number, now - timedelta(minutes=5)), now)
    # An update for a number nobody shipped yet (kept as an orphan), and one that cannot be parsed.
    deliver_webhook(stack, "sendcloud", carrier_payload("sendcloud", "HYGORPHAN0001", now), now)
    hook = stack.state["webhooks"]["colis"]
    garbage = json.dumps({"tracking_number": numbers[0], "recipient": recipient()})[:-3].encode()
    response = requests.post(hook["url"], data=garbage, timeout=30,
                             headers={"Content-Type": "application/json",
                                      **signed_headers("colis", hook["secret"], garbage, now)})
    assert response.status_code == 400, response.text
    stack.ok("GET", f"/v1/shipments/{shipment['id']}/events")
    for parcel in shipment["parcels"][:2]:
        page = parcel["public_tracking_url"].removeprefix(stack.url)
        stack.ok("GET", page, headers={"Accept": "application/json"})
        stack.ok("GET", page, params={"lang": "nl"})
    wait_for("the shipment notification email", lambda: _emails_to(stack, EMAIL))
    return shipment


def carrier_payload(carrier: str, number: str, at: datetime) -> bytes:
    """The carrier's own shape, with the personal data carriers really send in it."""
    payload = BUILDERS[carrier](number, "in_transit", at)
    person = recipient()
    if carrier == "sendcloud":
        payload["parcel"].update(name=f"{FIRST_NAME} {LAST_NAME}", address=STREET, address_divided={"street": STREET},
                                 postal_code=POSTAL_CODE, telephone=PHONE, email=EMAIL, company_name="Zyxw BV")
    elif carrier == "easypost":
        payload["result"]["carrier_detail"] = {"destination_location": f"{STREET}, {POSTAL_CODE} UTRECHT"}
    elif carrier == "aftership":
        payload["msg"].update(customer_name=f"{FIRST_NAME} {LAST_NAME}", emails=[EMAIL], smses=[PHONE],
                              destination_raw_location=f"{STREET}, {POSTAL_CODE}")
    elif carrier == "shippo":
        payload["data"]["address_to"] = {"name": f"{FIRST_NAME} {LAST_NAME}", "street1": STREET,
                                         "zip": POSTAL_CODE, "phone": PHONE, "email": EMAIL, "city": "Utrecht",
                                         "country": "NL"}
    else:
        payload["location"] = f"{STREET}, {POSTAL_CODE} Utrecht"  # a free-text location is the carrier's
        payload["recipient"] = person
    return json.dumps(payload).encode("utf-8")


def deliver_webhook(stack: Stack, carrier: str, raw: bytes, at: datetime) -> None:
    hook = stack.state["webhooks"][carrier]
    if carrier == "shippo":
        response = requests.post(hook["url"], data=raw, params=shippo_query(hook["secret"]), timeout=30,
                                 headers={"Content-Type": "application/json"})
    else:
        response = requests.post(hook["url"], data=raw, timeout=30, headers={
            "Content-Type": "application/json", **signed_headers(carrier, hook["secret"], raw, at)})
    assert response.status_code == 200, f"{carrier}: {response.status_code} {response.text}"


def order_body(number: str, suffix: str) -> dict[str, Any]:
    person = recipient(suffix)
    return {"order_number": number, "store": "shopify",
            "customer": {"username": f"hygiene-{suffix or 'main'}", "email": person["email"],
                         "first_name": FIRST_NAME, "last_name": person["last_name"]},
            "currency": "EUR", "lines": [{"sku": "LAMP-01", "name": "Lampe", "quantity": 1, "unit_price": "80.00",
                                          "weight": "1.2", "weight_unit": "kg"}],
            "amounts": {"subtotal": "80.00", "shipping": "10.00", "duties": "0.00", "taxes": "0.00"},
            "payment_mode": "platform", "billing_address": person, "shipping_address": person}


def run_order_flows(stack: Stack) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    order = stack.ok("POST", "/v1/orders", 201, json=order_body(f"#H{tag}-1", ""))
    moved = {**recipient(), "address_1": STREET + " B", "postal_code": POSTAL_CODE, "phone": PHONE + "1"}
    stack.ok("PATCH", f"/v1/orders/{order['id']}", json={"shipping_address": moved})
    stack.ok("POST", f"/v1/orders/{order['id']}/notes", 201,
             json={"text": f"{FIRST_NAME} asked to leave it at {STREET}"})
    number = f"HYG{uuid.uuid4().hex[:10].upper()}"
    stack.ok("POST", f"/v1/orders/{order['id']}/tracking", 201, json={"carrier": "colissimo", "tracking_number": number})
    # A shipment created for the order: ShipmentCreated links it (the orders' EventBridge rule).
    shipped = stack.ok("POST", "/v1/shipments", 201, json={
        "recipient": recipient(), "order_id": order["id"], "postage_type": "standard", "carrier": "colissimo",
        "package": {"type": "parcel", "size_unit": "cm", "length": "30", "width": "20", "height": "10",
                    "weight_unit": "kg", "weight": "1.2", "contents": "merchandise", "value": "49.90",
                    "currency": "EUR"},
        "return_address": {"name": "Atelier Lune", "address_1": "5 quai Voltaire", "city": "Paris",
                           "postal_code": "75007", "country": "FR"},
        "parcels": [{"tracking_number": f"HYG{uuid.uuid4().hex[:10].upper()}"}]})
    wait_for("the shipment linked to its order",
             lambda: shipped["id"] in stack.ok("GET", f"/v1/orders/{order['id']}")["shipment_ids"])
    stack.ok("POST", f"/v1/shipments/{shipped['id']}/void-label")
    stack.ok("POST", f"/v1/orders/{order['id']}/refunds", 201, headers={"Idempotency-Key": f"hyg-{tag}"},
             json={"amounts": {"subtotal": "10.00"}, "reason": "damaged", "note": f"{FIRST_NAME} {LAST_NAME} called"})
    stack.ok("GET", f"/v1/orders/{order['id']}/refunds")
    stack.ok("GET", f"/v1/orders/{order['id']}/activity")
    stack.ok("GET", "/v1/orders", params={"order_number": order["order_number"]})

    cancelled = stack.ok("POST", "/v1/orders", 201, json=order_body(f"#H{tag}-2", "-c"))
    stack.ok("POST", f"/v1/orders/{cancelled['id']}/cancel",
             json={"reason": f"{FIRST_NAME} moved to {STREET}", "notify_customer": True})
    wait_for("the cancellation email", lambda: _emails_to(stack, f"{EMAIL_USER}-c@{EMAIL_DOMAIN}"))
    return order


def customer_csv(rows: list[dict[str, str]]) -> bytes:
    from shared.customers.model import CUSTOMER_CSV_HEADER

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CUSTOMER_CSV_HEADER), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in CUSTOMER_CSV_HEADER})
    return out.getvalue().encode("utf-8")


def run_customer_flows(stack: Stack, order: dict[str, Any]) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    person = recipient("-k")
    address = {key: person[key] for key in ("address_1", "address_2", "city", "postal_code", "country")}
    created = stack.ok("POST", "/v1/customers", 201, json={
        "username": f"hyg-{tag}", "email": person["email"], "first_name": FIRST_NAME, "last_name": person["last_name"],
        "phone": PHONE, "address": address, "tags": ["hygiene"]})
    stack.ok("PATCH", f"/v1/customers/{created['id']}", json={"phone": PHONE + "2",
                                                             "address": {**address, "address_1": STREET + " C"}})
    duplicate = stack.ok("POST", "/v1/customers", 201, json={
        "username": f"hyg-dup-{tag}", "email": f"{EMAIL_USER}-d@{EMAIL_DOMAIN}", "first_name": FIRST_NAME,
        "last_name": LAST_NAME, "address": address})
    stack.ok("GET", "/v1/customers/duplicates")
    stack.ok("PUT", f"/v1/customers/{created['id']}/tags", json={"tags": ["hygiene", "vip"]})
    # The order's own customer absorbs the new records: CustomerMerged relinks in the background.
    master = order["customer_id"]
    stack.ok("POST", f"/v1/customers/{master}/merge", json={"absorb": [created["id"], duplicate["id"]]})

    rows = [{"Username": f"hyg-imp-{tag}-{n}", "Email": f"{EMAIL_USER}-i{n}@{EMAIL_DOMAIN}", "First Name": FIRST_NAME,
             "Last Name": f"{LAST_NAME}{n}", "Phone": PHONE, "Address Line 1": STREET, "Address Line 2": STREET_2,
             "City": "Utrecht", "Postal Code": POSTAL_CODE, "Country Code": "NL", "Tags": "hygiene"} for n in range(3)]
    # A row the import rejects: its report names the row, never echoes the cells into logs.
    rows.append({"Username": "", "Email": f"broken {EMAIL}", "First Name": FIRST_NAME, "Phone": PHONE,
                 "Address Line 1": STREET, "Postal Code": POSTAL_CODE})
    started = stack.ok("POST", "/v1/customer-imports", 202, data=customer_csv(rows),
                       headers={"Content-Type": "text/csv"})
    job = wait_for("the customer import", lambda: (lambda j: j if j["status"] in ("done", "failed") else None)(
        stack.ok("GET", f"/v1/customer-imports/{started['id']}")))
    assert job["status"] == "done" and job["created"] == 3, job
    upload = stack.ok("POST", "/v1/customer-imports", 202, json={"upload": True})
    put = requests.put(upload["upload_url"], data=customer_csv(rows[:1]), timeout=30)
    assert put.status_code == 200, put.text
    wait_for("the uploaded import", lambda: stack.ok("GET", f"/v1/customer-imports/{upload['id']}")["status"] == "done")
    stack.ok("GET", "/v1/customers", params={"tag": "hygiene"})
    return stack.ok("GET", f"/v1/customers/{master}")


def run_export_flows(stack: Stack, customer_id: str) -> None:
    requests_ = [{"type": "shipments", "format": "csv"}, {"type": "shipments", "format": "xlsx"},
                 {"type": "customers"}, {"type": "customer_data", "customer_id": customer_id},
                 {"type": "customer_data", "customer_id": customer_id, "format": "csv"}]
    for body in requests_:
        export = stack.ok("POST", "/v1/exports", 202, json=body)
        job = wait_for(f"the {body} export", lambda export=export: (lambda j: j if j["status"] in ("ready", "failed")
                                                                    else None)(stack.ok("GET", f"/v1/exports/{export['id']}")))
        assert job["status"] == "ready", job
        download = stack.call("GET", f"/v1/exports/{export['id']}/download", allow_redirects=True)
        assert download.status_code == 200, download.text[:300]


def run_retention_flows(stack: Stack, customer_id: str) -> None:
    erased = stack.ok("POST", f"/v1/customers/{customer_id}/erase")
    assert erased["erased_at"]
    stack.ok("POST", "/_local/clock", json={"advance_days": 91})
    stack.ok("POST", "/_local/schedules/retention")
    stack.ok("POST", "/_local/clock", json={"advance_days": 400})
    stack.ok("POST", "/_local/schedules/retention")


def force_a_dead_letter(stack: Stack, shipment: dict[str, Any]) -> list[str]:
    """One asynchronous invocation that fails every attempt (the table throttles the notify
    function), so a real ShipmentTrackingUpdated event goes to the function's on-failure
    destination, with the error, as Lambda sends it there."""
    from botocore.exceptions import ClientError

    from functions.notify import handler as notify_module

    queue = stack.handle.functions["NotifyFunction"].async_failure_destination
    assert queue, "NotifyFunction has an on-failure destination in template.yaml"
    real = notify_module.dependencies

    def throttled() -> Any:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                     "Message": "Rate of requests exceeds the allowed throughput."}}, "GetItem")

    notify_module.dependencies = throttled  # type: ignore[assignment]
    try:
        now = datetime.fromisoformat(stack.ok("GET", "/_local/clock")["now"].replace("Z", "+00:00"))
        number = shipment["parcels"][4]["tracking_number"]
        raw = carrier_payload("colis", number, now - timedelta(minutes=1)).replace(b'"in_transit"', b'"delivered"')
        deliver_webhook(stack, "colis", raw, now)
        sqs = stack.sqs()
        url = stack.handle.aws.queue_url(queue)
        return wait_for("a message on the notify function's failure queue", lambda: drain(sqs, url), timeout=90)
    finally:
        notify_module.dependencies = real  # type: ignore[assignment]


# --- the tests ----------------------------------------------------------------------------------------------
def test_the_scanner_finds_each_kind_of_personal_data() -> None:
    """The check below can fail: each marker is found as logged, JSON-escaped or URL-encoded."""
    samples = {"first name": f"hello {FIRST_NAME.upper()}", "last name": json.dumps({"n": LAST_NAME}),
               "street": f"b'{quote_plus(STREET)}'", "postal code": "zip=9999ZZ",
               "phone": "tel 0698765432", "email": f"to={quote(EMAIL)}"}
    for kind, text in samples.items():
        assert [leak.kinds for leak in find_personal_data("sample", text)] == [(kind,)], kind
    assert find_personal_data("sample", "shipment shp_1 order ord_2 customer cus_3 Utrecht NL") == []


def test_a_debug_log_of_an_address_is_caught(debug_logging: Captured) -> None:
    """The capture sees the service logger's own output and every library logger."""
    from shared.platform.observability import logger

    logger.debug("address", extra={"recipient": recipient()})
    logging.getLogger("some.library").debug("payload %s", {"postal_code": POSTAL_CODE})
    seen = "\n".join(debug_logging.records.texts)
    kinds = {kind for leak in find_personal_data("records", seen) for kind in leak.kinds}
    assert {"first name", "street", "postal code", "phone", "email"} <= kinds
    written = "".join(part for tee in debug_logging.streams for part in tee.parts)
    assert {kind for leak in find_personal_data("stdout", written) for kind in leak.kinds} >= {"street", "email"}


def test_no_personal_data_in_logs_events_or_dead_letters(stack: Stack, debug_logging: Captured,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    shipment = run_shipment_and_webhook_flows(stack)
    dead_letters = force_a_dead_letter(stack, shipment)
    order = run_order_flows(stack)
    customer = run_customer_flows(stack, order)
    run_export_flows(stack, customer["id"])
    run_retention_flows(stack, customer["id"])

    sqs = stack.sqs()
    events = drain(sqs, stack.tap_queue)
    detail_types = {json.loads(json.loads(message)["Body"])["detail-type"] for message in events}
    assert {"ShipmentCreated", "ShipmentTrackingUpdated", "OrderCancelled", "CustomerMerged",
            "ExportRequested"} <= detail_types, detail_types
    queued: list[str] = []
    for url in sqs.list_queues().get("QueueUrls", []):
        if url != stack.tap_queue:
            queued += drain(sqs, url)
    out, err = capfd.readouterr()

    leaks = [
        *[leak for text in debug_logging.records.texts
          for leak in find_personal_data(f"log record of {text.split(' ', 1)[0]}", text)],
        *find_personal_data("powertools output", "".join(p for tee in debug_logging.streams for p in tee.parts)),
        *find_personal_data("stdout", out), *find_personal_data("stderr", err),
        *[leak for message in events for leak in find_personal_data("EventBridge event", message)],
        *[leak for message in dead_letters + queued for leak in find_personal_data("queue message", message)],
    ]
    assert len(debug_logging.records.texts) > 200  # DEBUG really was on
    [dead_letter] = [json.loads(json.loads(message)["Body"]) for message in dead_letters]
    assert dead_letter["requestPayload"]["detail-type"] == "ShipmentTrackingUpdated"
    assert dead_letter["responsePayload"]["errorType"] == "ClientError"
    assert not leaks, f"{len(leaks)} leak(s):\n\n" + "\n\n".join(str(leak) for leak in leaks[:12])
