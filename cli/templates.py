"""The Jinja templates, compiled ahead of time into plain Python modules the functions import.

A function that renders with Jinja pays, at every cold start, for Jinja's lexer, parser and compiler
(the import alone costs about a tenth of a handler's), and again at its first render to compile the
template. The templates here use a small part of Jinja (output, `if`, `for`, attribute access,
calls), so this compiles each one into a function of its context that writes the same text with
nothing but `markupsafe.escape`. The templates stay the source; `--write` regenerates the modules,
`--check` fails when one no longer matches its templates.

The subset, with Jinja's meaning: `{{ expression }}` is escaped in `.html` templates and `str()`-ed
elsewhere; `{% if %}`/`{% elif %}`/`{% else %}`; `{% for a in b %}` and `{% for a, b in c %}` without
`loop`, `else` or filters; names given in the context, attributes (`a.b`), calls with constant or
named arguments, and constants. Anything else fails the compilation, so it is never half-supported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, nodes, select_autoescape

from cli.generated import write_or_check

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TemplateModule:
    templates: Path  # a folder of templates
    module: Path  # the Python module compiled from them
    used_by: str


MODULES = (
    TemplateModule(ROOT / "functions" / "notify" / "templates", ROOT / "functions" / "notify" / "email_templates.py",
                   "functions.notify.rendering (customer emails)"),
    TemplateModule(ROOT / "functions" / "tracking" / "templates", ROOT / "functions" / "tracking" / "page_templates.py",
                   "functions.tracking.page (the public tracking page)"),
)


def environment(directory: Path) -> Environment:
    """How the templates are read: `.html` autoescaped, blocks trimmed, trailing newline kept."""
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def function_name(template_name: str) -> str:
    """`not_found.html` -> `not_found_html`."""
    name = template_name.replace(".", "_").replace("-", "_")
    if not name.isidentifier():
        raise SystemExit(f"template {template_name!r} has no usable function name")
    return name


class Unsupported(SystemExit):
    def __init__(self, template: str, node: nodes.Node, what: str) -> None:
        super().__init__(f"{template}:{node.lineno}: {what} is not supported by cli/templates.py")


class _Compiler:
    """One template into the body of one function."""

    def __init__(self, template: str, autoescape: bool) -> None:
        self.template = template
        self.autoescape = autoescape
        self.context_names: set[str] = set()
        self.loop_names: list[set[str]] = []
        self.bound: set[str] = set()  # every loop variable
        self.escapes = False

    def statements(self, body: list[nodes.Node], depth: int) -> Iterator[str]:
        pad = "    " * depth
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        yield f"{pad}write({child.data!r})"
                    else:
                        convert = "escape" if self.autoescape else "str"
                        self.escapes |= self.autoescape
                        yield f"{pad}write({convert}({self.expression(child)}))"
            elif isinstance(node, nodes.If):
                yield f"{pad}if {self.expression(node.test)}:"
                yield from self.block(node.body, depth + 1)
                for branch in node.elif_:
                    yield f"{pad}elif {self.expression(branch.test)}:"
                    yield from self.block(branch.body, depth + 1)
                if node.else_:
                    yield f"{pad}else:"
                    yield from self.block(node.else_, depth + 1)
            elif isinstance(node, nodes.For):
                yield from self.loop(node, depth)
            else:
                raise Unsupported(self.template, node, f"the {type(node).__name__} tag")

    def block(self, body: list[nodes.Node], depth: int) -> Iterator[str]:
        lines = list(self.statements(body, depth))
        yield from lines or ["    " * depth + "pass"]

    def loop(self, node: nodes.For, depth: int) -> Iterator[str]:
        if node.else_ or node.test is not None or node.recursive:
            raise Unsupported(self.template, node, "a for loop with else, a filter or recursion")
        targets = node.target.items if isinstance(node.target, nodes.Tuple) else [node.target]
        if not all(isinstance(target, nodes.Name) for target in targets):
            raise Unsupported(self.template, node, "this loop target")
        names = {target.name for target in targets}
        if "loop" in names or names & self.context_names or any(names & outer for outer in self.loop_names):
            raise Unsupported(self.template, node, "a loop variable shadowing another name")
        iterable = self.expression(node.iter)  # before the loop's own names are bound
        self.loop_names.append(names)
        self.bound |= names
        target = ", ".join(f"v_{target.name}" for target in targets)
        yield f"{'    ' * depth}for {target} in {iterable}:"
        yield from self.block(node.body, depth + 1)
        self.loop_names.pop()

    def expression(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Name):
            if node.name == "loop":
                raise Unsupported(self.template, node, "`loop`")
            if not any(node.name in names for names in self.loop_names):
                self.context_names.add(node.name)
            return f"v_{node.name}"
        if isinstance(node, nodes.Getattr):
            return f"{self.expression(node.node)}.{node.attr}"
        if isinstance(node, nodes.Const):
            return repr(node.value)
        if isinstance(node, nodes.Call):
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                raise Unsupported(self.template, node, "a call with * or ** arguments")
            arguments = [self.expression(argument) for argument in node.args]
            arguments += [f"{keyword.key}={self.expression(keyword.value)}" for keyword in node.kwargs]
            return f"{self.expression(node.node)}({', '.join(arguments)})"
        raise Unsupported(self.template, node, f"the {type(node).__name__} expression")


def compile_template(env: Environment, name: str) -> tuple[str, bool]:
    """The function's source, and whether it escapes."""
    source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    tree = env.parse(source, name)
    compiler = _Compiler(name, bool(env.autoescape(name) if callable(env.autoescape) else env.autoescape))
    body = list(compiler.block(tree.body, 1))
    if compiler.context_names & compiler.bound:
        raise Unsupported(name, tree, "a context name also used as a loop variable")
    lines = [f"def {function_name(name)}(context: Mapping[str, Any]) -> str:",
             f'    """`{name}` with `context` (its names: {", ".join(sorted(compiler.context_names))})."""']
    lines += [f"    v_{context_name} = context[{context_name!r}]" for context_name in sorted(compiler.context_names)]
    lines += ["    parts: list[str] = []", "    write = parts.append", *body, '    return "".join(parts)']
    return "\n".join(lines), compiler.escapes


def generate(target: TemplateModule) -> str:
    env = environment(target.templates)
    functions = [compile_template(env, name) for name in sorted(env.list_templates())]
    folder = target.templates.relative_to(ROOT)
    parts = [
        f'"""The templates of `{folder}`, compiled to Python for {target.used_by}.\n\n'
        f"Generated by `python -m cli.templates --write`; do not edit: change the templates.\n"
        f'"""\n\n'
        "from collections.abc import Mapping\n"
        "from typing import Any\n",
    ]
    if any(escapes for _, escapes in functions):
        parts.append("\nfrom markupsafe import escape\n")
    parts += [f"\n\n{function}\n" for function, _ in functions]
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    return write_or_check(__doc__, "cli.templates", lambda: {target.module: generate(target) for target in MODULES},
                          argv)


if __name__ == "__main__":
    raise SystemExit(main())
