"""The `colis` CLI's edge: `--local` takes everything from the local stack's state file, and every
failure is one line on stderr with exit status 1, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main as cli

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATE = {"api_url": "http://127.0.0.1:3999", "aws_endpoint_url": "http://127.0.0.1:5999", "table_name": "colis-local",
         "connection_secret_prefix": "/colis/local/connections/", "usage_plan_id": "plan123"}


def _run(*arguments: str, env: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    base = {name: value for name, value in os.environ.items()
            if not name.startswith("AWS_") and name not in ("TABLE_NAME", "CONNECTION_SECRET_PREFIX", "USAGE_PLAN_ID")}
    return subprocess.run([sys.executable, "-m", "cli.main", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env={**base, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})})


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_without_credentials_the_cli_says_so_in_one_line(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "none")
    done = _run("--table", "colis-prod", "list-merchants",
                env={"AWS_CONFIG_FILE": nowhere, "AWS_SHARED_CREDENTIALS_FILE": nowhere,
                     "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert _one_line(done) == "colis: no AWS credentials found; use --local or configure credentials"


def test_a_usage_mistake_is_one_line_naming_the_help() -> None:
    for arguments, says in ((("create-connection", "mer_1", "nosuch", "--api-url", "https://x"),
                             "colis create-connection: argument carrier: invalid choice: 'nosuch'"),
                            ((), "colis: the following arguments are required: command")):
        done = _run(*arguments)
        assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(says), done.stderr
        assert lines[0].endswith("--help)")
    assert "usage: colis" in _run("--help").stdout


def test_local_without_a_state_file_says_how_to_get_one(tmp_path: Path) -> None:
    done = _run("--local", "list-merchants", cwd=tmp_path)
    line = _one_line(done)
    assert line.startswith("colis: local-stack.json not found") and "make run" in line


def test_a_state_file_that_is_not_the_stacks_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"api_url": "x"}))
    assert "names no table_name" in _one_line(_run("--local", "--state-file", str(state), "list-merchants"))
    state.write_text("{not json")
    assert "cannot be read" in _one_line(_run("--local", "--state-file", str(state), "list-merchants"))


def test_an_unreachable_local_stack_is_one_line(tmp_path: Path) -> None:
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps({**STATE, "aws_endpoint_url": "http://127.0.0.1:9"}))
    done = _run("--local", "list-merchants", cwd=tmp_path, env={"AWS_MAX_ATTEMPTS": "1"})
    assert "cannot reach http://127.0.0.1:9" in _one_line(done)


def test_local_fills_what_was_not_given_and_needs_no_credentials(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(STATE))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TABLE_NAME", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    args = argparse.Namespace(local=True, state_file=str(state), table=None, endpoint_url=None, secret_prefix=None,
                              usage_plan_id="given", region="eu-west-1")
    cli._configure(args)
    assert (args.table, args.endpoint_url, args.secret_prefix) == ("colis-local", "http://127.0.0.1:5999",
                                                                   "/colis/local/connections/")
    assert args.usage_plan_id == "given", "what the command line gives wins"
    assert os.environ["TABLE_NAME"] == "colis-local" and os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert os.environ["AWS_ACCESS_KEY_ID"] and os.environ["AWS_SECRET_ACCESS_KEY"]


def test_no_table_at_all_is_one_line() -> None:
    line = _one_line(_run("list-merchants"))
    assert line == "colis: --table (or TABLE_NAME) is required; or --local for the local stack"
