"""The README runs as written: its shell blocks marked `<!-- runnable -->` run in order, in one bash
session, against a fresh local stack started as `make run` starts it; exit codes and the outputs
the README documents (`<!-- output -->` blocks) are checked, and so is the `local-stack.json`
example. The README's "Contributing: the README runs" section describes the markers.

The stack is this module's own: the walk-through moves the product clock by a month, which the
shared session stack's other tests must not see.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PROJECT_ROOT, _stop, _tail, _wait_for_state

pytestmark = pytest.mark.xdist_group("readme-e2e")

README = PROJECT_ROOT / "README.md"
RUNNABLE = "<!-- runnable -->"
OUTPUT = "<!-- output -->"
STATE_EXAMPLE = "<!-- local-stack.json -->"
SHELL_FENCES = ("```bash", "```sh")
README_API_URL = "http://127.0.0.1:3000"
README_AWS_URL = "http://127.0.0.1:5000"
RUN_TIMEOUT_SECONDS = 300  # the walk-through takes well under a minute; a loaded machine is slower
SENTINEL = "@@readme-block@@"
# What the README must walk a newcomer through (issue 19): each journey's tell-tale in the runnable text.
JOURNEYS = {
    "a merchant and its API key with the CLI, no AWS credentials": "colis --local create-merchant",
    "an API key revoked with the CLI": "colis --local revoke-api-key",
    "a shipment": "/v1/shipments -d",
    "a signed carrier webhook": "Colis-Signature:",
    "the public tracking page": "$TRACKING_PAGE",
    "the emails sent to the recipient": "$API/_local/outbox",
    "a customer created": "/v1/customers \\",
    "a presigned upload of an import file": "customer-imports -d '{\"upload\": true}'",
    "an export's presigned download link": "field download_url",
    "a refund with an Idempotency-Key": "Idempotency-Key:",
    "the clock moved, retention seen": "/_local/clock -d '{\"advance_days\"",
}


class ReadmeFormatError(AssertionError):
    pass


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the block's first code line in README.md
    code: str
    expected: tuple[str, ...] = ()


def _fenced(lines: list[str], index: int, fences: tuple[str, ...], marker: str) -> tuple[str, int, int]:
    """The code of the fenced block right after the marker at `index` (blank lines allowed
    between), the index of its first code line, and the index after its closing fence."""
    position = index + 1
    while position < len(lines) and not lines[position].strip():
        position += 1
    if position >= len(lines) or lines[position].strip() not in fences:
        raise ReadmeFormatError(f"README.md:{index + 1}: {marker} is not followed by a {' or '.join(fences)} block")
    end = position + 1
    while end < len(lines) and lines[end].strip() != "```":
        end += 1
    if end >= len(lines):
        raise ReadmeFormatError(f"README.md:{position + 1}: the block is never closed")
    return "\n".join(lines[position + 1:end]), position + 1, end + 1


def runnable_blocks(text: str) -> list[Block]:
    """Every `<!-- runnable -->` shell block, in order, with the `<!-- output -->` block after it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        marker = lines[index].strip()
        if marker == OUTPUT:
            raise ReadmeFormatError(f"README.md:{index + 1}: {OUTPUT} follows no runnable block")
        if marker != RUNNABLE:
            index += 1
            continue
        code, first, after = _fenced(lines, index, SHELL_FENCES, RUNNABLE)
        expected: tuple[str, ...] = ()
        following = after
        while following < len(lines) and not lines[following].strip():
            following += 1
        if following < len(lines) and lines[following].strip() == OUTPUT:
            output, _, after = _fenced(lines, following, ("```text",), OUTPUT)
            expected = tuple(line.strip() for line in output.splitlines() if line.strip())
        blocks.append(Block(first + 1, code, expected))
        index = after
    return blocks


def state_example(text: str) -> Any:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == STATE_EXAMPLE:
            return json.loads(_fenced(lines, index, ("```json",), STATE_EXAMPLE)[0])
    raise ReadmeFormatError(f"README.md has no {STATE_EXAMPLE} block")


def _pattern(expected: str, api_url: str, aws_url: str = README_AWS_URL) -> re.Pattern[str]:
    expected = expected.replace(README_API_URL, api_url).replace(README_AWS_URL, aws_url)
    return re.compile(".*".join(re.escape(fragment) for fragment in expected.split("...")), re.DOTALL)


def missing_lines(expected: tuple[str, ...], output: str, api_url: str) -> list[str]:
    """Expected lines not found in `output`, in order, each matching one whole output line."""
    actual = [line.strip().lstrip("\ufeff") for line in output.splitlines()]
    position = 0
    for number, line in enumerate(expected):
        pattern = _pattern(line, api_url)
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            position += 1
        if position == len(actual):
            return list(expected[number:])
        position += 1
    return []


