"""`--write` / `--check` for modules generated from a source the project keeps (templates, CLDR):
`--write` rewrites them, `--check` fails when a committed one no longer matches its source."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(description: str | None, command: str, generated: Callable[[], dict[Path, str]],
                   argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for module, source in generated().items():
        if args.write:
            module.write_text(source, encoding="utf-8")
            print(f"wrote {_shown(module)}")
        elif not module.exists() or module.read_text(encoding="utf-8") != source:
            stale.append(_shown(module))
    for module in stale:
        print(f"{module} is out of date: python -m {command} --write", file=sys.stderr)
    return 1 if stale else 0


def _shown(module: Path) -> Path:
    return module.relative_to(ROOT) if module.is_relative_to(ROOT) else module
