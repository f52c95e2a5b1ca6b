"""Mutants: plausible wrong implementations of graded tasks, and correct alternatives.

Each unit has a module ``tests/mutants/unitNN.py`` defining ``UNIT``, ``NOTEBOOK``,
``MUTANTS`` (each must be killed by its task's test cell) and ``CORRECT_ALTERNATIVES``
(each must pass it). A mutant's ``source`` is the full replacement source of the
task's solution cell.

Optionally ``SHORTCUTS``: solutions that get correct numbers by importing what their task's
``metadata.course.forbid`` rules out (``torch``, ``course_lib.nn``, ``scipy.spatial``...). The
in-process harness cannot take a module away, so they are graded only through the real grader,
where the sandbox refuses the import and the task scores 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from autograder.cells import without_solution_markers

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    """A replacement for the solution cell of ``task`` (e.g. ``"task1_3"``)."""

    task: str
    name: str
    source: str


def solution_source(unit: str, notebook: str, task: str, *, markers: bool = True) -> str:
    """The source of ``task``'s solution cell in ``solutions/<unit>/<notebook>``, read fresh; without
    ``markers``, the BEGIN/END SOLUTION lines dropped (what a student who wrote it hands in)."""
    path = _REPO / "solutions" / unit / notebook
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == task:
            src = cell["source"]
            src = "".join(src) if isinstance(src, list) else src
            return src if markers else without_solution_markers(src)
    raise KeyError(task)


def edited_solution(unit: str, notebook: str, task: str, *pairs: tuple[str, str], markers: bool = True) -> str:
    """``task``'s solution with each ``(old, new)`` replaced; an ``old`` that does not occur exactly
    once raises, so a mutant cannot silently turn into a copy of the solution."""
    src = solution_source(unit, notebook, task, markers=markers)
    for old, new in pairs:
        if src.count(old) != 1:
            raise ValueError(f"{task}: mutant edit {old!r} matches {src.count(old)} times")
        src = src.replace(old, new)
    return src
