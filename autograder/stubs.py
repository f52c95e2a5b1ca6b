"""The NameStubs preprocessor (module-level so a Config that names it pickles to workers)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.cells import course_metadata, nbgrader_metadata

if TYPE_CHECKING:

    from nbformat import NotebookNode


class NameStubs(NbGraderPreprocessor):
    """Rewrite ClearSolutions' ``raise NotImplementedError()`` to name the task.

    Uses the cell's ``course`` metadata (task id and title), falling back to
    the nbgrader grade_id, so the stub, the grade_id, the tests and the
    feedback all carry the same task id (minitorch's habit).  nbgrader's own
    stub is one fixed string for every cell.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        nbg = nbgrader_metadata(cell)
        if cell.cell_type == "code" and nbg.get("solution"):
            meta = course_metadata(cell)
            task = meta.get("task") or nbg.get("grade_id", "this task")
            title = meta.get("title") or "the solution"
            msg = f"{task}: implement {title} here"
            cell.source = cell.source.replace(
                "raise NotImplementedError()", f"raise NotImplementedError({json.dumps(msg)})"
            )
        return cell, resources
