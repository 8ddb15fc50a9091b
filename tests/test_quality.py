"""The project's own checks, run by CI with the tests: lint, format and types."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return [str(exe)]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return [found]


def test_ruff_lint():
    p = subprocess.run([*_tool("ruff"), "check", "."], cwd=REPO, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr


def test_ruff_format():
    p = subprocess.run(
        [*_tool("ruff"), "format", "--check", "."], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.slow
def test_mypy():
    p = subprocess.run([*_tool("mypy")], cwd=REPO, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
