"""The REST API as the template declares it: routes (`Type: Api` events), their APIs, authorizers."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from local.functions import FunctionSpec, function_by_arn
from local.intrinsics import Resolver, Unresolvable
from local.template import Template

log = logging.getLogger("local.routes")

IMPLICIT_API = "ServerlessRestApi"


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: FunctionSpec
    payload_type: str  # REQUEST or TOKEN
    identity_headers: tuple[str, ...]
    identity_query_strings: tuple[str, ...]


@dataclass
class ApiSpec:
    logical_id: str
    api_id: str
    stage: str
    default_authorizer: str | None = None
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    gateway_responses: dict[str, Any] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()
    api_key_source: str = "HEADER"  # or AUTHORIZER: the authorizer's usageIdentifierKey
    api_key_required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: FunctionSpec
    api: ApiSpec
    authorizer: AuthorizerSpec | None
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]
    specificity: tuple[int, ...]
    api_key_required: bool = False


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class MethodNotAllowed:
    allowed: tuple[str, ...]


def compile_path(path: str) -> tuple[re.Pattern[str], tuple[str, ...], tuple[int, ...]]:
    """`/a/{id}/{proxy+}` -> regex, parameter names, and a sort key (literal < {param} < {greedy+})."""
    expression, names, specificity = "", [], []
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        greedy = re.fullmatch(r"\{(.+)\+\}", segment)
        single = re.fullmatch(r"\{(.+)\}", segment)
        if greedy:
            expression, kind = expression + "/(.+)", 2
            names.append(greedy.group(1))
        elif single:
            expression, kind = expression + "/([^/]+)", 1
            names.append(single.group(1))
        else:
            expression, kind = expression + "/" + re.escape(segment), 0
        specificity.append(kind)
    return re.compile((expression or "/") + "$"), tuple(names), tuple(specificity)


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda route: route.specificity)

    def match(self, method: str, path: str) -> RouteMatch | MethodNotAllowed | None:
        path = path.rstrip("/") or "/"
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            same_resource = [r for r in self.routes if r.path == route.path]
            chosen = next((r for r in same_resource if r.method == method), None) or next(
                (r for r in same_resource if r.method == "ANY"), None)
            if chosen is None:
                return MethodNotAllowed(tuple(sorted({r.method for r in same_resource})))
            return RouteMatch(chosen, dict(zip(chosen.parameters, found.groups(), strict=True)))
        return None


def _authorizers(props: dict[str, Any], functions: dict[str, FunctionSpec]) -> dict[str, AuthorizerSpec]:
    found = {}
    for name, config in ((props.get("Auth") or {}).get("Authorizers") or {}).items():
        function = function_by_arn(functions, config.get("FunctionArn"))
        if function is None:
            log.warning("authorizer %s: no local function (only Lambda authorizers are emulated)", name)
            continue
        identity = config.get("Identity") or {}
        payload_type = config.get("FunctionPayloadType", "TOKEN")
        headers = identity.get("Headers") or ([identity.get("Header", "Authorization")] if payload_type == "TOKEN" else [])
        found[name] = AuthorizerSpec(name, function, payload_type, tuple(headers),
                                     tuple(identity.get("QueryStrings") or []))
    return found


def _api_spec(template: Template, resolver: Resolver, logical_id: str, functions: dict[str, FunctionSpec]) -> ApiSpec:
    raw = template.api_properties(logical_id)
    try:
        props = resolver.resolve(raw)
    except Unresolvable as missing:
        log.warning("API %s: some properties unresolved (%s)", logical_id, missing)
        props = raw
    api_id = resolver.ref(logical_id) if logical_id in template.resources else "implicit"
    return ApiSpec(
        logical_id=logical_id, api_id=str(api_id), stage=str(props.get("StageName", "Prod")),
        default_authorizer=(props.get("Auth") or {}).get("DefaultAuthorizer"),
        authorizers=_authorizers(props, functions),
        gateway_responses=props.get("GatewayResponses") or {},
        binary_media_types=tuple(props.get("BinaryMediaTypes") or []),
        api_key_source=str(props.get("ApiKeySourceType", "HEADER")).upper(),
        api_key_required=bool((props.get("Auth") or {}).get("ApiKeyRequired", False)),
    )


def _api_logical_id(rest_api_id: Any, template: Template, resolver: Resolver) -> str:
    if rest_api_id is None:
        return IMPLICIT_API
    for logical_id in template.of_type("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
        if resolver.ref(logical_id) == rest_api_id:
            return logical_id
    return IMPLICIT_API


def build_routes(template: Template, resolver: Resolver, functions: dict[str, FunctionSpec]) -> RouteTable:
    apis: dict[str, ApiSpec] = {}
    routes: list[Route] = []
    for function in functions.values():
        for source in function.events_of("Api"):
            props = source.properties
            api_logical_id = _api_logical_id(props.get("RestApiId"), template, resolver)
            if api_logical_id not in apis:
                apis[api_logical_id] = _api_spec(template, resolver, api_logical_id, functions)
            api = apis[api_logical_id]
            auth = props.get("Auth") or {}
            authorizer_name = auth.get("Authorizer", api.default_authorizer)
            authorizer = None if authorizer_name in (None, "NONE") else api.authorizers.get(authorizer_name)
            pattern, parameters, specificity = compile_path(props["Path"])
            method = str(props["Method"]).upper()
            routes.append(Route("ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                                props["Path"], function, api, authorizer, pattern, parameters, specificity,
                                bool(auth.get("ApiKeyRequired", api.api_key_required))))
    return RouteTable(routes)
