"""The import directions ARCHITECTURE.md draws, read from the code itself (every import statement,
lazy ones inside functions included): shared/ never reaches up into functions/ or the tooling,
the platform room and the kernel stand on nothing above them, domains know no HTTP, and only the
HTTP room and the functions' entry points deal in HTTP responses."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.template_resources import resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("shared", "functions", "local", "cli", "tests", "bench")
# The rooms of shared/ below the domains, and the only rooms (or modules) each may import.
FOUNDATIONS: dict[str, set[str]] = {
    "shared.errors": set(),
    "shared.platform": set(),
    "shared.values": {"shared.errors"},
    "shared.dynamo": {"shared.errors", "shared.platform", "shared.values"},
    # Payloads carry shipment statuses: the catalogue reads their vocabulary, never a store.
    "shared.events": {"shared.errors", "shared.platform", "shared.values", "shared.dynamo", "shared.shipments.statuses"},
    "shared.http": {"shared.errors", "shared.platform", "shared.values"},
}
# Every other package of shared/ is a domain.
DOMAINS = tuple(sorted(path.name for path in (ROOT / "shared").iterdir()
                       if (path / "__init__.py").is_file() and f"shared.{path.name}" not in FOUNDATIONS))
# What makes a module an HTTP module: the resolver and its responses, the failure-to-status map.
HTTP_MODULES = ("aws_lambda_powertools.event_handler", "shared.http.api", "shared.http.problems", "http")
# Clients, not responders: the one module that POSTs events to merchants' endpoints (http.client).
HTTP_CLIENTS = {"functions.outbound.sender"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(*tops: str) -> list[Path]:
    return sorted(path for top in tops for path in (ROOT / top).rglob("*.py"))


@cache
def imports_of(path: Path) -> frozenset[str]:
    """Every module `path` imports, relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] if node.level else [])
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from shared import errors`
    return frozenset(found)


def room(module: str) -> str:
    """`shared.<room>` for shared's modules (`shared.errors` is a room of one), else the top level."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "shared" and len(parts) > 1 else parts[0]


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(paths: list[Path], forbidden: Iterator[str] | tuple[str, ...]) -> list[str]:
    banned = tuple(forbidden)
    return [f"{path.relative_to(ROOT)} imports {module}" for path in paths for module in sorted(imports_of(path))
            if any(within(module, prefix) for prefix in banned)]


def entry_point_modules() -> set[str]:
    """The functions' handler modules: what template.yaml names as a function's `Handler`."""
    handlers = (resource["Properties"]["Handler"] for resource in
                resources_of_type("AWS::Serverless::Function").values())
    return {handler.rsplit(".", 1)[0].replace("/", ".") for handler in handlers}


def test_the_parser_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    # The helpers the rules rest on: a rule read through a blind parser could never fail.
    module = ROOT / "shared" / "platform" / "observability.py"
    assert "shared.platform.coldstart" in imports_of(module)
    assert "aws_lambda_powertools.Metrics" in imports_of(module)  # imported inside metrics()
    assert room("shared.dynamo.keys") == "shared.dynamo" and room("shared.errors") == "shared.errors"
    assert violations([module], ("shared.platform.coldstart",)) == [
        "shared/platform/observability.py imports shared.platform.coldstart"]


def test_shared_never_imports_the_functions_or_the_tooling() -> None:
    assert violations(sources("shared"), ("functions", "local", "cli", "tests", "bench")) == []


def test_functions_never_import_the_tooling() -> None:
    assert violations(sources("functions"), ("local", "cli", "tests", "bench")) == []


def test_the_tooling_is_never_imported_by_what_is_deployed_or_by_the_cli() -> None:
    assert violations(sources("cli"), ("local", "tests", "bench")) == []
    assert violations(sources("local"), ("tests", "bench")) == []


@pytest.mark.parametrize("foundation", sorted(FOUNDATIONS))
def test_each_foundation_room_stands_only_on_the_rooms_below_it(foundation: str) -> None:
    allowed = FOUNDATIONS[foundation] | {foundation}
    paths = [path for path in sources("shared") if room(module_name(path)) == foundation]
    assert paths, f"no module in {foundation}"
    found = [f"{path.relative_to(ROOT)} imports {module}" for path in paths for module in sorted(imports_of(path))
             if module.split(".")[0] == "shared" and module != "shared"
             and not any(within(module, prefix) for prefix in allowed)]
    assert found == []


def test_domains_and_the_kernel_know_no_http() -> None:
    rooms = [f"shared.{name}" for name in (*DOMAINS, "dynamo", "events", "values", "platform")]
    paths = [path for path in sources("shared") if room(module_name(path)) in rooms]
    assert violations(paths, ("shared.http", *HTTP_MODULES)) == []


def test_only_the_http_room_and_the_entry_points_deal_in_http_responses() -> None:
    entry_points = entry_point_modules()
    assert "functions.shipments.handler" in entry_points
    paths = [path for path in sources("shared", "functions")
             if room(module_name(path)) != "shared.http" and module_name(path) not in entry_points]
    assert violations([p for p in paths if module_name(p) not in HTTP_CLIENTS], HTTP_MODULES) == []
    spelled = [str(path.relative_to(ROOT)) for path in paths if "problem+json" in path.read_text(encoding="utf-8")]
    assert spelled == []


def test_architecture_md_names_every_room_of_shared() -> None:
    # A package added to shared/ is a domain unless listed above: the document must say so.
    document = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert "shipments" in DOMAINS and "dynamo" not in DOMAINS
    missing = [f"shared/{name.removeprefix('shared.')}" for name in FOUNDATIONS
               if f"`shared/{name.removeprefix('shared.')}" not in document]
    missing += [name for name in DOMAINS if f"`{name}`" not in document]
    assert missing == []
