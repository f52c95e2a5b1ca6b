"""Step 6: one notebook from the profile runs, and nbgrader's last autograde steps.

A notebook whose tasks forbid different modules ran once per profile
(:mod:`autograder.pipeline.steps.execute`); the last run's notebook is kept and
each grade cell judged in another run takes that run's outputs.  Then
nbgrader's IgnorePattern, ClearMetadataPreprocessor and LimitOutput, as its
autograde runs them before SaveAutoGrades (which the parent runs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import IgnorePattern, LimitOutput

if TYPE_CHECKING:
    import logging

    from nbformat import NotebookNode
    from traitlets.config import Config

__all__ = ["merge_runs", "finish", "outcome_of", "nbgrader_warnings"]


def merge_runs(runs: list) -> tuple:
    """(notebook, resources) of the last run, with the grade cells the other runs judged."""
    nb, resources = runs[-1].nb, runs[-1].resources
    for run in runs[:-1]:
        for i, action in run.plan.items():
            if action == "judge" and i < len(nb.cells):
                nb.cells[i].outputs = run.nb.cells[i].outputs
    return nb, resources


def outcome_of(runs: list) -> tuple[str, str | None]:
    """The first run's outcome that is not ok (and its detail), else ("ok", None)."""
    for run in runs:
        if run.outcome != "ok":
            return run.outcome, run.detail
    return "ok", None


def finish(nb: NotebookNode, resources: dict, cfg: Config, log: logging.Logger) -> tuple[NotebookNode, dict]:
    for cls in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        nb, resources = cls(config=cfg, log=log)(nb, resources)
    return nb, resources


def nbgrader_warnings(messages: list[str], hidden_cells: Any) -> list[str]:
    """nbgrader's warnings worth logging: OverwriteCells restoring hidden tests (a checksum
    change on a cell that has them) is the normal mechanism, not news."""
    out = []
    for m in messages:
        first = m.strip().splitlines()[0] if m.strip() else ""
        if not first or any(f"'checksum' for cell {c} " in first for c in hidden_cells):
            continue
        out.append(first[:200])
    return out[:20]
