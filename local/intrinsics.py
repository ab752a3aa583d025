"""CloudFormation intrinsic functions and conditions, resolved against local names."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class Unresolvable(Exception):
    """A reference the local stack cannot give a value to (e.g. Fn::ImportValue)."""


class Resolver:
    def __init__(self, template_body: dict[str, Any], parameters: dict[str, Any], pseudo: dict[str, Any]) -> None:
        self._body = template_body
        self._parameters = parameters
        self._pseudo = pseudo
        self._refs: dict[str, Any] = {}
        self._attributes: dict[str, dict[str, Any]] = {}
        self._condition_cache: dict[str, bool] = {}

    def register(self, logical_id: str, ref: Any, attributes: dict[str, Any] | None = None) -> None:
        self._refs[logical_id] = ref
        self._attributes.setdefault(logical_id, {}).update(attributes or {})

    def ref(self, name: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._parameters:
            return self._parameters[name]
        if name in self._refs:
            return self._refs[name]
        base, _, member = name.partition(".")
        if member == "Stage" and base in self._refs:
            # SAM's `!Ref MyApi.Stage`: the stage the Serverless::Api creates
            props = ((self._body.get("Resources") or {}).get(base) or {}).get("Properties") or {}
            return self.resolve(props.get("StageName", "Prod"))
        raise Unresolvable(f"Ref {name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        try:
            return self._attributes[logical_id][attribute]
        except KeyError:
            raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute}") from None

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            expression = (self._body.get("Conditions") or {}).get(name)
            if expression is None:
                raise Unresolvable(f"Condition {name}")
            self._condition_cache[name] = bool(self.resolve(expression))
        return self._condition_cache[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] not in self._pseudo:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def _get_att(resolver: Resolver, argument: Any) -> Any:
    logical_id, attribute = resolver.resolve(argument)
    return resolver.get_att(logical_id, attribute)


def _join(resolver: Resolver, argument: Any) -> str:
    separator, items = argument
    return str(separator).join(str(item) for item in resolver.resolve(items))


def _select(resolver: Resolver, argument: Any) -> Any:
    index, items = resolver.resolve(argument)
    return items[int(index)]


def _split(resolver: Resolver, argument: Any) -> list[str]:
    separator, text = resolver.resolve(argument)
    return str(text).split(separator)


def _if(resolver: Resolver, argument: Any) -> Any:
    name, when_true, when_false = argument
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _equals(resolver: Resolver, argument: Any) -> bool:
    left, right = resolver.resolve(argument)
    return str(left) == str(right)


def _find_in_map(resolver: Resolver, argument: Any) -> Any:
    map_name, top, second = resolver.resolve(argument)
    return resolver._body["Mappings"][map_name][top][second]


def _import_value(resolver: Resolver, argument: Any) -> Any:
    raise Unresolvable(f"Fn::ImportValue {argument}")


_FUNCTIONS: dict[str, Any] = {
    "Ref": lambda r, a: r.ref(r.resolve(a)),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda r, a: not r.resolve(a)[0],
    "Fn::And": lambda r, a: all(r.resolve(a)),
    "Fn::Or": lambda r, a: any(r.resolve(a)),
    "Condition": lambda r, a: r.condition(a),
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": lambda r, a: base64.b64encode(str(r.resolve(a)).encode()).decode(),
    "Fn::GetAZs": lambda r, a: [f"{r.ref('AWS::Region')}{zone}" for zone in "abc"],
    "Fn::ToJsonString": lambda r, a: json.dumps(r.resolve(a), separators=(",", ":")),
    "Fn::Length": lambda r, a: len(r.resolve(a)),
    "Fn::ImportValue": _import_value,
}


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, Sub variables), to order resource creation."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif key == "Fn::GetAtt":
                target = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
                if isinstance(target, str):
                    found.add(target)
            elif key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) else argument
                if isinstance(text, str):
                    found |= {m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(text) if not m.startswith("!")}
            found |= references(argument)
    return found
