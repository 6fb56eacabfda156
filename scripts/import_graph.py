"""Print polykv's import graph: module sizes, import cycles, and the edges that close them.

Usage: ``python scripts/import_graph.py [--sizes] [--edges] [--json]``; exit status 1 when
there is a cycle. Imports inside functions count (a cycle closed by a function-level import is
still a cycle for a reader); imports under ``if TYPE_CHECKING:`` do not (they never run).
Reads the source with :mod:`ast`; imports nothing of polykv.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "polykv": ROOT / "polykv",
    "polykv_redis": ROOT / "plugins" / "polykv-redis" / "polykv_redis",
    "polykv_fsspec": ROOT / "plugins" / "polykv-fsspec" / "polykv_fsspec",
}
PACKAGES.update({p.name: p for p in (ROOT / "plugins").glob("*/polykv_*") if p.is_dir() and p.name not in PACKAGES})


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` imports ``target``; ``deferred`` when inside a function."""

    source: str
    target: str
    deferred: bool
    line: int


def module_files() -> dict[str, Path]:
    """Map dotted module name -> file for every module of every package."""
    out: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it sits inside a function; TYPE_CHECKING blocks left out."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def walk(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    walk(other, deferred)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, deferred))
            walk(child, deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    walk(tree, False)
    return found


def edges(modules: dict[str, Path]) -> list[Edge]:
    """All import edges between modules of the packages."""
    out: list[Edge] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, deferred in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = name.split(".")
                    keep = len(parts) - node.level + (1 if is_package else 0)
                    base = ".".join(parts[:keep] + ([base] if base else []))
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in modules else base)
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    out.append(Edge(name, target, deferred, node.lineno))
    return list(dict.fromkeys(out))


def cycles(names: list[str], graph: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    succ: dict[str, set[str]] = {n: set() for n in names}
    for e in graph:
        succ[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for n in sorted(names):
        if n not in index:
            visit(n)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", action="store_true", help="print each module's line count")
    parser.add_argument("--edges", action="store_true", help="print the edges inside each cycle")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    modules = module_files()
    graph = edges(modules)
    found = cycles(list(modules), graph)
    if args.json:
        print(json.dumps({"cycles": found, "sizes": {m: len(p.read_text().splitlines()) for m, p in modules.items()}}))
        return 1 if found else 0
    if args.sizes:
        for m, p in sorted(modules.items(), key=lambda item: -len(item[1].read_text().splitlines())):
            print(f"{len(p.read_text().splitlines()):6d}  {m}")
    print(f"{len(modules)} modules, {len(graph)} imports, {len(found)} cycle(s)")
    for component in found:
        members = set(component)
        print("cycle: " + ", ".join(component))
        if args.edges:
            for e in graph:
                if e.source in members and e.target in members:
                    how = "in a function" if e.deferred else "at module level"
                    print(f"    {e.source}:{e.line} -> {e.target} ({how})")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
