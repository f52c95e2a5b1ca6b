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

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """A replacement for the solution cell of ``task`` (e.g. ``"task1_3"``)."""

    task: str
    name: str
    source: str
