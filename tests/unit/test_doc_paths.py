"""Every code path the project's documents name exists: a renamed or moved module must take its
documentation with it, so a reader who follows `docs/` or `ARCHITECTURE.md` lands on real code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "ARCHITECTURE.md", *(ROOT / "docs").glob("*.md")])
# `shared/x.py`, `functions/x/y.json`, `shared/x` (a package), `shared/x.member` (something inside
# the module). Not `../shared/` (the team's reference folder) nor `tests/local/...` (a suffix of a path).
CODE_PATH = re.compile(r"(?<![\w./-])((?:shared|functions|local|cli|bench)/[A-Za-z0-9_/]+(?:\.[a-z]+)?)")


def named_paths(document: Path) -> list[str]:
    return sorted({match.rstrip("/") for match in CODE_PATH.findall(document.read_text(encoding="utf-8"))})


FILE_SUFFIXES = {".py", ".json", ".html", ".txt", ".md", ".yaml", ".csv", ".sh"}


def exists(path: str) -> bool:
    candidate = ROOT / path
    if candidate.suffix in FILE_SUFFIXES:
        return candidate.exists()
    module = candidate.with_suffix("")  # `shared/x.member` names a member of module or package x
    return module.exists() or module.with_suffix(".py").exists()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda document: document.name)
def test_every_named_code_path_exists(document: Path) -> None:
    missing = [path for path in named_paths(document) if not exists(path)]
    assert not missing, f"{document.relative_to(ROOT)} names code that does not exist: {missing}"
