"""template.yaml is read with its short-form tags, globals and intrinsic functions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.functions import handler_module
from local.intrinsics import NO_VALUE, Resolver, Unresolvable, references
from local.routes import compile_path
from local.template import Template, load_yaml

BODY = """
Parameters:
  Stage: {Type: String, Default: prod}
  Url: {Type: String, Default: ""}
Conditions:
  HasUrl: !Not [!Equals [!Ref Url, ""]]
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables: {A: global, B: global}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 3
      Environment:
        Variables:
          B: !Ref Table
          C: !GetAtt Table.StreamArn
          D: !Sub "colis-${Stage}-${Table.Arn}-${!Literal}"
          E: !If [HasUrl, !Ref Url, !Ref AWS::NoValue]
          F: !Join ["-", [!Ref Stage, !Select [1, !Split [",", "a,b,c"]]]]
"""


@pytest.fixture
def template(tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(BODY)
    return Template.load(path)


@pytest.fixture
def resolver(template: Template) -> Resolver:
    resolver = Resolver(template.body, {"Stage": "prod", "Url": ""}, {"AWS::Region": "eu-west-1"})
    resolver.register("Table", "colis-local-Table", {"Arn": "arn:table", "StreamArn": "arn:stream"})
    return resolver


def test_short_tags_become_long_form() -> None:
    assert load_yaml("a: !GetAtt T.StreamArn\nb: !Ref X\nc: !Sub x\n") == {
        "a": {"Fn::GetAtt": ["T", "StreamArn"]}, "b": {"Ref": "X"}, "c": {"Fn::Sub": "x"}}


def test_function_properties_merge_globals_and_environment(template: Template) -> None:
    props = template.function_properties("Fn")
    assert props["Timeout"] == 3
    variables = props["Environment"]["Variables"]
    assert variables["A"] == "global"
    assert variables["B"] == {"Ref": "Table"}


def test_intrinsics_resolve_to_local_names(template: Template, resolver: Resolver) -> None:
    variables = resolver.resolve(template.function_properties("Fn")["Environment"]["Variables"])
    assert variables == {"A": "global", "B": "colis-local-Table", "C": "arn:stream",
                         "D": "colis-prod-arn:table-${Literal}", "F": "prod-b"}


def test_unknown_references_are_reported(resolver: Resolver) -> None:
    with pytest.raises(Unresolvable):
        resolver.resolve({"Fn::GetAtt": ["Nope", "Arn"]})
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_references_order_resource_creation() -> None:
    assert references({"a": {"Fn::Sub": "${Queue.Arn}/${AWS::Region}"}, "b": [{"Ref": "Bus"}]}) >= {"Queue", "Bus"}


def test_handler_module_is_relative_to_code_uri(tmp_path: Path) -> None:
    assert handler_module("functions/webhook/handler.lambda_handler", ".", tmp_path, tmp_path) == (
        "functions.webhook.handler", "lambda_handler")
    (tmp_path / "functions").mkdir()
    assert handler_module("handler.run", "functions", tmp_path, tmp_path) == ("functions.handler", "run")


def test_path_templates_compile_like_api_gateway_resources() -> None:
    pattern, names, _ = compile_path("/v1/shipments/{id}/{proxy+}")
    found = pattern.match("/v1/shipments/shp_1/events/all")
    assert found and dict(zip(names, found.groups(), strict=True)) == {"id": "shp_1", "proxy": "events/all"}
    assert compile_path("/v1/things/export")[2] < compile_path("/v1/things/{id}")[2]
    assert re.match(compile_path("/")[0], "/")
