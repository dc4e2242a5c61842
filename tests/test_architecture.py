"""The shape of the code: no import cycles between mediarag's modules, and no module reaching
into another module's private names (in mediarag/ and benchmarks/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(folder: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / folder).rglob("*.py"))}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import outside TYPE_CHECKING,
    at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{target}.{n}" in known]
            out += [(f"{target}.{n}", [], node.lineno) for n in submodules]
            out.append((target, [n for n in names if n not in submodules], node.lineno))
    return out


def test_no_import_cycles_between_mediarag_modules() -> None:
    known = _modules("mediarag")
    graph = {
        name: {target for target, _, _ in _imports(name, path, known) if target in known and target != name}
        for name, path in known.items()
    }
    # Package __init__ files re-export their modules: an edge into a package is an edge to
    # the modules it re-exports, so only edges between plain modules are followed.
    packages = {n for n, p in known.items() if p.name == "__init__.py"}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt in packages:
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(set(known) - packages):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_takes_another_modules_private_names() -> None:
    offenders = []
    for folder in ("mediarag", "benchmarks"):
        known = {**_modules("mediarag"), **_modules("benchmarks")}
        for name, path in _modules(folder).items():
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imported_modules: set[str] = set()
            for target, names, line in _imports(name, path, known):
                if target == "__future__":
                    continue
                offenders += [f"{path.relative_to(ROOT)}:{line} imports {target}.{n}" for n in names if _private(n)]
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    for alias in node.names:
                        bound = alias.asname or alias.name.split(".")[0]
                        imported_modules.add(bound)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and _private(node.attr)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in imported_modules
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not offenders, "\n".join(offenders)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
