"""The rooms' layering (DESIGN.md §2): imports point one way.

The shared rooms (store, challenge definitions, model loading, merges, the UI kit, the local Hub) sit below the
four feature rooms; a feature room never imports another feature room, and a shared room never imports a
feature room. Every import is read with ``ast``, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURE_ROOMS = frozenset({"leaderboard", "submissions", "evaluator", "arena"})
SHARED_ROOMS = frozenset({"store", "challenges", "models", "merges", "uikit", "localhub"})
TOOLS = frozenset({"tests"})  # may import any room


def imported_rooms(path: Path) -> dict[str, list[str]]:
    """Top-level package -> the import statements of ``path`` that reach it (as 'line N: module')."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; the rooms import absolutely"
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            found.setdefault(module.split(".")[0], []).append(f"line {node.lineno}: {module}")
    return found


def room_imports(rooms: frozenset[str]) -> dict[str, dict[str, list[str]]]:
    """For each room in ``rooms``: every other project room it imports, with where."""
    project = FEATURE_ROOMS | SHARED_ROOMS
    edges: dict[str, dict[str, list[str]]] = {}
    for room in sorted(rooms):
        for path in sorted((ROOT / room).rglob("*.py")):
            for target, where in imported_rooms(path).items():
                if target in project and target != room:
                    relative = path.relative_to(ROOT).as_posix()
                    edges.setdefault(room, {}).setdefault(target, []).extend(f"{relative} {w}" for w in where)
    return edges


def test_every_package_is_placed_in_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == FEATURE_ROOMS | SHARED_ROOMS | TOOLS


def test_no_feature_room_imports_another_feature_room():
    edges = room_imports(FEATURE_ROOMS)
    crossing = {(room, target): where for room, targets in edges.items() for target, where in targets.items()
                if target in FEATURE_ROOMS}
    assert crossing == {}
    # The scan sees imports at all: every feature room reads the store and the challenge definitions.
    assert all({"store", "challenges"} <= set(edges[room]) for room in FEATURE_ROOMS)


def test_no_shared_room_imports_a_feature_room():
    edges = room_imports(SHARED_ROOMS)
    upward = {(room, target): where for room, targets in edges.items() for target, where in targets.items()
              if target in FEATURE_ROOMS}
    assert upward == {}


def test_the_scan_reports_a_cross_feature_import(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from evaluator.queue import claim\n    import arena.votes as v\n",
                      encoding="utf-8")
    assert imported_rooms(module) == {"evaluator": ["line 2: evaluator.queue"], "arena": ["line 3: arena.votes"]}
