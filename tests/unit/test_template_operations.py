"""template.yaml as operators need it: every dead-letter queue, stream consumer and function has
its alarms, every alarm reaches the alarm topic, the dashboard shows metrics the code emits, the
stage name keeps bucket names valid, reserved concurrency leaves Lambda's 100 unreserved at the
default quota, and no bucket takes plain HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.template_resources import resources_of_type, template

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ACCOUNT_CONCURRENCY, UNRESERVED_MINIMUM = 1000, 100


def _alarms() -> dict[str, dict]:
    return {name: r["Properties"] for name, r in resources_of_type("AWS::CloudWatch::Alarm").items()}


def _watched(metric: str) -> set[str]:
    """Logical ids of the resources alarms on `metric` watch (`!Ref X` or `!GetAtt X.Attr`)."""
    found = set()
    for alarm in _alarms().values():
        if alarm.get("MetricName") == metric:
            for dimension in alarm.get("Dimensions", []):
                value = dimension["Value"]
                if isinstance(value, dict) and "Ref" in value:
                    found.add(value["Ref"])
                elif isinstance(value, dict) and "Fn::GetAtt" in value:
                    found.add(value["Fn::GetAtt"][0])
    return found


def test_every_alarm_notifies_the_alarm_topic() -> None:
    for name, alarm in _alarms().items():
        assert alarm.get("AlarmActions") == [{"Ref": "AlarmTopic"}], name
    assert "AlarmEmail" in template()["Parameters"]


def test_every_queue_every_function_and_both_stream_consumers_are_watched() -> None:
    queues = set(resources_of_type("AWS::SQS::Queue"))
    assert queues and queues <= _watched("ApproximateNumberOfMessagesVisible")
    functions = set(resources_of_type("AWS::Serverless::Function"))
    assert functions <= _watched("Errors")
    assert functions <= _watched("Throttles")
    stream_consumers = {name for name, r in resources_of_type("AWS::Serverless::Function").items()
                        if any(e["Type"] == "DynamoDB" for e in r["Properties"].get("Events", {}).values())}
    assert stream_consumers and stream_consumers <= _watched("IteratorAge")
    metrics = {alarm.get("MetricName") for alarm in _alarms().values()}
    assert {"5XXError", "Reputation.BounceRate", "Reputation.ComplaintRate"} <= metrics


def test_the_dashboard_shows_metrics_the_functions_emit() -> None:
    body = template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    shown = {m[1] for w in json.loads(body)["widgets"] for m in w["properties"]["metrics"]}
    code = "\n".join(p.read_text() for folder in ("functions", "shared") for p in (ROOT / folder).rglob("*.py"))
    emitted = set(re.findall(r'count\("(\w+)"', code))
    emitted |= set(re.findall(r"count\((\w+)\.name\b", code))  # an event's count, named by its catalogue class
    emitted |= {f"Notification_{value}" for value in re.findall(r'^\s+\w+ = "(\w+)"', _outcomes(code), re.M)}
    assert shown - emitted == set(), "dashboard metrics no code emits"
    for needed in ("TrackingUpdateApplied", "Notification_sent", "RefundIssued", "ExportReady", "ShipmentsRedacted"):
        assert needed in shown


def _outcomes(code: str) -> str:
    found = re.search(r"class Outcome\(StrEnum\):\n((?:    .*\n)+)", code)
    assert found, "functions/notify: Outcome enum not found"
    return found.group(1)


def test_stage_names_keep_bucket_names_valid() -> None:
    stage = template()["Parameters"]["Stage"]
    pattern, longest = re.compile(stage["AllowedPattern"]), stage["MaxLength"]
    for good in ("prod", "eu-staging", "a1"):
        assert pattern.fullmatch(good)
    for bad in ("Prod", "-prod", "prod-", "pr--od", "pr.od", "pr_od", ""):
        assert not pattern.fullmatch(bad), bad
    bucket = template()["Resources"]["ImportBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    longest_name = bucket.replace("${Stage}", "x" * longest).replace("${AWS::AccountId}", "1" * 12) \
        .replace("${AWS::Region}", "ap-southeast-5")
    assert len(longest_name) <= 63 and not longest_name.endswith("-")


def test_reserved_concurrency_leaves_the_unreserved_minimum_at_the_default_quota() -> None:
    reserved = sum(int(r["Properties"].get("ReservedConcurrentExecutions", 0))
                   for r in resources_of_type("AWS::Serverless::Function").values())
    assert DEFAULT_ACCOUNT_CONCURRENCY - reserved >= UNRESERVED_MINIMUM
    assert f"reserved concurrency adds up to {reserved}" in (ROOT / "README.md").read_text()


def test_buckets_refuse_plain_http_and_the_api_has_one_stage() -> None:
    policies = resources_of_type("AWS::S3::BucketPolicy").values()
    protected = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                protected.add(policy["Properties"]["Bucket"]["Ref"])
    assert protected == set(resources_of_type("AWS::S3::Bucket"))
    api = template()["Resources"]["Api"]["Properties"]
    assert api.get("OpenApiVersion"), "without OpenApiVersion SAM adds a stage named Stage"
    env = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert "CURSOR_SECRET" not in env and env["CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}
