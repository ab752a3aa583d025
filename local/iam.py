"""Least privilege, checked as AWS would: every AWS call a handler makes is evaluated against the
policies of that function's own role in template.yaml (the SAM transform expanded offline by
local/sam_translate.py, intrinsics resolved to the names this environment uses). A call the role
would not allow fails as in AWS (AccessDenied) and is recorded, so the test suites fail on it.

Used by the test harness (tests/conftest.py) and the local stack. Never deployed."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from local.intrinsics import NO_VALUE, Resolver

ROOT = Path(__file__).resolve().parent.parent
# The function whose handler is running in this thread (or in the thread that handed it this
# work), with the enforcer that holds its policies.
_running: contextvars.ContextVar[tuple[Enforcer, str] | None] = contextvars.ContextVar("colis_function", default=None)

# AWS managed policies SAM attaches by ARN, as far as calls made with the SDK go.
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"}],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                       "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"],
         "Resource": "*"}],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole": [
        {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                       "dynamodb:ListStreams", "logs:CreateLogGroup", "logs:CreateLogStream",
                                       "logs:PutLogEvents"], "Resource": "*"}],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                       "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"}],
}


# ---------------------------------------------------------------- the expanded template

def translated_template(template: Path = ROOT / "template.yaml", sam_python: str | None = None) -> dict[str, Any]:
    """The template after the SAM transform, cached under .aws-sam/ by the template's hash."""
    text = template.read_bytes()
    cache = ROOT / ".aws-sam" / "translated" / f"{hashlib.sha256(text).hexdigest()[:16]}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    python = sam_python or _sam_python()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run([python, str(ROOT / "local" / "sam_translate.py"), str(template)], capture_output=True,
                         text=True, env=env, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"SAM transform failed:\n{out.stderr[-3000:]}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(out.stdout)
    partial.replace(cache)
    return json.loads(out.stdout)


def sam_venv_binary(name: str) -> str:
    """A program of the SAM CLI venv (`python` carries aws-sam-translator, `sam` is the CLI); a git
    worktree shares the main checkout's."""
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    for root in (ROOT, Path(common).parent if common else ROOT):
        binary = root / ".venv-sam" / "bin" / name
        if binary.exists():
            return str(binary)
    raise RuntimeError(f"{name} is missing from the SAM CLI venv (.venv-sam): make .venv-sam/.installed")


def _sam_python() -> str:
    return sam_venv_binary("python")


_NAME_PROPERTY = {"AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName",
                  "AWS::SNS::Topic": "TopicName", "AWS::Events::EventBus": "Name", "AWS::SSM::Parameter": "Name",
                  "AWS::SecretsManager::Secret": "Name", "AWS::SES::ConfigurationSet": "Name"}


def resolver_for(translated: dict[str, Any], parameters: dict[str, str], region: str, account: str,
                 names: dict[str, str]) -> Resolver:
    """Intrinsics resolved as CloudFormation would for a stack whose resources carry these physical
    names (`names` by logical id; a resource naming itself in the template keeps that name; any
    other gets `colis-<LogicalId>`)."""
    declared = {name: spec.get("Default", "") for name, spec in translated.get("Parameters", {}).items()}
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
              "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "colis", "AWS::NotificationARNs": []}
    resolver = Resolver(translated, {**{k: str(v) for k, v in declared.items()}, **parameters}, pseudo)
    for logical_id, resource in translated["Resources"].items():
        kind = resource["Type"]
        own = (resource.get("Properties") or {}).get(_NAME_PROPERTY.get(kind, ""))
        name = str(resolver.resolve(own)) if own is not None else names.get(logical_id, f"colis-{logical_id}")
        resolver.register(logical_id, *_physical(kind, name, region, account))
    return resolver


