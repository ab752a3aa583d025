"""Customer import worker: started by the import bucket's S3 notification (`customer-imports/` keys).

The object key names the merchant and the import (`customer-imports/<merchant>/<imp_id>.csv`), so
a notification carries no personal data and the worker needs nothing else. One invocation runs a
100,000-row file (batched reads and writes, constant memory); if its time budget runs out anyway,
it saves its progress and fails the invocation, and Lambda's retry resumes after the last chunk.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.customers import service
from functions.customers.importer import WORKERS
from shared.customers.imports import CustomerImportRepository, parse_object_key
from shared.customers.store import CustomerRepository
from shared.platform import aws
from shared.platform.observability import entrypoint, logger


def bulk_customers() -> CustomerRepository:
    """Customers through the table's bulk client: a connection per writer thread."""
    return CustomerRepository(aws.bulk_table(connections=WORKERS + 4))


def run_record(record: dict[str, Any], context: LambdaContext) -> None:
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    parsed = parse_object_key(key)
    if parsed is None:
        logger.warning("object is not a customer import; ignored")  # the key may hold a merchant id only
        return
    merchant_id, import_id = parsed
    logger.append_keys(import_id=import_id, merchant_id=merchant_id)
    service.run_import(bulk_customers(), CustomerImportRepository(), aws.client("s3"), bucket, key,
                       merchant_id, import_id, service.WorkerContext(context.get_remaining_time_in_millis))


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    for record in event.get("Records", []):
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            run_record(record, context)
