"""The package's import structure: no private name crosses a module boundary (but for the
listed exceptions), and the findings and the run history do not import each other in a cycle.

Built from the source with `ast` (nothing is imported), so it sees imports inside functions
and under ``TYPE_CHECKING`` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

GAIT = Path(__file__).resolve().parents[1] / "gait"


#: (importing module, imported module, name): private names still imported across modules,
#: each with why it stays for now. Keep this list short; a new entry needs a reason.
ALLOWED_PRIVATE: dict[tuple[str, str, str], str] = {}


#: Lines a module of gait/ may hold; modules over it are listed below with a ceiling.
MAX_LINES = 500

#: module -> (ceiling in lines, why it is still over `MAX_LINES`). The list only shrinks: a listed
#: module may not grow past its ceiling (its length when listed plus about 5 %, for work in
#: progress), and an entry whose module is back under `MAX_LINES` (or gone) must be removed.
#: Lower a ceiling when a module shrinks; never add an entry for new code.
LONG_MODULES: dict[str, tuple[int, str]] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(GAIT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(mod: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _typing_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports(*, runtime_only: bool = False) -> list[tuple[str, str, str]]:
    """(module, imported module, name) of every ``from ... import name`` in the package,
    and (module, imported module, "") of every ``import gait...``; ``runtime_only`` leaves out
    the imports under ``if TYPE_CHECKING:``."""
    out = []
    for path in sorted(GAIT.rglob("*.py")):
        mod = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _typing_only(tree) if runtime_only else set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                target = resolve(mod, path.name == "__init__.py", node)
                if target == "gait" or target.startswith("gait."):
                    out += [(mod, target, a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                out += [(mod, a.name, "") for a in node.names if a.name.startswith("gait")]
    return out


def package_of(mod: str) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to itself)."""
    return mod if (GAIT.parent / mod.replace(".", "/") / "__init__.py").exists() else mod.rpartition(".")[0]


def same_package(mod: str, target: str) -> bool:
    """``target`` lies inside the sub-package of gait that ``mod`` belongs to: a package's private
    modules share their helpers (``gait.io._csv`` -> ``gait.io._format``); gait itself is no such
    package, so its top-level modules keep their privates to themselves."""
    pkg = package_of(mod)
    return pkg != "gait" and (target == pkg or target.startswith(pkg + "."))


def private_imports() -> list[tuple[str, str, str]]:
    """Private names (``_x``, not dunders) imported from another gait module; a package
    importing its own private submodules (``from . import _phyphox``) or names from them is its
    own business."""
    found = []
    for mod, target, name in imports():
        if not name.startswith("_") or name.startswith("__"):
            continue
        if (
            f"{target}.{name}" in {m for m, _, _ in imports()}
            or (GAIT.parent / target.replace(".", "/") / f"{name}.py").exists()
        ):
            continue  # a private submodule of the package doing the import
        if target != mod and not same_package(mod, target):
            found.append((mod, target, name))
    return sorted(set(found))


def test_no_private_names_cross_modules():
    found = private_imports()
    print("\nallowed private imports:")
    for key, why in ALLOWED_PRIVATE.items():
        print(f"  {key[0]} <- {key[1]}.{key[2]}: {why}")
    unexpected = [f for f in found if f not in ALLOWED_PRIVATE]
    assert not unexpected, "private names imported across modules:\n" + "\n".join(
        f"  {m} imports {n} from {t}" for m, t, n in unexpected
    )
    stale = [k for k in ALLOWED_PRIVATE if k not in found]
    assert not stale, f"listed exceptions no longer needed: {stale}"


def graph() -> dict[str, set[str]]:
    """Module -> modules it imports when it runs (at import time or inside a function)."""
    g: dict[str, set[str]] = {}
    for mod, target, name in imports(runtime_only=True):
        full = (
            f"{target}.{name}" if name and (GAIT.parent / target.replace(".", "/") / f"{name}.py").exists() else target
        )
        g.setdefault(mod, set()).add(full)
    return g


