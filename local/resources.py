"""Creating the template's resources in moto, and registering their local names with the resolver."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.intrinsics import Resolver, references
from local.moto_server import Aws
from local.template import FUNCTION_TYPE, Template

log = logging.getLogger("local.resources")

STACK_NAME = "colis-local"
Attributes = dict[str, Any]


def physical_name(logical_id: str, *, lowercase: bool = False) -> str:
    name = f"{STACK_NAME}-{logical_id}"
    return name.lower() if lowercase else name


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _table_name(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name = props.get("TableName") or physical_name(logical_id)
    return name, {"Arn": f"arn:aws:dynamodb:{aws.region}:{aws.account_id}:table/{name}"}


def _create_table(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name, attributes = _table_name(aws, logical_id, props)
    billing = props.get("BillingMode", "PAY_PER_REQUEST")
    args: dict[str, Any] = {
        "TableName": name, "BillingMode": billing,
        "AttributeDefinitions": props["AttributeDefinitions"], "KeySchema": props["KeySchema"],
    }
    throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = throughput
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            args[key] = [_index(index, billing, throughput, key) for index in props[key]]
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    described = aws.client("dynamodb").create_table(**args)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification") or {}
    if truthy(ttl.get("Enabled")):
        aws.client("dynamodb").update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True})
    if described.get("LatestStreamArn"):
        attributes["StreamArn"] = described["LatestStreamArn"]
    return name, attributes


def _index(index: dict[str, Any], billing: str, throughput: dict[str, Any], kind: str) -> dict[str, Any]:
    out = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
    if billing == "PROVISIONED" and kind == "GlobalSecondaryIndexes":
        out["ProvisionedThroughput"] = index.get("ProvisionedThroughput") or throughput
    return out


def _create_simple_table(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    return _create_table(aws, logical_id, {
        "TableName": props.get("TableName"),
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
    })


_QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                     "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication")


def _create_queue(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name = props.get("QueueName") or physical_name(logical_id) + (".fifo" if truthy(props.get("FifoQueue")) else "")
    attributes = {key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
                  for key in _QUEUE_ATTRIBUTES if key in props}
    if props.get("RedrivePolicy"):
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = aws.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{aws.region}:{aws.account_id}:{name}"
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _create_bucket(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name = props.get("BucketName") or physical_name(logical_id, lowercase=True)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": aws.region})
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules") or []
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in rules]})
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                  "RegionalDomainName": f"{name}.s3.{aws.region}.amazonaws.com"}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape differs from the S3 API's; translate what we use."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled"),
                           "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _create_event_bus(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name = props.get("Name") or physical_name(logical_id)
    arn = aws.client("events").create_event_bus(Name=name)["EventBusArn"]
    return name, {"Arn": arn, "Name": name}


def _create_topic(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name = props.get("TopicName") or physical_name(logical_id)
    arn = aws.client("sns").create_topic(Name=name)["TopicArn"]
    return arn, {"TopicArn": arn, "TopicName": name}


def _create_secret(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    client = aws.client("secretsmanager")
    name = props.get("Name") or physical_name(logical_id)
    value = props.get("SecretString")
    generate = props.get("GenerateSecretString")
    if value is None:
        generate = generate or {}
        password = client.get_random_password(
            PasswordLength=int(generate.get("PasswordLength", 32)),
            ExcludeCharacters=generate.get("ExcludeCharacters", ""),
            ExcludePunctuation=truthy(generate.get("ExcludePunctuation", False)))["RandomPassword"]
        value = password
        if generate.get("SecretStringTemplate"):
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = password
            value = json.dumps(document)
    arn = client.create_secret(Name=name, SecretString=value)["ARN"]
    return arn, {"Id": arn}


def _create_parameter(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    name = props.get("Name") or f"/{STACK_NAME}/{logical_id}"
    aws.client("ssm").put_parameter(Name=name, Type=props.get("Type", "String"), Value=str(props["Value"]))
    return name, {"Type": props.get("Type", "String"), "Value": props["Value"]}


Creator = Callable[[Aws, str, dict[str, Any]], tuple[str, Attributes]]


def _create_rule(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    """A rule's targets that are SQS queues are put in moto as they are: moto then puts each
    matching event on the queue, and the queue's consumer (local/queues.py) takes it from there.
    Function targets are fed by local/events.py; schedules by local/schedules.py."""
    name = str(props.get("Name") or physical_name(logical_id))[:64]
    bus = str(props.get("EventBusName") or "default").split("event-bus/", 1)[-1]
    arn = f"arn:aws:events:{aws.region}:{aws.account_id}:rule/{bus}/{name}"
    queues = [t for t in props.get("Targets") or [] if str(t.get("Arn", "")).startswith("arn:aws:sqs:")]
    pattern = props.get("EventPattern")
    if pattern and queues:
        events = aws.client("events")
        events.put_rule(Name=name, EventBusName=bus, State=str(props.get("State", "ENABLED")),
                        EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=bus,
                           Targets=[{"Id": str(t.get("Id", "queue")), "Arn": str(t["Arn"])} for t in queues])
    return name, {"Arn": arn}
def _create_usage_plan(aws: Aws, logical_id: str, props: dict[str, Any]) -> tuple[str, Attributes]:
    """In moto, so that merchant enrolment (`create_usage_plan_key`) runs against it as in AWS."""
    throttle = props.get("Throttle") or {}
    quota = props.get("Quota") or {}
    args: dict[str, Any] = {
        "name": props.get("UsagePlanName") or physical_name(logical_id),
        "apiStages": [{"apiId": str(stage["ApiId"]), "stage": str(stage["Stage"])}
                      for stage in props.get("ApiStages") or []],
    }
    if throttle:
        args["throttle"] = {"rateLimit": float(throttle.get("RateLimit", 10000)),
                            "burstLimit": int(throttle.get("BurstLimit", 5000))}
    if quota:
        args["quota"] = {"limit": int(quota["Limit"]), "period": quota.get("Period", "DAY"),
                         "offset": int(quota.get("Offset", 0))}
    plan = aws.client("apigateway").create_usage_plan(**args)
    return plan["id"], {}


CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::Serverless::SimpleTable": _create_simple_table,
    "AWS::SQS::Queue": _create_queue,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::SSM::Parameter": _create_parameter,
    "AWS::ApiGateway::UsagePlan": _create_usage_plan,
    "AWS::Events::Rule": _create_rule,
}


def _placeholder(aws: Aws, logical_id: str, resource: dict[str, Any]) -> tuple[str, Attributes]:
    """Names for what is not created in moto (functions, APIs, roles, log groups, ...)."""
    props = resource.get("Properties") or {}
    kind = resource.get("Type", "")
    if kind == FUNCTION_TYPE:
        name = props.get("FunctionName") if isinstance(props.get("FunctionName"), str) else physical_name(logical_id)
        return name, {"Arn": f"arn:aws:lambda:{aws.region}:{aws.account_id}:function:{name}"}
    if kind in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
        api_id = logical_id.lower()[:10]
        return api_id, {"RootResourceId": "root"}
    service = kind.split("::")[1].lower() if kind.count("::") == 2 else "local"
    name = physical_name(logical_id)
    return name, {"Arn": f"arn:aws:{service}:{aws.region}:{aws.account_id}:{name}", "Name": name}


def creation_order(template: Template) -> list[str]:
    """Resources ordered so that each comes after those its properties refer to."""
    resources = template.resources
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered or logical_id in visiting:
            return
        visiting.add(logical_id)
        resource = resources[logical_id]
        depends = resource.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else depends
        for dependency in sorted((references(resource.get("Properties") or {}) | set(depends)) & resources.keys()):
            visit(dependency)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


@dataclass(frozen=True)
class LocalResource:
    logical_id: str
    kind: str
    ref: Any
    properties: dict[str, Any]


def create_resources(template: Template, resolver: Resolver, aws: Aws) -> dict[str, LocalResource]:
    """Creates what moto can hold; returns every resource whose condition holds, properties resolved."""
    created: dict[str, LocalResource] = {}
    for logical_id, resource in template.resources.items():
        ref, attributes = _placeholder(aws, logical_id, resource)
        resolver.register(logical_id, ref, attributes)
    for logical_id in creation_order(template):
        resource = template.resources[logical_id]
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        kind = resource.get("Type", "")
        creator = CREATORS.get(kind)
        if creator is None:
            created[logical_id] = LocalResource(logical_id, kind, resolver.ref(logical_id), {})
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        ref, attributes = creator(aws, logical_id, properties)
        resolver.register(logical_id, ref, attributes)
        created[logical_id] = LocalResource(logical_id, kind, ref, properties)
        log.debug("created %s %s", kind, ref)
    return created
