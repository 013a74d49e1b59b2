"""Imports point one way (ARCHITECTURE.md): hwspecs <- workloads <- simulator <- validation <- the
faces (archsim.py, archsim_cli, app.py, app_pages). hwspecs and simulator never import torch or
transformers; `import workloads` stays light.

The tracer subclasses torch classes at module level, so "lazily" is checked as: a workloads
module that imports torch at its top level (a heavy module) is reached by no top-level import
chain from `workloads/__init__.py`, and hwspecs and simulator import no heavy module at all.
A subprocess then imports the light modules and checks that torch did not load.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"hwspecs": 0, "workloads": 1, "simulator": 2, "validation": 3,
          "archsim": 4, "archsim_cli": 4, "app": 4, "app_pages": 4}
FACES = ("archsim", "archsim_cli", "app", "app_pages")
HEAVY = ("torch", "transformers")
NEVER_HEAVY = ("hwspecs", "simulator")
LIGHT_PACKAGES = ("hwspecs", "workloads", "simulator")


@dataclass(frozen=True)
class Import:
    module: str          # the importing module, dotted ('simulator.comm')
    file: str            # relative path, for messages
    line: int
    target: str          # dotted name imported ('workloads.op', 'torch.nn')
    top_level: bool      # runs on import (not inside a function, nor under TYPE_CHECKING)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(root: Path) -> list[Path]:
    files = []
    for name in LAYERS:
        if (root / f"{name}.py").is_file():
            files.append(root / f"{name}.py")
        if (root / name).is_dir():
            files += sorted(p for p in (root / name).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_import(node: ast.Call) -> str | None:
    """The module named by importlib.import_module("x") or __import__("x"), when literal."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ("import_module", "__import__") and node.args and isinstance(
            node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def imports_of(root: Path, path: Path) -> list[Import]:
    module = module_name(root, path)
    is_package = path.name == "__init__.py"
    rel = str(path.relative_to(root))
    found: list[Import] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda))
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_one(stmt, False)
                for stmt in child.orelse:
                    visit_one(stmt, top)
                continue
            visit_one(child, inner, recurse=False)
            visit(child, inner)

    def visit_one(node: ast.AST, top: bool, recurse: bool = True) -> None:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            targets = [f"{base}.{a.name}" for a in node.names if a.name != "*"] + [base]
        elif isinstance(node, ast.Call) and _literal_import(node):
            targets = [_literal_import(node)]
        found.extend(Import(module, rel, node.lineno, t, top) for t in targets if t)
        if recurse:
            visit(node, top)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=rel), True)
    return found


def all_imports(root: Path) -> list[Import]:
    return [imp for path in python_files(root) for imp in imports_of(root, path)]


def _top(name: str) -> str:
    return name.split(".")[0]


def direction_violations(imports: list[Import]) -> list[str]:
    bad, seen = [], set()
    for imp in imports:
        src, dst = _top(imp.module), _top(imp.target)
        if (imp.file, imp.line, dst) in seen:
            continue                                  # one report per import statement
        seen.add((imp.file, imp.line, dst))
        if dst in LAYERS and src != dst and LAYERS[dst] > LAYERS[src]:
            kind = "a face" if dst in FACES else f"layer {dst}"
            bad.append(f"{imp.file}:{imp.line}: {src} imports {imp.target} ({kind}, above it)")
    return bad


def heavy_modules(imports: list[Import], package: str) -> set[str]:
    """Modules of `package` that load torch/transformers on import, directly or by a chain of
    top-level imports."""
    edges: dict[str, set[str]] = {}
    heavy: set[str] = set()
    for imp in imports:
        if _top(imp.module) != package or not imp.top_level:
            continue
        if _top(imp.target) in HEAVY:
            heavy.add(imp.module)
        parts = imp.target.split(".")
        # `import a.b.c` runs a, a.b and a.b.c: each prefix is an edge.
        edges.setdefault(imp.module, set()).update(
            ".".join(parts[:i]) for i in range(1, len(parts) + 1))
    changed = True
    while changed:
        changed = False
        for module, targets in edges.items():
            if module not in heavy and targets & heavy:
                heavy.add(module)
                changed = True
    return heavy


def torch_violations(imports: list[Import]) -> list[str]:
    bad = []
    heavy_workloads = heavy_modules(imports, "workloads")
    if "workloads" in heavy_workloads:
        bad.append("workloads/__init__.py: `import workloads` loads torch or transformers "
                   f"(through {', '.join(sorted(heavy_workloads - {'workloads'}))})")
    for imp in imports:
        if _top(imp.module) not in NEVER_HEAVY:
            continue
        if _top(imp.target) in HEAVY:
            bad.append(f"{imp.file}:{imp.line}: {imp.module} imports {imp.target}")
        elif imp.target in heavy_workloads and imp.target != "workloads":
            bad.append(f"{imp.file}:{imp.line}: {imp.module} imports {imp.target}, which "
                       "loads torch")
    return bad


