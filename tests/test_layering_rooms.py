"""Inside each package the sub-packages (rooms) are layered too, nothing imports in a circle,
and the faces reach the simulator only through its public API (docs/architecture.md).

- simulator: core <- comm <- parallel <- {training, inference} <- {serving, planner, sweep}
- workloads: {catalog_ids, config_check} <- {op, config} <- {raw, summary} <- {trace, ops} <- lower
- validation: measure <- fit <- compare
A module may import its own room and rooms below it; `simulator/__init__.py`, the public API,
stands above every room. Circles are found over every import, lazy ones included.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from tests.test_layering import FACES, ROOT, Import, all_imports, module_name, python_files

ROOMS = {
    "simulator": {"core": 0, "comm": 1, "parallel": 2, "training": 3, "inference": 3,
                  "serving": 4, "planner": 4, "sweep": 4},
    "workloads": {"catalog_ids": -1, "config_check": -1, "op": 0, "config": 0, "raw": 1,
                  "summary": 1, "trace": 2, "ops": 2, "lower": 3},
    "validation": {"measure": 0, "fit": 1, "compare": 2},
}
PUBLIC_API = "simulator"


def _room(module: str) -> tuple[str, str] | None:
    parts = module.split(".")
    if parts[0] not in ROOMS or len(parts) < 2:
        return None
    return parts[0], parts[1]


def room_violations(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        src, dst = _room(imp.module), _room(imp.target)
        if src is None or dst is None or src[0] != dst[0] or src[1] == dst[1]:
            continue
        levels = ROOMS[src[0]]
        if src[1] not in levels or dst[1] not in levels:
            bad.append(f"{imp.file}:{imp.line}: {imp.module} or {imp.target} is in no room")
        elif levels[dst[1]] >= levels[src[1]]:
            bad.append(f"{imp.file}:{imp.line}: {src[0]}.{src[1]} imports {imp.target} "
                       f"({src[0]}.{dst[1]}, not below it)")
    return bad


def face_violations(imports: list[Import]) -> list[str]:
    return [f"{i.file}:{i.line}: {i.module} imports {i.target}; faces use `{PUBLIC_API}` only"
            for i in imports if i.module.split(".")[0] in FACES
            and i.target.split(".")[:1] == [PUBLIC_API]
            and i.target.split(".")[1:2] and i.target.split(".")[1] in ROOMS[PUBLIC_API]]


def import_cycles(root: Path, imports: list[Import]) -> list[list[str]]:
    """Circles among modules, over every import (lazy ones too); importing a package's own
    `__init__` from inside it is not an edge."""
    modules = {module_name(root, p) for p in python_files(root)}
    graph = nx.DiGraph()
    for imp in imports:
        target = imp.target
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if not target or target == imp.module or imp.module.startswith(target + "."):
            continue
        graph.add_edge(imp.module, target)
    return sorted(sorted(c) for c in nx.simple_cycles(graph) if len(c) > 1)


def test_rooms_import_only_rooms_below_them():
    bad = room_violations(all_imports(ROOT))
    assert not bad, "imports against the rooms' order:\n" + "\n".join(bad)


def test_no_import_circles():
    cycles = import_cycles(ROOT, all_imports(ROOT))
    assert not cycles, f"import circles: {cycles}"


def test_faces_use_only_the_public_simulator_api():
    bad = face_violations(all_imports(ROOT))
    assert not bad, "\n".join(bad)


def test_every_room_is_a_folder_or_module():
    for package, rooms in ROOMS.items():
        for room in rooms:
            assert (ROOT / package / room).is_dir() or (ROOT / package / f"{room}.py").is_file(), \
                f"{package}.{room}"
        children = {p.name.removesuffix(".py") for p in (ROOT / package).iterdir()
                    if (p.suffix == ".py" and p.name != "__init__.py")
                    or (p.is_dir() and (p / "__init__.py").exists())}
        assert children <= set(rooms), f"{package} holds {children - set(rooms)} outside a room"


BAD = {
    "simulator/__init__.py": "from simulator.sweep import run\n",
    "simulator/core/__init__.py": "",
    "simulator/core/price.py": "from simulator.sweep import run\n",
    "simulator/sweep/__init__.py": "",
    "simulator/sweep/run.py": "from simulator.core import price\n",
    "workloads/__init__.py": "",
    "workloads/ops/__init__.py": "",
    "workloads/ops/a.py": "def f():\n    from workloads.ops import b\n",
    "workloads/ops/b.py": "from workloads.ops import a\n",
    "archsim_cli/x.py": "from simulator.core.price import price\nfrom simulator import simulate\n",
}


def test_checkers_find_each_mistake(tmp_path):
    for rel, text in BAD.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    imports = all_imports(tmp_path)
    assert room_violations(imports) == [
        "simulator/core/price.py:1: simulator.core imports simulator.sweep.run "
        "(simulator.sweep, not below it)",
        "simulator/core/price.py:1: simulator.core imports simulator.sweep "
        "(simulator.sweep, not below it)"]
    assert import_cycles(tmp_path, imports) == [
        ["simulator.core.price", "simulator.sweep.run"], ["workloads.ops.a", "workloads.ops.b"]]
    assert face_violations(imports) == [
        "archsim_cli/x.py:1: archsim_cli.x imports simulator.core.price.price; faces use "
        "`simulator` only",
        "archsim_cli/x.py:1: archsim_cli.x imports simulator.core.price; faces use "
        "`simulator` only"]
