"""Expands the SAM transform of a template offline, as CloudFormation would, and prints the result
as JSON: every function's role with its policies, SAM policy templates and the statements SAM adds
for event sources and destinations expanded. Run with the SAM CLI venv's Python (it carries
aws-sam-translator): `.venv-sam/bin/python local/sam_translate.py template.yaml`. Standard library
samtranslator and boto3 (no call is made: the session only names the region)."""

from __future__ import annotations

import json
import sys

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    """Managed policies named without their ARN would need IAM to resolve; the template names
    none (SAM's own are added by ARN)."""

    def load(self) -> dict[str, str]:
        return {}


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # Local code paths become the S3 locations `sam package` would upload them to.
    for logical_id, resource in template.get("Resources", {}).items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(resource.get("Type"))
        if key:
            resource.setdefault("Properties", {})[key] = f"s3://colis-artifacts/{logical_id}.zip"
    parameters = {"AWS::Region": "eu-west-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    session = boto3.session.Session(region_name=parameters["AWS::Region"])
    translated = Translator(_NoManagedPolicies(), Parser(), boto_session=session).translate(template, parameters)
    json.dump(translated, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