def _physical(kind: str, name: str, region: str, account: str) -> tuple[str, dict[str, str]]:
    """(Ref, attributes) of a resource of this type and name."""
    if kind == "AWS::DynamoDB::Table":
        arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        return name, {"Arn": arn, "StreamArn": f"{arn}/stream/local"}
    if kind == "AWS::S3::Bucket":
        return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
    if kind == "AWS::SQS::Queue":
        return (f"https://sqs.{region}.amazonaws.com/{account}/{name}",
                {"Arn": f"arn:aws:sqs:{region}:{account}:{name}", "QueueName": name})
    if kind == "AWS::SNS::Topic":
        arn = f"arn:aws:sns:{region}:{account}:{name}"
        return arn, {"TopicArn": arn, "TopicName": name}
    if kind == "AWS::Events::EventBus":
        return name, {"Arn": f"arn:aws:events:{region}:{account}:event-bus/{name}", "Name": name}
    if kind == "AWS::SSM::Parameter":
        return name, {"Type": "String"}
    if kind == "AWS::SecretsManager::Secret":
        # A secret's ARN ends with six random characters Secrets Manager picks at creation.
        arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-??????"
        return arn, {"Id": arn}
    if kind == "AWS::Lambda::Function":
        return name, {"Arn": f"arn:aws:lambda:{region}:{account}:function:{name}"}
    service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
    return name, {"Arn": f"arn:aws:{service}:{region}:{account}:{name}", "Name": name}


def function_policies(translated: dict[str, Any], resolver: Resolver) -> dict[str, list[dict[str, Any]]]:
    """Per function logical id, the statements of its role: inline policies (SAM's expansion of
    `Policies`, policy templates, event-source and destination grants) and managed policies."""
    resources = translated["Resources"]
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role_ref = resource["Properties"].get("Role")
        role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref else None
        role = resources.get(role_id, {}).get("Properties", {}) if role_id else {}
        statements: list[dict[str, Any]] = []
        for policy in role.get("Policies", []):
            document = resolver.resolve(policy["PolicyDocument"])
            listed = document["Statement"]
            statements.extend(listed if isinstance(listed, list) else [listed])
        for arn in role.get("ManagedPolicyArns", []):
            statements.extend(MANAGED.get(resolver.resolve(arn), []))
        found[logical_id] = [s for s in statements if s is not NO_VALUE]
    return found


