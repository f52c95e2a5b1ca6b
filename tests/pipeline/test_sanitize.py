"""Pipeline step on its own, fast (no kernel): sanitize: nbgrader's pass puts locked cells back from the gradebook."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


@pytest.mark.slow
def test_sanitize_puts_back_hidden_tests_and_a_deleted_grade_cell(tmp_path):
    import logging

    sys.path.insert(0, str(FIXTURE.parent))
    import course_helpers as H

    from autograder.pipeline.steps.sanitize import sanitize

    inst = H.make_instance(tmp_path / "inst", students=set())
    nb = _read(inst.root / "release" / H.UNIT / f"{H.UNIT}.ipynb")
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_task99_3"]
    resources = {"nbgrader": {"student": "s", "assignment": H.UNIT, "notebook": H.UNIT, "db_url": inst.db_url}}
    out, _ = sanitize(nb, resources, inst.config(), logging.getLogger("test"))
    sources = {c.metadata["nbgrader"]["grade_id"]: c.source for c in out.cells if c.metadata.get("nbgrader")}
    assert "hidden_sentinel_add" in sources["test_task99_1"]          # hidden tests back from the gradebook
    assert "test_task99_3" in sources                                   # the deleted grade cell, put back
