"""SES feedback, emulated: an email sent through a configuration set to SES's own simulator
addresses produces the event SES would publish to that set's SNS event destination, and functions
subscribed to the topic (`Type: SNS`) receive it as Lambda would (an SNS record, invoked
asynchronously). moto sends nothing and reports no bounce by itself.

- bounce@simulator.amazonses.com: a permanent bounce (General)
- complaint@simulator.amazonses.com: a complaint (abuse)
(as SES's mailbox simulator does; `suppressionlist@...` and `ooto@...` are not emulated)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.async_invoke import AsyncQueueFeed
from local.functions import FunctionSpec
from local.invoker import Invoker
from local.moto_server import Aws
from local.resources import STACK_NAME, LocalResource

log = logging.getLogger("local.ses_feedback")

BOUNCE, COMPLAINT = "bounce@simulator.amazonses.com", "complaint@simulator.amazonses.com"


def ses_event(request: dict[str, Any], recipient: str, message_id: str, at: str) -> dict[str, Any] | None:
    """The event SES publishes for one simulator recipient of a SendEmail (v2) request."""
    tags = {tag["Name"]: [tag["Value"]] for tag in request.get("EmailTags", [])}
    tags.setdefault("ses:configuration-set", [request.get("ConfigurationSetName", "")])
    mail = {"timestamp": at, "messageId": message_id, "source": request.get("FromEmailAddress", ""),
            "destination": request.get("Destination", {}).get("ToAddresses", []), "tags": tags}
    if recipient.lower() == BOUNCE:
        return {"eventType": "Bounce", "mail": mail,
                "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": at,
                           "feedbackId": f"local-{message_id}",
                           "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                                                  "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}
    if recipient.lower() == COMPLAINT:
        return {"eventType": "Complaint", "mail": mail,
                "complaint": {"complainedRecipients": [{"emailAddress": recipient}], "timestamp": at,
                              "feedbackId": f"local-{message_id}", "complaintFeedbackType": "abuse"}}
    return None


def _sns_records(message: dict[str, Any]) -> list[Any]:
    """moto's SNS → SQS envelope, as the Lambda event SNS would invoke with."""
    return [{"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "local",
                          "Sns": {"Type": "Notification", "MessageId": message.get("MessageId", ""),
                                  "TopicArn": message.get("TopicArn", ""), "Subject": message.get("Subject"),
                                  "Message": message["Message"], "Timestamp": message.get("Timestamp", ""),
                                  "MessageAttributes": {}}}]}]


class SesFeedback:
    """Turns simulator sends into SNS publications on the configuration set's feedback topics."""

    def __init__(self, aws: Aws, topics_by_set: dict[str, list[str]], now: Callable[[], datetime]) -> None:
        self._aws, self._topics, self._now = aws, topics_by_set, now

    def on_send(self, request: dict[str, Any]) -> None:
        topics = self._topics.get(request.get("ConfigurationSetName") or "", [])
        recipients = [r for r in request.get("Destination", {}).get("ToAddresses", []) if r.lower() in (BOUNCE, COMPLAINT)]
        if not topics or not recipients:
            return
        at = self._now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        events = [e for r in recipients if (e := ses_event(request, r, f"local-{uuid.uuid4().hex}", at))]
        # Called while moto answers the send, and moto serves one request at a time: publish after.
        threading.Thread(target=self._publish, args=(topics, events), daemon=True).start()

    def _publish(self, topics: list[str], events: list[dict[str, Any]]) -> None:
        sns = self._aws.client("sns")
        for topic in topics:
            for event in events:
                try:
                    sns.publish(TopicArn=topic, Message=json.dumps(event))
                except Exception:
                    log.exception("could not publish an SES feedback event")


def start_ses_feedback(template_resources: dict[str, dict[str, Any]], resources: dict[str, LocalResource],
                       functions: dict[str, FunctionSpec], invoker: Invoker, aws: Aws, stop: threading.Event,
                       resolve: Callable[[Any], Any], now: Callable[[], datetime]) -> tuple[SesFeedback, list[AsyncQueueFeed]]:
    """Subscribes a private queue per `Type: SNS` function event to its topic (feeds invoke the
    function from it) and maps each configuration set to the topics of its SNS event destinations."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    feeds = []
    for function in functions.values():
        for source in function.events_of("SNS"):
            queue_name = f"{STACK_NAME}-sns-{function.logical_id}-{source.name}"[:80]
            queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
            queue_arn = f"arn:aws:sqs:{aws.region}:{aws.account_id}:{queue_name}"
            sns.subscribe(TopicArn=source.properties["Topic"], Protocol="sqs", Endpoint=queue_arn)
            feeds.append(AsyncQueueFeed(f"sns:{function.logical_id}.{source.name}", invoker, aws, function,
                                        queue_url, _sns_records, stop))
    topics: dict[str, list[str]] = {}
    for resource in template_resources.values():
        if resource.get("Type") != "AWS::SES::ConfigurationSetEventDestination":
            continue
        props = resolve(resource.get("Properties") or {})
        destination = props.get("EventDestination") or {}
        topic = (destination.get("SnsDestination") or {}).get("TopicARN")
        if topic and str(destination.get("Enabled", True)).lower() != "false":
            topics.setdefault(str(props["ConfigurationSetName"]), []).append(str(topic))
    return SesFeedback(aws, topics, now), feeds
