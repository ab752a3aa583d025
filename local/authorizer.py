"""Lambda authorizers as API Gateway runs them (no caching): identity sources, the authorizer's
IAM policy, and the context handed to the route's function."""

from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass
from typing import Any

from local.invoker import Invoker
from local.proxy_event import IncomingRequest, authorizer_event, method_arn
from local.routes import Route

log = logging.getLogger("local.authorizer")


@dataclass(frozen=True)
class Decision:
    refusal: str | None  # a gateway response type when refused
    context: dict[str, Any] | None = None
    usage_identifier: str | None = None  # the authorizer's usageIdentifierKey


def authorize(invoker: Invoker, route: Route, request: IncomingRequest, path_parameters: dict[str, str]) -> Decision:
    spec = route.authorizer
    assert spec is not None
    if not _identity_present(route, request):
        return Decision("UNAUTHORIZED")  # API Gateway refuses before calling the authorizer
    started = time.monotonic()
    try:
        result = invoker.invoke(spec.function, authorizer_event(request, route, path_parameters))
    except Exception as error:
        if str(error) == "Unauthorized":
            return Decision("UNAUTHORIZED")
        log.exception("authorizer %s failed", spec.name)
        return Decision("AUTHORIZER_FAILURE")
    latency = int((time.monotonic() - started) * 1000)
    return _decide(result, method_arn(request, route), latency)


def _identity_present(route: Route, request: IncomingRequest) -> bool:
    spec = route.authorizer
    assert spec is not None
    query = {key for key, value in request.query if value}
    return (all(request.header(name) for name in spec.identity_headers)
            and all(name in query for name in spec.identity_query_strings))


def _decide(result: Any, arn: str, latency: int) -> Decision:
    if not isinstance(result, dict) or "principalId" not in result or "policyDocument" not in result:
        return Decision("AUTHORIZER_CONFIGURATION_ERROR")
    statements = result["policyDocument"].get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    effects = {statement.get("Effect") for statement in statements if _applies(statement, arn)}
    if "Deny" in effects or "Allow" not in effects:
        return Decision("ACCESS_DENIED")
    context: dict[str, Any] = {}
    for key, value in (result.get("context") or {}).items():
        if isinstance(value, dict | list):
            return Decision("AUTHORIZER_CONFIGURATION_ERROR")  # only primitives are allowed
        context[key] = str(value).lower() if isinstance(value, bool) else str(value)
    usage = result.get("usageIdentifierKey")
    return Decision(None, {**context, "principalId": str(result["principalId"]), "integrationLatency": latency},
                    str(usage) if usage is not None else None)


def _applies(statement: dict[str, Any], arn: str) -> bool:
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    return (any(fnmatch.fnmatchcase("execute-api:Invoke", action) for action in actions)
            and any(fnmatch.fnmatchcase(arn, resource) for resource in resources))
