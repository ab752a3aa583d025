"""Reading template.yaml: CloudFormation short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...) become
their long form, and SAM `Globals` are folded into each function."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FUNCTION_TYPE = "AWS::Serverless::Function"
# Keys of Globals.Function that a function's own value replaces; Environment is merged instead.
_MERGED_GLOBAL_KEYS = ("Environment",)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Tag value` into `{"Fn::Tag": value}` (and `!Ref x` into `{"Ref": x}`)."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class Template:
    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> Template:
        path = Path(path).resolve()
        return cls(path=path, body=load_yaml(path.read_text(encoding="utf-8")))

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Parameters") or {}

    @property
    def conditions(self) -> dict[str, Any]:
        return self.body.get("Conditions") or {}

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources") or {}

    def globals_of(self, section: str) -> dict[str, Any]:
        return (self.body.get("Globals") or {}).get(section) or {}

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") in types}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with `Globals.Function` applied, as SAM does."""
        own = self.resources[logical_id].get("Properties") or {}
        merged = copy.deepcopy(self.globals_of("Function"))
        for key, value in own.items():
            if key in _MERGED_GLOBAL_KEYS and isinstance(value, dict):
                merged[key] = _merge_environment(merged.get(key) or {}, value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged

    def api_properties(self, logical_id: str) -> dict[str, Any]:
        own = (self.resources.get(logical_id) or {}).get("Properties") or {}
        merged = copy.deepcopy(self.globals_of("Api"))
        merged.update(copy.deepcopy(own))
        return merged


def _merge_environment(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    variables = dict(base.get("Variables") or {})
    variables.update(own.get("Variables") or {})
    return {**base, **own, "Variables": variables}
