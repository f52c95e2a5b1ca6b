"""Each step of the grading pipeline on its own, fast (no kernel): intake, spec, sanitize, the plan of
a run, postprocess and the resume state. The slow tests grade for real (test_autograde.py)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from autograder.pipeline.job import GradeJob
from autograder.pipeline.spec import forbids, kernel_modules, read_spec
from autograder.pipeline.state import submission_hash
from autograder.pipeline.steps import intake, postprocess
from autograder.pipeline.steps.execute import plan_for

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "course"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


# ------------------------------------------------------------------ intake


def test_intake_copies_the_submission_without_links_ignored_or_huge_files(tmp_path):
    sub, src, work = tmp_path / "sub", tmp_path / "src", tmp_path / "work"
    for d in (sub, src, work):
        d.mkdir()
    (sub / "99_tiny.ipynb").write_text("{}")
    (sub / "notes.txt").write_text("mine")
    (sub / "big.bin").write_bytes(b"x" * 3000)
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "a.pyc").write_bytes(b"")
    (sub / "secret.ipynb").symlink_to(SOURCE)
    (sub / "json.py").write_text("raise SystemExit")      # would shadow the standard library
    (src / "data.csv").write_text("from the instructor")
    (sub / "data.csv").write_text("from the student")
    job = GradeJob("s", "99_tiny", str(sub), str(src), ["99_tiny"], "sqlite://", max_file_size=2)
    shadowing = intake.prepare(job, work)
    names = sorted(p.name for p in work.iterdir())
    assert names == ["99_tiny.ipynb", "data.csv", "notes.txt"], names
    assert shadowing == ["json.py"]
    assert (work / "data.csv").read_text() == "from the instructor"


def test_intake_from_remote_files(tmp_path):
    job = GradeJob("s", "u", str(tmp_path / "nowhere"), str(tmp_path / "nosrc"), ["u"], "sqlite://",
                   files={"u.ipynb": b"{}", "sub/x.txt": b"1"})
    intake.prepare(job, tmp_path)
    assert (tmp_path / "sub" / "x.txt").read_bytes() == b"1"


# ------------------------------------------------------------------ the unit's spec


def test_spec_reads_setup_tasks_references_and_profiles():
    spec = read_spec(_read(SOURCE), "99_tiny")
    assert "import math" in spec.setup
    assert [t.task for t in spec.tasks] == ["task99_1", "task99_2", "task99_3"]
    assert "return a + b" in spec.reference()["task99_1"]
    # task99_2 forbids `statistics`: two profiles, the one holding the last test runs the whole notebook
    assert [p.forbid for p in spec.profiles] == [("statistics",), ()]
    assert spec.profiles[-1].tasks == ("task99_1", "task99_3")
    assert spec.earlier_tasks("task99_3") == ["task99_1", "task99_2"]
    assert kernel_modules(spec, spec.profiles[0])[0] == "course_lib.agent"
    assert forbids("torch.nn.functional", ("torch",)) and not forbids("torchvision", ("torch",))


def test_the_plan_sends_tests_to_the_judge_and_skips_other_profiles():
    nb = _read(RELEASE)
    spec = read_spec(_read(SOURCE), "99_tiny")
    stats, main = spec.profiles
    gid = {i: c.metadata.get("nbgrader", {}).get("grade_id") for i, c in enumerate(nb.cells)}
    plan = plan_for(nb, spec, main, main=True)
    assert {gid[i]: a for i, a in plan.items() if a == "judge"} == {"test_task99_1": "judge", "test_task99_3": "judge"}
    assert [gid[i] for i, a in plan.items() if a == "skip"] == ["test_task99_2"]
    side = plan_for(nb, spec, stats, main=False)
    assert [gid[i] for i, a in side.items() if a == "judge"] == ["test_task99_2"]
    last = max(i for i, a in side.items() if a == "judge")
    assert all(a == "skip" for i, a in side.items() if i > last), "nothing after its last test runs"


# ------------------------------------------------------------------ postprocess


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


# ------------------------------------------------------------------ resume state


def test_submission_hash_follows_content_not_ignored_files(tmp_path):
    (tmp_path / "a.ipynb").write_text("1")
    h1 = submission_hash(tmp_path)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("junk")
    assert submission_hash(tmp_path) == h1
    (tmp_path / "a.ipynb").write_text("2")
    assert submission_hash(tmp_path) != h1
    assert submission_hash(tmp_path, extra="v2") != submission_hash(tmp_path)


# ------------------------------------------------------------------ sanitize (nbgrader's pass, on a gradebook)


@pytest.mark.slow
def test_sanitize_puts_back_hidden_tests_and_a_deleted_grade_cell(tmp_path):
    import logging

    sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
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
