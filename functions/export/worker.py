"""Export worker: runs the job named by an `ExportRequested` event (EventBridge rule on the bus),
in its merchant's turn (at most two at once per merchant; the others wait and are woken in order).

The event carries ids only: `{"merchant_id", "export_id"}`. An SQS-wrapped delivery (a queue
between the rule and the function) is accepted too, one record per event, with partial failures.
The `export-turns` schedule (`{"sweep": "export-turns"}`) hands the slots of runs that died
without releasing them (lease expired) to waiting exports.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.export.jobs import Worker, run_in_turn
from shared.events.catalogue import ExportRequested, parse_as
from shared.exports.fairness import ExportGates
from shared.platform.observability import entrypoint


def run_event(event: dict[str, Any], context: LambdaContext) -> None:
    detail = parse_as(ExportRequested, event)
    run_in_turn(Worker.default(), ExportGates(), detail.merchant_id, detail.export_id,
                remaining_ms=context.get_remaining_time_in_millis)


SWEEP = "export-turns"


def sweep() -> dict[str, Any]:
    woken = ExportGates().promote_all()
    return {"woken": sum(len(ids) for ids in woken.values())}


@entrypoint(correlation_id_path="detail.export_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event.get("sweep") == SWEEP:
        return sweep()
    if "Records" not in event:
        run_event(event, context)
        return None
    # Only a deployment with a queue in front pays for the batch utility's import (~35 ms).
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def run_record(record: SQSRecord) -> None:
        run_event(json.loads(record.body), context)

    return process_partial_response(event=event, record_handler=run_record,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
