"""The layers hold: no import cycle between the project's modules, no private name imported from
another file, and the constructs never import the rules or the tools.

Layers, bottom up (README "How the code is laid out"): ``environments`` (schema, loader) ->
``modules`` (constructs, stacks) -> ``policies.model`` (the read model of ``cdktf.out``) ->
``policies.rules`` and the checkov pack -> ``tooling`` (terraform, review, analysis, dev; ``cli`` on
top). Imports made inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
PACKAGES = ("environments", "modules", "policies", "tooling", "tests")
CONSTRUCTS = ("environments", "modules")
TOOLS = ("policies", "tooling")


def project_modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    if (root / "main.py").is_file():
        found["main"] = root / "main.py"
    return found


def imports(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """``{module: project modules it imports}`` and every ``from x import _private`` across files."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    private = []

    def owner(dotted: str):
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [owner(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = []
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else owner(base))
                    if full not in modules and alias.name.startswith("_") and not alias.name.startswith("__") \
                            and owner(base):
                        private.append(f"{name} imports {alias.name} from {owner(base)}")
            else:
                continue
            edges[name].update(t for t in targets if t and t != name)
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def top_level_names(path: Path) -> set[str]:
    """What a module defines or imports at its top level (what ``from it import name`` can find)."""
    names = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node in tree.body:
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset == 0:
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.If, ast.Try, ast.With)) \
                and node in tree.body:
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    names.add(target.id)
                elif isinstance(target, (ast.FunctionDef, ast.ClassDef)):
                    names.add(target.name)
                elif isinstance(target, (ast.Import, ast.ImportFrom)):
                    names.update((a.asname or a.name).split(".")[0] for a in target.names)
    return names


def unresolved_imports(modules: dict[str, Path]) -> list[str]:
    """``from <project module> import name`` where the module defines no such name (lazy imports too: a
    moved function fails there only when the code runs)."""
    defined = {name: top_level_names(path) for name, path in modules.items()}
    missing = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base not in modules:
                continue
            for alias in node.names:
                if alias.name != "*" and f"{base}.{alias.name}" not in modules and alias.name not in defined[base]:
                    missing.append(f"{name}:{node.lineno} imports {alias.name} from {base}, which has none")
    return missing


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    """A construct importing the rules or the tools; the model or the rules importing a tool; the model
    importing the rules."""
    found = []
    for name, targets in sorted(edges.items()):
        for target in sorted(targets):
            top, tier = name.split(".")[0], target.split(".")[0]
            if (top in CONSTRUCTS and tier in TOOLS) or (top == "policies" and tier == "tooling") \
                    or (name.startswith("policies.model") and target.startswith("policies.rules")):
                found.append(f"{name} imports {target}")
    return found


@pytest.fixture(scope="module")
def graph():
    return imports(project_modules(PROJECT))


def test_no_import_cycle_between_the_projects_modules(graph):
    assert cycles(graph[0]) == []


def test_no_private_name_is_imported_from_another_file(graph):
    assert graph[1] == []


def test_every_import_of_a_project_module_finds_its_name():
    assert unresolved_imports(project_modules(PROJECT)) == []


def test_the_check_fails_on_a_name_that_moved(tmp_path):
    _plant(tmp_path, {"tooling/__init__.py": "", "tooling/a.py": "def f():\n    pass\n",
                      "tooling/b.py": "def g():\n    from tooling.a import moved\n"})
    assert unresolved_imports(project_modules(tmp_path)) == ["tooling.b:2 imports moved from tooling.a, which has none"]


def test_each_layer_imports_only_the_layers_below_it(graph):
    assert layer_violations(graph[0]) == []


def test_the_rule_domains_import_neither_each_other_nor_their_users(graph):
    from policies.rules import DOMAINS

    domains = {f"policies.rules.{d}" for d in DOMAINS}
    for domain in domains:
        assert graph[0][domain] & (domains | {"policies.rules"}) == set(), domain
        assert not {t for t in graph[0][domain] if t.startswith("tooling")}, domain


def _plant(root: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return imports(project_modules(root))[0]


def test_the_check_fails_on_a_planted_cycle_a_lazy_one_included(tmp_path):
    edges = _plant(tmp_path, {"tooling/__init__.py": "", "tooling/a.py": "from tooling import b\n",
                              "tooling/b.py": "def f():\n    from tooling.a import x\n"})
    assert cycles(edges) == [["tooling.a", "tooling.b"]]


def test_the_check_fails_on_a_construct_importing_a_tool_and_on_a_private_import(tmp_path):
    root = tmp_path
    _plant(root, {"modules/__init__.py": "", "modules/x.py": "from policies.rules import run_rules\n",
                  "policies/__init__.py": "", "policies/rules.py": "def run_rules():\n    pass\n",
                  "tooling/__init__.py": "", "tooling/c.py": "from policies.rules import _helper\n"})
    edges, private = imports(project_modules(root))
    assert layer_violations(edges) == ["modules.x imports policies.rules"]
    assert layer_violations({"policies.model.platform": {"policies.rules.registry"}, "policies.rules.dns": {
        "tooling.analysis.drill"}}) == ["policies.model.platform imports policies.rules.registry",
                                        "policies.rules.dns imports tooling.analysis.drill"]
    assert private == ["tooling.c imports _helper from policies.rules"]
