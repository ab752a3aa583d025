"""Each concern of the platform room has one home, read from the code: the environment is read only
by shared/platform/settings.py, boto3 clients are made only by shared/platform/aws.py, and the
collector's cold-start tweak lives only in shared/platform/coldstart.py."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_import_directions import ROOT, imports_of, sources

DEPLOYED = ("shared", "functions")


def _dotted(node: ast.expr) -> str:
    """`os.environ.get` for the expression `os.environ.get`; "" for anything not a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def uses(path: Path, names: tuple[str, ...]) -> list[str]:
    """The dotted names of `names` (or below them) the module spells, and those it imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    spelled = {_dotted(node) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    found = spelled | set(imports_of(path))
    return sorted(name for name in found if any(name == n or name.startswith(n + ".") for n in names))


def offenders(names: tuple[str, ...], home: str) -> list[str]:
    return [f"{path.relative_to(ROOT)}: {', '.join(uses(path, names))}" for path in sources(*DEPLOYED)
            if str(path.relative_to(ROOT)) != home and uses(path, names)]


def test_the_detector_sees_what_it_looks_for() -> None:
    assert uses(ROOT / "shared/platform/settings.py", ("os.environ",)) == ["os.environ"]
    assert "boto3.session.Session" in uses(ROOT / "shared/platform/aws.py", ("boto3.session",))
    assert uses(ROOT / "shared/platform/coldstart.py", ("gc.freeze",)) == ["gc.freeze"]


def test_only_the_settings_module_reads_the_environment() -> None:
    assert offenders(("os.environ", "os.getenv", "os.getenvb", "os.environb"), "shared/platform/settings.py") == []


def test_only_the_aws_module_makes_clients() -> None:
    # `boto3.dynamodb.conditions` and `boto3.dynamodb.types` (expression builders, type codecs) are fine.
    clients = ("boto3.session", "boto3.client", "boto3.resource", "boto3.Session", "botocore.session",
               "botocore.config")
    assert offenders(clients, "shared/platform/aws.py") == []
    bare = [str(path.relative_to(ROOT)) for path in sources(*DEPLOYED)
            if "boto3" in imports_of(path) and str(path.relative_to(ROOT)) != "shared/platform/aws.py"]
    assert bare == []


def test_only_the_coldstart_module_tunes_the_collector() -> None:
    assert offenders(("gc.freeze", "gc.set_threshold", "gc.disable"), "shared/platform/coldstart.py") == []