def reaches(g: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """An import path from ``start`` to ``goal`` (a module or any of its submodules), or None."""
    seen, stack = {start}, [[start]]
    while stack:
        path = stack.pop()
        for nxt in sorted(g.get(path[-1], ())):
            if nxt == goal or nxt.startswith(goal + "."):
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append([*path, nxt])
    return None


def test_faults_and_history_do_not_form_a_cycle():
    """``gait.history`` uses the findings' derived metrics; ``gait.faults`` names the history's
    types in annotations only (under ``TYPE_CHECKING``), which is no cycle at run time."""
    g = graph()
    there = reaches(g, "gait.faults", "gait.history")
    back = reaches(g, "gait.history", "gait.faults")
    assert there is None or back is None, f"cycle: {' -> '.join(there or [])} and {' -> '.join(back or [])}"


def test_the_graph_sees_known_imports():
    """The parser resolves relative imports (so the tests above can fail)."""
    g = graph()
    assert "gait.errors" in g["gait.core.events"] and "gait.session" in g["gait.core.frames"]
    assert reaches(g, "gait.core.pipeline", "gait.core.events") == ["gait.core.pipeline", "gait.core.events"]


CORE_STAGES = (
    "gait.core.activity",
    "gait.core.events",
    "gait.core.filters",
    "gait.core.frames",
    "gait.core.metrics",
    "gait.core.mounting",
    "gait.core.pipeline",
    "gait.core.quality",
    "gait.core.sides",
)


def _targets(path: Path, prefix: str) -> set[str]:
    """Modules starting with ``prefix`` that the file imports (anywhere in it, annotations too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == prefix:
            out.add(node.module or "")
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == prefix}
    return out


def test_the_analysis_does_not_depend_on_calibration():
    """Mounting estimation is a stage of the analysis (`gait.core.mounting`); the calibration package
    builds on the analysis' base modules and never the other way round inside the core."""
    g = graph()
    for mod in CORE_STAGES:
        path = GAIT.parent / (mod.replace(".", "/") + ".py")
        assert path.exists(), mod
        assert not _targets(path, "calibration"), f"{mod} imports the calibration package"
        chain = reaches(g, mod, "gait.cli") or reaches(g, mod, "gait._run")
        assert chain is None, f"a core stage reaches the application layer: {' -> '.join(chain)}"


def test_calibration_uses_only_the_base_of_gait():
    """``calibration`` may use gait's session, errors, constants, checks, readers, writer and the
    mounting stage; never the application layer (CLI, orchestrator, batch, live, report)."""
    app = ("gait.cli", "gait._run", "gait.batch", "gait.live", "gait.report", "gait.history", "gait.faults")
    for path in sorted((GAIT.parent / "calibration").rglob("*.py")):
        bad = [t for t in _targets(path, "gait") if t.startswith(app)]
        assert not bad, f"{path.name} imports {bad}"
        if path.name != "cli.py":
            assert not [t for t in _targets(path, "gait") if t.startswith("gait.core.pipeline")], path.name


def module_lines() -> dict[str, int]:
    """Lines of every module of the product's packages (gait, calibration, firmware_protocol),
    by path relative to the repository."""
    root = GAIT.parent
    return {
        path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for package in ("gait", "calibration", "firmware_protocol")
        for path in sorted((root / package).rglob("*.py"))
    }


def test_modules_stay_small():
    """Each module of the product holds one responsibility in at most `MAX_LINES` lines, but
    for the listed ones, which may not grow past their ceiling and leave the list once under
    the limit."""
    lines = module_lines()
    too_long = [
        f"  {p}: {n} lines (limit {LONG_MODULES.get(p, (MAX_LINES,))[0]})"
        for p, n in lines.items()
        if n > max(MAX_LINES, LONG_MODULES.get(p, (0,))[0])
    ]
    assert not too_long, "modules over their line limit (split them):\n" + "\n".join(too_long)
    stale = [p for p in LONG_MODULES if lines.get(p, 0) <= MAX_LINES]
    assert not stale, f"modules now within {MAX_LINES} lines (remove them from LONG_MODULES): {stale}"


def test_the_line_check_sees_every_module():
    """The check counts real files (so it can fail): every package's modules, the longest
    within a tenth of the limit (the splits were made, not the files hidden)."""
    lines = module_lines()
    assert {p.split("/")[0] for p in lines} == {"gait", "calibration", "firmware_protocol"}
    assert len(lines) > 150 and MAX_LINES * 0.9 < max(lines.values()) <= MAX_LINES