# --- the rules, on this repository ---

@functools.cache
def repo_imports() -> tuple[Import, ...]:
    return tuple(all_imports(ROOT))


def test_files_are_found():
    files = {module_name(ROOT, p) for p in python_files(ROOT)}
    assert {"hwspecs.load", "hwspecs.registry", "archsim", "archsim_cli.specs"} <= files


def test_imports_point_one_way():
    bad = direction_violations(list(repo_imports()))
    assert not bad, "imports against ARCHITECTURE.md's direction:\n" + "\n".join(bad)


def test_hwspecs_imports_nothing_of_ours():
    ours = [f"{i.file}:{i.line}: {i.target}" for i in repo_imports()
            if _top(i.module) == "hwspecs" and _top(i.target) in LAYERS
            and _top(i.target) != "hwspecs"]
    assert not ours


def test_no_torch_where_it_must_not_be():
    bad = torch_violations(list(repo_imports()))
    assert not bad, "torch/transformers where they must not load:\n" + "\n".join(bad)


def _import_in_subprocess(modules: list[str]) -> list[str]:
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [m for m in done.stdout.strip().split(",") if m]


def test_import_simulator_hwspecs_workloads_loads_no_torch():
    packages = ["simulator", "hwspecs", "workloads"]
    assert all((ROOT / p / "__init__.py").is_file() for p in packages)
    assert _import_in_subprocess(packages) == []


@pytest.mark.parametrize("package", LIGHT_PACKAGES)
def test_every_light_module_imports_without_torch(package):
    assert (ROOT / package / "__init__.py").is_file(), f"{package}/__init__.py is missing"
    imports = list(repo_imports())
    heavy = heavy_modules(imports, package)
    modules = sorted(m for m in (module_name(ROOT, p) for p in python_files(ROOT))
                     if _top(m) == package and m not in heavy)
    assert package in modules
    assert _import_in_subprocess(modules) == []


# --- the checker itself, on a made-up tree with one of each mistake ---

BAD_TREE = {
    "hwspecs/__init__.py": "",
    "hwspecs/load.py": "from workloads.op import Op\n",
    "workloads/__init__.py": "from workloads import trace\n",
    "workloads/trace.py": "from . import record\n",
    "workloads/record.py": "import torch.nn\n",
    "workloads/lazy.py": "def f():\n    import transformers\n",
    "workloads/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    import torch\n",
    "simulator/__init__.py": "",
    "simulator/roofline.py": "import numpy\n\ndef g():\n    from workloads import record\n",
    "simulator/fast.py": "import importlib\nimportlib.import_module('torch')\n",
    "validation/bench.py": "from simulator import roofline\nimport archsim_cli.specs\n",
    "archsim_cli/specs.py": "import validation.bench\nfrom app_pages import x\n",
    "app_pages/x.py": "from ..app_pages import y\n",
}


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_checker_finds_each_wrong_import(tmp_path):
    imports = all_imports(_write_tree(tmp_path, BAD_TREE))
    assert direction_violations(imports) == [
        "hwspecs/load.py:1: hwspecs imports workloads.op.Op (layer workloads, above it)",
        "validation/bench.py:2: validation imports archsim_cli.specs (a face, above it)",
    ]
    assert heavy_modules(imports, "workloads") == {"workloads", "workloads.trace",
                                                   "workloads.record"}
    bad = torch_violations(imports)
    assert bad[0].startswith("workloads/__init__.py: `import workloads` loads torch")
    assert bad[1:] == [
        "simulator/fast.py:2: simulator.fast imports torch",
        "simulator/roofline.py:4: simulator.roofline imports workloads.record, which loads torch",
    ]


def test_checker_passes_a_clean_tree(tmp_path):
    clean = {k: v for k, v in BAD_TREE.items()
             if k not in ("hwspecs/load.py", "workloads/__init__.py", "simulator/roofline.py",
                          "simulator/fast.py", "validation/bench.py")}
    imports = all_imports(_write_tree(tmp_path, clean))
    assert direction_violations(imports) == [] and torch_violations(imports) == []
    lazy = [i for i in imports if i.target == "transformers"]
    typed = [i for i in imports if i.module == "workloads.typed" and i.target == "torch"]
    assert [i.top_level for i in lazy + typed] == [False, False]