def handler_paths(translated: dict[str, Any]) -> dict[str, str]:
    """`functions/x/handler.lambda_handler` → function logical id."""
    return {r["Properties"]["Handler"]: name for name, r in translated["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function"}


# ---------------------------------------------------------------- policy evaluation

def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    """IAM wildcards: `*` any run of characters (also `/` and `:`), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, have: want == have,
    "StringNotEquals": lambda want, have: want != have,
    "StringEqualsIgnoreCase": lambda want, have: want.lower() == have.lower(),
    "StringLike": lambda want, have: _matches(want, have, case=True),
    "StringNotLike": lambda want, have: not _matches(want, have, case=True),
    "ArnEquals": lambda want, have: want == have,
    "ArnLike": lambda want, have: _matches(want, have, case=True),
    "Bool": lambda want, have: str(want).lower() == str(have).lower(),
}


def _condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    for operator, tests in condition.items():
        qualifier, _, base = operator.rpartition(":")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if base == "Null":
            for key, want in tests.items():
                if (key not in context) != (str(want).lower() == "true"):
                    return False
            continue
        check = _OPERATORS.get(base)
        if check is None:
            raise ValueError(f"condition operator {operator} is not evaluated here: teach local/iam.py")
        negated = base.startswith("StringNot")
        for key, wanted in tests.items():
            have = context.get(key)
            if have is None:
                if if_exists or negated:
                    continue
                return False
            if not _values_hold(check, negated, qualifier, _listed(wanted), _listed(have)):
                return False
    return True


def _values_hold(check: Callable[[str, str], bool], negated: bool, qualifier: str, wants: list[Any],
                 values: list[Any]) -> bool:
    """Several wanted values: any may match (all must, for a negated operator); several context
    values need a ForAllValues/ForAnyValue qualifier."""
    def one(value: Any) -> bool:
        results = [check(str(w), str(value)) for w in wants]
        return all(results) if negated else any(results)

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    return len(values) == 1 and one(values[0])


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    if "Action" in statement:
        if not any(_matches(p, action, case=False) for p in _listed(statement["Action"])):
            return False
    elif any(_matches(p, action, case=False) for p in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_matches(str(p), resource, case=True) for p in _listed(statement["Resource"])):
            return False
    elif any(_matches(str(p), resource, case=True) for p in _listed(statement.get("NotResource", []))):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def allowed(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
    """An identity policy's answer: an explicit Deny wins, then any Allow, else the implicit deny."""
    applying = [s for s in statements if _applies(s, action, resource, context or {})]
    if any(s["Effect"] == "Deny" for s in applying):
        return False
    return any(s["Effect"] == "Allow" for s in applying)


# ---------------------------------------------------------------- SDK calls → IAM requests

@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "DeleteObject": "s3:DeleteObject",
    "ListParts": "s3:ListMultipartUploadParts", "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}
_DYNAMODB_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def requests_of(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> list[Request]:
    """The IAM (action, resource) pairs AWS authorises for one SDK operation."""
    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if service == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [Request(f"dynamodb:{operation}", table(name)) for name in params.get("RequestItems", {})]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            found = []
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    found.append(Request(f"dynamodb:{_DYNAMODB_TRANSACT[kind]}", table(body["TableName"])))
            return found
        if "TableName" in params:
            return [Request(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
        return [Request(f"dynamodb:{operation}", "*")]
    if service == "s3":
        bucket, key = params.get("Bucket", ""), params.get("Key")
        if operation in _S3_OBJECT_ACTIONS and key is not None:
            return [Request(_S3_OBJECT_ACTIONS[operation], f"arn:aws:s3:::{bucket}/{key}")]
        if operation == "DeleteObjects":
            return [Request("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{o['Key']}")
                    for o in params.get("Delete", {}).get("Objects", [])]
        if operation in ("CopyObject", "UploadPartCopy"):
            source = params["CopySource"]
            source = source if isinstance(source, str) else f"{source['Bucket']}/{source['Key']}"
            return [Request("s3:GetObject", f"arn:aws:s3:::{source.lstrip('/').split('?')[0]}"),
                    Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")]
        return [Request(_S3_BUCKET_ACTIONS.get(operation, f"s3:{operation}"), f"arn:aws:s3:::{bucket}")]
    if service == "sqs":
        url = params.get("QueueUrl", "")
        parts = urlparse(url).path.strip("/").split("/")
        queue = f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}" if len(parts) >= 2 else "*"
        return [Request(f"sqs:{operation}", queue)]
    if service == "events":
        if operation == "PutEvents":
            buses = {entry.get("EventBusName") or "default" for entry in params.get("Entries", [])}
            return [Request("events:PutEvents", bus if bus.startswith("arn:")
                            else f"arn:aws:events:{region}:{account}:event-bus/{bus}") for bus in sorted(buses)]
        return [Request(f"events:{operation}", "*")]
    if service in ("ses", "sesv2"):
        sender = params.get("FromEmailAddress") or params.get("Source") or ""
        address = re.search(r"<([^>]+)>", sender)
        address_text = address.group(1) if address else sender
        context = (("ses:FromAddress", address_text),)
        found = [Request(f"ses:{operation}", f"arn:aws:ses:{region}:{account}:identity/{address_text}", context)]
        if params.get("ConfigurationSetName"):
            found.append(Request(f"ses:{operation}", f"arn:aws:ses:{region}:{account}:configuration-set/"
                                 f"{params['ConfigurationSetName']}", context))
        return found
    if service == "ssm":
        names = _listed(params.get("Name", params.get("Names", [])))
        return [Request(f"ssm:{operation}", f"arn:aws:ssm:{region}:{account}:parameter/{n.lstrip('/')}")
                for n in names] or [Request(f"ssm:{operation}", "*")]
    if service == "secretsmanager":
        secret = params.get("SecretId", "")
        arn = secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-??????"
        return [Request(f"secretsmanager:{operation}", arn)]
    if service == "sns":
        return [Request(f"sns:{operation}", params.get("TopicArn") or params.get("TargetArn") or "*")]
    if service == "apigateway":
        return [Request(f"apigateway:{operation}", f"arn:aws:apigateway:{region}::/*")]
    return [Request(f"{service}:{operation}", "*")]


# ---------------------------------------------------------------- the enforcer

@dataclass(frozen=True)
class Call:
    function: str
    request: Request
    allowed: bool
    presigned: bool = False

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "DENIED"
        how = " (presigned URL)" if self.presigned else ""
        return f"{self.function}: {self.request.action} on {self.request.resource}{how} {verdict}"


@dataclass
class Enforcer:
    """Holds every function's statements; decides each SDK call made while a handler runs and keeps
    the answers. Calls made outside a handler (test set-up, the local stack's own plumbing) are
    not checked: they are nobody's role."""
    statements: dict[str, list[dict[str, Any]]]
    region: str
    account: str
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, function: str, service: str, operation: str, params: dict[str, Any], *,
               presigned: bool = False) -> list[Call]:
        statements = self.statements.get(function, [])
        decided = []
        for request in requests_of(service, operation, params, self.region, self.account):
            ok = allowed(statements, request.action, request.resource, dict(request.context))
            decided.append(Call(function, request, ok, presigned))
        with self._lock:
            self.calls.extend(decided)
        return decided

    def denied(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if not c.allowed]

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return list(self.calls[mark:])

    # botocore events -------------------------------------------------------
    def before_parameter_build(self, function: str, params: dict[str, Any], model: Any,
                               context: dict[str, Any]) -> None:
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        # A presigned URL is built through the same events but never sent: its use is what AWS
        # authorises, with this role's credentials, so it is decided here too.
        presigned = bool(context.get("is_presign_request"))
        calls = self.decide(function, service, model.name, params, presigned=presigned)
        refused = [c for c in calls if not c.allowed]
        if refused:
            context["colis_access_denied"] = refused[0]



class _DeniedResponse:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = None
        self.url = ""


def _access_denied(endpoint_prefix: str, call: Call) -> tuple[_DeniedResponse, dict[str, Any]]:
    s3 = endpoint_prefix == "s3"
    status = 403 if s3 else 400
    code = "AccessDenied" if s3 or endpoint_prefix in ("sqs", "sns", "ses", "email") else "AccessDeniedException"
    message = (f"User: arn:aws:sts::000000000000:assumed-role/{call.function}Role/{call.function} is not authorized "
               f"to perform: {call.request.action} on resource: {call.request.resource} because no "
               f"identity-based policy allows the {call.request.action} action")
    return _DeniedResponse(status), {"Error": {"Code": code, "Message": message},
                                     "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}


_hooked: list[bool] = []


def _before_parameter_build(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    running = _running.get()
    if running is not None:
        enforcer, function = running
        enforcer.before_parameter_build(function, params, model, context)


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> Any:
    refused = context.get("colis_access_denied")
    return None if refused is None else _access_denied(model.service_model.endpoint_prefix, refused)


def install() -> None:
    """Every botocore session created from now on reports its calls to the enforcer of the function
    running (botocore's built-in handlers are copied into each new session, as moto's own hook is).
    Sessions created earlier are not watched: create clients after this."""
    import botocore.handlers

    if _hooked:
        return
    _hooked.append(True)
    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _before_parameter_build))
    botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _before_call))
    _propagate_context_to_worker_threads()


def _propagate_context_to_worker_threads() -> None:
    """Work a handler hands to a thread pool still runs as that function (Lambda has one role per
    process; contextvars are not copied into pool threads by themselves)."""
    from concurrent.futures import ThreadPoolExecutor

    if getattr(ThreadPoolExecutor.submit, "_colis_context", False):
        return
    original = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return original(self, contextvars.copy_context().run, fn, *args, **kwargs)

    submit._colis_context = True  # type: ignore[attr-defined]
    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]


@contextmanager
def running(enforcer: Enforcer, function: str) -> Iterator[None]:
    """Calls made inside are `function`'s. An outer `running` wins: the local stack knows which of
    its functions runs even when the handler module was wrapped by a test harness as well."""
    if _running.get() is not None:
        yield
        return
    token = _running.set((enforcer, function))
    try:
        yield
    finally:
        _running.reset(token)


def as_function(enforcer: Enforcer, function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, running as `function` under `enforcer`."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        with running(enforcer, function):
            return handler(event, context)

    return run