def state_differences(example: Any, actual: Any, urls: dict[str, str], where: str = "") -> list[str]:
    """What the README's `local-stack.json` example says that the real file does not."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'the file'} is not an object"]
        named = {key for key in example if key != "..."}
        problems = [f"{where}{key} is not in the file" for key in sorted(named - set(actual))]
        if "..." not in example:
            problems += [f"{where}{key} is in the file, not in the README" for key in sorted(set(actual) - named)]
        for key in sorted(named & set(actual)):
            problems += state_differences(example[key], actual[key], urls, f"{where}{key}.")
        return problems
    if isinstance(example, str):
        if not isinstance(actual, str) or not _pattern(example, urls["api_url"], urls["aws_endpoint_url"]).fullmatch(actual):
            return [f"{where.rstrip('.')}: the README says {example!r}, the file {actual!r}"]
        return []
    return [] if example == actual else [f"{where.rstrip('.')}: the README says {example!r}, the file {actual!r}"]


def session_script(blocks: list[Block]) -> str:
    """One bash session: each block announced on stdout and stderr (so a failure names it), with the
    time it starts (bash 5's EPOCHREALTIME; blank in older shells)."""
    parts = ["set -e -o pipefail"]
    for number, block in enumerate(blocks):
        announce = f"{SENTINEL} {number}"
        parts += [f"printf '\\n%s %s\\n' '{announce}' \"${{EPOCHREALTIME:-}}\"; printf '\\n%s\\n' '{announce}' >&2",
                  block.code]
    parts.append(f"printf '\\n%s %s\\n' '{SENTINEL} end' \"${{EPOCHREALTIME:-}}\"")
    return "\n".join(parts) + "\n"


_ANNOUNCED = re.compile(rf"^{re.escape(SENTINEL)} (\d+|end) ?([\d.,]*)$", re.MULTILINE)


def outputs_by_block(stdout: str) -> dict[int | str, str]:
    pieces = _ANNOUNCED.split(stdout)
    return {int(key) if key.isdigit() else key: value for key, value in zip(pieces[1::3], pieces[3::3], strict=True)}


def slowest_blocks(stdout: str, blocks: list[Block], count: int = 3) -> str:
    """The blocks that took longest, when the shell told their start times."""
    starts = [(key, float(at.replace(",", "."))) for key, at in _ANNOUNCED.findall(stdout) if at]
    spans = sorted(((end - start, key) for (key, start), (_, end) in pairwise(starts)),
                   reverse=True)
    return ", ".join(f"README.md:{blocks[int(key)].line} {seconds:.1f} s" for seconds, key in spans[:count])


def _without_aws_credentials(scratch: Path) -> dict[str, str]:
    """The session's environment: no AWS credentials, configuration or endpoint to fall back on (the
    CLI's `--local` must do without), and the project's Python first on PATH as `python3`."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("AWS_") and name not in {"TABLE_NAME", "USAGE_PLAN_ID",
                                                                      "CONNECTION_SECRET_PREFIX"}}
    environment.update({
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return environment


# --- the README's own checks (no stack) --------------------------------------------------------------
def test_the_readme_walks_through_every_main_journey() -> None:
    code = "\n".join(block.code for block in runnable_blocks(README.read_text(encoding="utf-8")))
    missing = [journey for journey, tell_tale in JOURNEYS.items() if tell_tale not in code]
    assert not missing, f"no runnable README block shows: {', '.join(missing)}"
    # A fresh machine has curl and python3, not necessarily jq; and nothing is left to fill in.
    assert not re.search(r"\bjq\b", code)
    assert not re.search(r"<[a-z][a-z ]*>", code), "a runnable block holds a <placeholder>"


def test_markers_are_read_as_documented() -> None:
    text = "\n".join([
        "intro", RUNNABLE, "```bash", "echo one", "```", "", OUTPUT, "```text", "one", "```",
        RUNNABLE, "```sh", "echo two", "```", "```bash", "echo never", "```",
    ])
    blocks = runnable_blocks(text)
    assert blocks == [Block(4, "echo one", ("one",)), Block(13, "echo two", ())]
    with pytest.raises(ReadmeFormatError, match="not followed"):
        runnable_blocks(f"{RUNNABLE}\n```python\nprint()\n```")
    with pytest.raises(ReadmeFormatError, match="follows no runnable block"):
        runnable_blocks(f"{OUTPUT}\n```text\nx\n```")
    with pytest.raises(ReadmeFormatError, match="never closed"):
        runnable_blocks(f"{RUNNABLE}\n```bash\necho")


def test_expected_lines_match_whole_lines_in_order() -> None:
    output = "\ufeffHeader,A\nshp_123\n{\"accepted\":1,\"duplicates\":0}\nhttp://127.0.0.1:4321/track/x/1\n"
    api = "http://127.0.0.1:4321"
    assert missing_lines(("Header,A", "shp_...", '{"accepted":1,...}', f"{README_API_URL}/track/.../1"), output,
                         api) == []
    assert missing_lines(("shp_...", "Header,A"), output, api) == ["Header,A"]  # out of order
    assert missing_lines(("shp_12",), output, api) == ["shp_12"]  # a part of a line is not the line
    assert missing_lines(("2",), "20\n", api) == ["2"]


def test_the_session_keeps_variables_splits_outputs_and_stops_at_a_failure() -> None:
    blocks = [Block(1, "NAME=lune; echo one"), Block(5, "echo $NAME"), Block(9, "false | cat; echo never"),
              Block(13, "echo after")]
    result = subprocess.run(["bash", "--noprofile", "--norc", "-c", session_script(blocks)], capture_output=True,
                            text=True, timeout=30, check=False)
    outputs = outputs_by_block(result.stdout)
    assert result.returncode == 1  # pipefail: a failing command inside a pipe fails its block
    assert (outputs[0].strip(), outputs[1].strip(), outputs[2].strip()) == ("one", "lune", "")
    assert 3 not in outputs and "end" not in outputs
    assert slowest_blocks(result.stdout, blocks, 1).startswith("README.md:")


def test_state_example_differences_are_named() -> None:
    urls = {"api_url": "http://127.0.0.1:4321", "aws_endpoint_url": "http://127.0.0.1:9"}
    example = {"api_url": README_API_URL, "table_name": "t-...", "webhooks": {"colis": {"...": "..."}}}
    assert state_differences(example, {"api_url": urls["api_url"], "table_name": "t-1",
                                       "webhooks": {"colis": {"url": "u"}}}, urls) == []
    assert state_differences(example, {"api_url": urls["api_url"], "table_name": "x", "extra": 1,
                                       "webhooks": {}}, urls) == [
        "extra is in the file, not in the README", "table_name: the README says 't-...', the file 'x'",
        "webhooks.colis is not in the file"]


# --- the README against a fresh local stack ------------------------------------------------------------
@pytest.fixture(scope="module")
def scratch_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any], Path]]:
    """A fresh local stack whose state file is in a scratch directory (as `make run` writes it in the
    directory it runs in), and that directory with a `.venv` link to the project's environment."""
    scratch = tmp_path_factory.mktemp("readme")
    logs = tmp_path_factory.mktemp("readme-stack")
    (scratch / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    state_file, stdout_path, stderr_path = scratch / "local-stack.json", logs / "stdout.log", logs / "stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "--api-port", "0", "--moto-port", "0", "--state-file", str(state_file),
             "--template", str(PROJECT_ROOT / "template.yaml")],
            cwd=PROJECT_ROOT, stdout=out, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            yield scratch, _wait_for_state(process, state_file, stderr_path), stderr_path
        finally:
            _stop(process)


def test_local_stack_json_is_as_the_readme_shows(scratch_stack: tuple[Path, dict[str, Any], Path]) -> None:
    _, state, _ = scratch_stack
    problems = state_differences(state_example(README.read_text(encoding="utf-8")), state, state)
    assert not problems, "README's local-stack.json example: " + "; ".join(problems)


def test_readme_blocks_run_as_written(scratch_stack: tuple[Path, dict[str, Any], Path]) -> None:
    scratch, state, stack_log = scratch_stack
    blocks = runnable_blocks(README.read_text(encoding="utf-8"))
    script = scratch / "readme-session.sh"
    script.write_text(session_script(blocks), encoding="utf-8")
    started = time.monotonic()
    try:
        result = subprocess.run(["bash", "--noprofile", "--norc", str(script)], cwd=scratch,
                                env=_without_aws_credentials(scratch), capture_output=True, text=True,
                                timeout=RUN_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"the README's blocks did not finish in {RUN_TIMEOUT_SECONDS} s:\n{timeout.stdout!s}"[-4000:],
                    pytrace=False)
    elapsed = time.monotonic() - started
    outputs = outputs_by_block(result.stdout)
    if result.returncode != 0 or "end" not in outputs:
        failed = max((key for key in outputs if isinstance(key, int)), default=0)
        errors = outputs_by_block(result.stderr).get(failed, result.stderr)
        pytest.fail(f"README.md:{blocks[failed].line}: the block exited with {result.returncode}\n"
                    f"--- its output:\n{outputs.get(failed, '')[-3000:]}\n--- its errors:\n{errors[-3000:]}\n"
                    f"--- the stack's log:\n{_tail(stack_log, 30)}", pytrace=False)
    wrong = []
    for number, block in enumerate(blocks):
        missing = missing_lines(block.expected, outputs.get(number, ""), state["api_url"])
        if missing:
            wrong.append(f"README.md:{block.line}: the output lacks {missing[0]!r} (and what follows it);"
                         f" it printed:\n{outputs.get(number, '')[-2000:]}")
    assert not wrong, "\n".join(wrong)
    print(f"{len(blocks)} README blocks ran in {elapsed:.1f} s; slowest: {slowest_blocks(result.stdout, blocks)}")
