"""What importing the package and running the command line load (behaviour, not timing).

The command line starts in a fraction of a second because building its parser imports none
of the numerical stack beyond NumPy; `gait analyze` loads the analysis, but not the batch
runner, the live recorder or the plotting library. Each check runs in
a fresh interpreter, whose ``sys.modules`` says what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gait

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "easy_run.csv.gz"

#: Never needed to build the parser (``gait --help``). (The help of ``gait simulate`` lists
#: the simulator's presets: it imports `gait.simulator` when that help is printed.)
HEAVY = (
    "pandas",
    "scipy",
    "matplotlib",
    "pyarrow",
    "bleak",
    "gait.batch._runner",
    "gait.core.pipeline",
    "gait.faults",
    "gait.simulator",
)
#: Never needed by ``gait analyze FILE`` without --html.
NOT_FOR_ANALYZE = (
    "matplotlib",
    "bleak",
    "gait.batch._runner",
    "gait.live._recorder",
    "gait.validation",
    "gait.simulator",
)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_import_gait_cli_and_build_the_parser_load_nothing_heavy():
    mods = _modules_after("import gait.cli\ngait.cli.build_parser()")
    assert "gait.cli" in mods and "calibration.cli" in mods  # the sub-commands were registered
    assert _loaded(mods, ("scipy.signal", *HEAVY)) == []


def test_help_loads_nothing_heavy():
    code = "import contextlib, io\nfrom gait.cli import main\nwith contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])"
    assert _loaded(_modules_after(code), HEAVY) == []


def test_simulate_help_lists_the_presets(capsys):
    from gait.cli import main
    from gait.simulator import PRESETS

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    assert "presets:" in out and all(f"  {name}: " in out for name in PRESETS)


def test_import_gait_loads_only_the_package():
    mods = _modules_after("import gait")
    assert _loaded(mods, ("numpy", *HEAVY)) == []
    assert sorted(m for m in mods if m.startswith("gait")) == ["gait"]


@pytest.mark.slow
def test_analyze_loads_only_what_it_uses(tmp_path):
    code = (
        "import contextlib, io\nfrom gait.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['analyze', {str(SAMPLE)!r}, '--no-history']) == 0"
    )
    mods = _modules_after(code)
    assert {"gait.core.pipeline", "gait.faults", "scipy.signal"} <= mods  # it did analyse
    assert _loaded(mods, NOT_FOR_ANALYZE) == []


@pytest.mark.parametrize("name", sorted(set(gait.__all__) - {"batch"}))
def test_every_public_name_imports_from_gait(name):
    """``from gait import X`` gives the object its module defines, for every exported name."""
    value = getattr(gait, name)
    module = __import__(f"gait.{gait._EXPORTS[name]}", fromlist=[name])
    assert value is getattr(module, name)
    assert name in dir(gait)


def test_batch_is_the_package_and_runs_the_batch(tmp_path):
    """``gait.batch`` is the package ``gait.batch`` (its modules stay reachable as attributes),
    and calling it runs `gait.batch.batch`: the same refusal of an empty input."""
    import gait.batch

    assert "batch" in gait.__all__ and "batch" not in gait._EXPORTS
    assert gait.batch is sys.modules["gait.batch"]
    assert gait.batch.batch is sys.modules["gait.batch._runner"].batch
    with pytest.raises(gait.GaitInputError) as via_package:
        gait.batch([], out=tmp_path / "a")
    with pytest.raises(gait.GaitInputError) as via_function:
        gait.batch.batch([], out=tmp_path / "b")
    assert str(via_package.value) == str(via_function.value)


def test_stage_modules_stay_reachable_as_attributes():
    """``import gait`` then ``gait.faults.assess`` works (the module is imported on first use)."""
    assert gait.faults.assess is __import__("gait.faults", fromlist=["assess"]).assess
    with pytest.raises(AttributeError, match="no attribute 'not_a_module'"):
        _ = gait.not_a_module
