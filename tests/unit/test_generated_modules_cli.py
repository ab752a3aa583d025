"""`--write` / `--check` of the generated modules (`cli/generated.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.generated import write_or_check


def test_check_fails_on_a_stale_or_missing_module_and_write_mends_it(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    fresh, stale, missing = tmp_path / "fresh.py", tmp_path / "stale.py", tmp_path / "missing.py"
    fresh.write_text("A = 1\n", encoding="utf-8")
    stale.write_text("B = 1\n", encoding="utf-8")
    sources = {fresh: "A = 1\n", stale: "B = 2\n", missing: "C = 3\n"}
    assert write_or_check(None, "cli.example", lambda: sources, ["--check"]) == 1
    errors = capsys.readouterr().err
    assert "stale.py is out of date: python -m cli.example --write" in errors
    assert "missing.py" in errors and "fresh.py" not in errors
    assert write_or_check(None, "cli.example", lambda: sources, ["--write"]) == 0
    assert {path: path.read_text(encoding="utf-8") for path in sources} == sources
    assert write_or_check(None, "cli.example", lambda: sources, ["--check"]) == 0


def test_one_mode_is_required() -> None:
    with pytest.raises(SystemExit):
        write_or_check(None, "cli.example", dict, [])
