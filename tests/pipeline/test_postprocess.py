"""Pipeline step on its own, fast (no kernel): postprocess: one notebook from the profile runs, nbgrader's last steps."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nbformat

from autograder.pipeline.steps import postprocess

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def _run(cells_outputs, plan, outcome="ok", detail=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x") for _ in cells_outputs])
    for c, outs in zip(nb.cells, cells_outputs):
        c.outputs = outs
    return SimpleNamespace(nb=nb, resources={}, plan=plan, outcome=outcome, detail=detail, notes=[],
                           kernel_start_s=0.0)


def test_postprocess_merges_the_judged_cells_of_every_run():
    err = [nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[])]
    ok = [nbformat.v4.new_output("stream", name="stdout", text="passed")]
    side = _run([[], ok, []], {0: "kernel", 1: "judge", 2: "skip"}, "timeout", "cell x timed out")
    main = _run([[], [], err], {0: "kernel", 1: "skip", 2: "judge"})
    nb, _ = postprocess.merge_runs([side, main])
    assert nb.cells[1].outputs == ok and nb.cells[2].outputs == err
    assert postprocess.outcome_of([side, main]) == ("timeout", "cell x timed out")
    assert postprocess.outcome_of([main]) == ("ok", None)


def test_postprocess_drops_the_expected_checksum_warnings():
    msgs = ["Checksum for grade cell test_task99_2 has changed! ... 'checksum' for cell test_task99_2 ",
            "Notebook has been tampered with"]
    assert postprocess.nbgrader_warnings(["'checksum' for cell test_task99_2 changed"], ("test_task99_2",)) == []
    assert postprocess.nbgrader_warnings(msgs[1:], ()) == ["Notebook has been tampered with"]
