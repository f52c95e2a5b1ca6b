"""Shared pytest set-up: headless plotting, the venv's tools on PATH."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Plots render off-screen; nbgrader runs `alembic` from the venv's bin directory.
os.environ.setdefault("MPLBACKEND", "Agg")
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


# The fixture course's notebooks are inputs of the grader tests, not notebooks
# for nbval to execute (its release's stubs raise by design).
collect_ignore = ["fixtures"]
