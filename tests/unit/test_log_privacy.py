"""What logs and traces may keep (issue 15, item 6): the local gateway's access log carries no query
string (Shippo's `?token=` secret, emails searched for), and X-Ray traces never record a response or
an error body."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from local.gateway import _RequestHandler, without_query_strings
from tests.template_resources import template

SECRET = "shippo-s3cret-token"


def _access_log_line(request_line: str, caplog: pytest.LogCaptureFixture) -> str:
    handler = _RequestHandler.__new__(_RequestHandler)  # no socket: only the logging part is used
    handler.client_address = ("127.0.0.1", 54321)
    handler.requestline = request_line
    with caplog.at_level(logging.INFO, logger="local.gateway"):
        handler.log_request(200)
    [record] = [r for r in caplog.records if r.name == "local.gateway"]
    return record.getMessage()


@pytest.mark.parametrize("request_line", [
    f"POST /webhooks/shippo/con_1?token={SECRET} HTTP/1.1",
    "GET /v1/customers?email=jane.doe%40example.org&limit=5 HTTP/1.1",
    "GET /v1/shipments?q=Jane+Doe HTTP/1.1",
])
def test_the_access_log_keeps_method_path_and_status_only(request_line: str, caplog: pytest.LogCaptureFixture) -> None:
    line = _access_log_line(request_line, caplog)
    method, path = request_line.split(" ")[0], request_line.split(" ")[1].split("?")[0]
    assert f"{method} {path} HTTP/1.1" in line and "200" in line
    assert "?" not in line and SECRET not in line and "example.org" not in line and "Jane" not in line


def test_a_malformed_request_line_logged_as_an_error_loses_its_query_too() -> None:
    assert without_query_strings("code 400, message Bad request version ('HTTP/9?token=x y')") == (
        "code 400, message Bad request version ('HTTP/9 y')")


def test_traces_record_no_response_and_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import aws_lambda_powertools

    from shared.platform.observability import entrypoint

    seen: dict[str, Any] = {}

    class RecordingTracer:
        def capture_lambda_handler(self, handler: Any, **options: Any) -> Any:
            seen.update(options)
            return handler

    monkeypatch.setattr(aws_lambda_powertools, "Tracer", RecordingTracer)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")

    @entrypoint()
    def handler(event: Any, context: Any) -> str:
        return "done"

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "f", 128, "r"
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"

    assert handler({}, Context()) == "done"
    assert seen == {"capture_response": False, "capture_error": False}


def test_the_template_turns_response_and_error_capture_off_for_every_function() -> None:
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    overridden = [name for name, resource in template()["Resources"].items()
                  if resource["Type"] == "AWS::Serverless::Function"
                  and {"POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR"}
                  & set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))]
    assert overridden == []
