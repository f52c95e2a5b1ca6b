"""Pipeline step on its own (no kernel, no worker): record, the one writer. A worker's result becomes
the autograded folder, the gradebook's scores and the resume state, in one transaction; a worker that
failed leaves the earlier grades and state alone."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"


def _graded(release: nbformat.NotebookNode, failing: str) -> str:
    """The release as a worker hands it back: every test passed but ``failing``, which raised."""
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == failing:
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="wrong", traceback=[])]
    return nbformat.writes(nb)


@pytest.mark.slow
def test_record_writes_the_folder_the_scores_and_the_state_and_a_failed_worker_changes_nothing(tmp_path):
    sys.path.insert(0, str(FIXTURE.parent))
    import course_helpers as H

    from autograder.pipeline.job import GradeJob, GradeResult, NotebookResult
    from autograder.pipeline.record import record_result
    from autograder.pipeline.state import load_state

    inst = H.make_instance(tmp_path / "inst", students={"perfect"})
    release = nbformat.read(str(inst.root / "release" / H.UNIT / f"{H.UNIT}.ipynb"), as_version=4)
    job = GradeJob("perfect", H.UNIT, str(inst.submitted_dir("perfect", H.UNIT)), str(inst.source_dir / H.UNIT),
                   [H.UNIT], inst.db_url)
    assert load_state(inst, H.UNIT) == {}          # as a run starts: its resume state read (and its table made)
    ok = GradeResult("perfect", H.UNIT, [NotebookResult(H.UNIT, "ok", _graded(release, "test_task99_2"))])
    record_result(inst, ok, job, "hash-1")

    graded = inst.autograded_dir("perfect", H.UNIT) / f"{H.UNIT}.ipynb"
    assert "AssertionError" in graded.read_text()                  # the worker's notebook, as it came back
    cells = H.scores(inst)["perfect"]
    assert cells["test_task99_2"][0] == 0 and cells["test_task99_1"][0] == cells["test_task99_1"][1] > 0
    assert load_state(inst, H.UNIT)["perfect"] == ("hash-1", "ok")

    crashed = GradeResult("perfect", H.UNIT, [NotebookResult("*", "error", error="worker error: boom")])
    record_result(inst, crashed, job, "hash-2")
    assert H.scores(inst)["perfect"] == cells                       # earlier grades kept
    assert load_state(inst, H.UNIT)["perfect"] == ("hash-1", "ok")  # not recorded as done: the next run retries
