"""Parallel autograding of the fixture unit: exact scores, failures, resume, equality with nbgrader."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]


def test_solution_scores_100_and_release_scores_0():
    inst, _ = H.graded_instance()
    pts = H.task_points(inst)
    assert pts["perfect"] == H.EXPECTED["perfect"] and sum(pts["perfect"].values()) == 100
    assert all(v == 0 for v in pts["blank"].values()), pts["blank"]


def test_every_case_scores_exactly_the_expected_points():
    inst, summary = H.graded_instance()
    assert summary.graded == len(H.EXPECTED) and summary.skipped == 0
    assert H.task_points(inst) == H.EXPECTED


def test_failures_are_recorded_and_the_run_goes_on():
    inst, summary = H.graded_instance()
    status = {r.student: r for r in summary.records}
    assert status["malformed"].status == "error" and "malformed notebook" in status["malformed"].error
    assert status["loop"].status == "timeout"
    assert status["dies"].status == "kernel_died"
    for sid in ("perfect", "blank", "partial", "mutant", "raises"):
        assert status[sid].status == "ok", status[sid]
    lines = [json.loads(line) for line in inst.log_path.read_text().splitlines()]
    assert {ln["student"] for ln in lines} == set(H.EXPECTED)
    for ln in lines:
        assert {"student", "notebook", "seconds", "status", "error"} <= set(ln)
    assert next(ln for ln in lines if ln["student"] == "malformed")["error"].startswith("malformed notebook")


def test_autograded_notebook_has_hidden_tests_restored_and_one_submission_each():
    inst, _ = H.graded_instance()
    text = (inst.autograded_dir("perfect", H.UNIT) / f"{H.UNIT}.ipynb").read_text()
    assert "hidden_sentinel_mean" in text  # OverwriteCells put the hidden tests back before execution
    assert not (inst.autograded_dir("malformed", H.UNIT) / f"{H.UNIT}.ipynb").exists()
    with inst.gradebook() as gb:
        subs = gb.find_assignment(H.UNIT).submissions
        assert sorted(s.student.id for s in subs) == sorted(H.EXPECTED)
        assert all(len(nb.grades) == 3 for s in subs for nb in s.notebooks)


def test_resume_regrades_only_changed_and_force_regrades_all(tmp_path):
    from autograder.commands.autograde import autograde

    inst = H.make_instance(tmp_path / "inst", students={"perfect", "blank", "partial"})
    first = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert (first.graded, first.skipped) == (3, 0)
    again = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert (again.graded, again.skipped) == (0, 3)
    # the student resubmits a full solution: only that submission is regraded
    shutil.copyfile(inst.submitted_dir("perfect", H.UNIT) / f"{H.UNIT}.ipynb",
                    inst.submitted_dir("partial", H.UNIT) / f"{H.UNIT}.ipynb")
    changed = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert (changed.graded, changed.skipped) == (1, 2)
    assert [r.student for r in changed.records if r.status != "skipped"] == ["partial"]
    assert H.task_points(inst)["partial"] == H.EXPECTED["perfect"]
    forced = autograde(inst, H.UNIT, workers=2, force=True, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert (forced.graded, forced.skipped) == (3, 0)
    with inst.gradebook() as gb:  # regrading doubles nothing
        subs = gb.find_assignment(H.UNIT).submissions
        assert len(subs) == 3 and all(len(nb.grades) == 3 for s in subs for nb in s.notebooks)


COMPARABLE = ["perfect", "blank", "partial", "mutant", "loop", "raises"]


def test_grades_equal_nbgrader_autograde_with_1_and_2_workers(tmp_path):
    """Cell by cell (grade_id, auto_score, max_score): nbgrader autograde vs ours with --workers 1 and 2."""
    from autograder.commands.autograde import autograde

    inst = H.make_instance(tmp_path / "inst", students=set(COMPARABLE))
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "nbgrader"), "autograde", H.UNIT,
         f"--Execute.timeout={H.CELL_TIMEOUT}"],
        cwd=inst.root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference = H.scores(inst)
    assert sorted(reference) == sorted(COMPARABLE)
    ours1 = autograde(inst, H.UNIT, workers=1, force=True, cell_timeout=H.CELL_TIMEOUT, progress=False,
                      warm_kernels=False)
    assert ours1.graded == len(COMPARABLE)
    workers1 = H.scores(inst)
    graded2, _ = H.graded_instance()  # the whole cohort, graded with 2 workers (warm kernels)
    workers2 = {s: c for s, c in H.scores(graded2).items() if s in COMPARABLE}
    assert workers1 == reference
    assert workers2 == reference


def test_dask_local_cluster_gives_the_same_grades(tmp_path):
    from autograder.commands.autograde import autograde

    students = ["perfect", "partial", "dies", "malformed"]
    inst = H.make_instance(tmp_path / "inst", students=set(students))
    summary = autograde(inst, H.UNIT, workers=1, cluster="local", cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert "Dask" in summary.executor and summary.graded == len(students)
    graded2, _ = H.graded_instance()
    assert H.scores(inst) == {s: c for s, c in H.scores(graded2).items() if s in students}
    assert {r.student: r.status for r in summary.records}["dies"] == "kernel_died"


def test_timing_log_measures_per_submission_overhead():
    inst, _ = H.graded_instance()
    lines = [json.loads(line) for line in inst.log_path.read_text().splitlines()]
    ok = [ln for ln in lines if ln["status"] == "ok"]
    assert ok and all(0 <= ln["kernel_start_s"] <= ln["seconds"] for ln in ok)
    assert all(ln["overhead_s"] >= 0 and ln["worker"] for ln in lines)


def test_killing_the_run_loses_no_grade_and_doubles_none(tmp_path):
    """SIGKILL the whole `course autograde` process group mid-run, then resume."""
    import signal
    import time

    from autograder.commands.autograde import autograde
    from autograder.pipeline.state import load_state

    students = ["perfect", "blank", "partial", "mutant", "raises"]
    inst = H.make_instance(tmp_path / "inst", students=set(students))
    course_root = inst.course.root
    course = os.path.join(os.path.dirname(sys.executable), "course")
    proc = subprocess.Popen([course, "--root", str(course_root), "autograde", H.UNIT, "--instance", str(inst.root),
                             "--workers", "1", "--timeout", str(H.CELL_TIMEOUT), "--no-progress"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if inst.log_path.exists() and inst.log_path.read_text().count("\n") >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = load_state(inst, H.UNIT)
    assert 2 <= len(done) <= len(students)
    pts = H.task_points(inst)
    for sid in done:  # what was recorded is complete and right
        assert pts[sid] == H.EXPECTED[sid]
    resumed = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert resumed.skipped == len(done) and resumed.graded == len(students) - len(done)
    assert H.task_points(inst) == {s: H.EXPECTED[s] for s in students}
    with inst.gradebook() as gb:
        subs = gb.find_assignment(H.UNIT).submissions
        assert len(subs) == len(students) and all(len(nb.grades) == 3 for s in subs for nb in s.notebooks)


def test_whole_notebook_time_limit_zeroes_the_cells_it_did_not_reach():
    """The worker function on its own: a 1 s notebook limit stops a slow notebook part-way."""
    from autograder.pipeline.worker import GradeJob, grade_submission

    inst, _ = H.graded_instance()
    slow = inst.root / "slow-submission"
    slow.mkdir()
    nb = nbformat.read(str(inst.submitted_dir("perfect", H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "task99_1":
            cell.source = "import time\ntime.sleep(2)\n" + cell.source
    nbformat.write(nb, str(slow / f"{H.UNIT}.ipynb"))
    from autograder.options import RunOptions

    job = GradeJob(student="perfect", unit=H.UNIT, submission_dir=str(slow), source_dir=str(inst.source_dir / H.UNIT),
                   notebooks=[H.UNIT], db_url=inst.db_url, config=inst.config(),
                   options=RunOptions(cell_timeout=H.CELL_TIMEOUT, notebook_timeout=1.0, warm_kernels=False))
    result = grade_submission(job)
    assert result.status == "timeout" and "notebook time limit" in result.error
    graded = nbformat.reads(result.notebooks[0].nb_json, as_version=4)
    last = [c for c in graded.cells if c.cell_type == "code"][-1]
    assert [o.get("ename") for o in last.outputs] == ["NotebookTimeout"]


def test_a_second_run_on_the_same_instance_is_refused_and_a_killed_swap_is_undone(tmp_path):
    """One writer per gradebook: a concurrent run gets a clear error; folders a killed run
    left half-swapped are restored or removed before the next run grades."""
    from autograder.commands.autograde import autograde
    from autograder.course import CourseError
    from autograder.pipeline.state import run_lock as _run_lock

    inst = H.make_instance(tmp_path / "inst", students={"perfect", "blank"})
    with _run_lock(inst):
        with pytest.raises(CourseError, match=r"another `course autograde` is running .*pid \d+"):
            autograde(inst, H.UNIT, workers=1, cell_timeout=H.CELL_TIMEOUT, progress=False)
    first = autograde(inst, H.UNIT, workers=1, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert first.graded == 2
    # a run killed between moving the old folder aside and moving the new one in
    perfect = inst.autograded_dir("perfect", H.UNIT)
    aside = perfect.parent / f".{H.UNIT}.old-99999"
    perfect.rename(aside)
    half = inst.autograded_dir("blank", H.UNIT).parent / f".{H.UNIT}.tmp-99999"
    half.mkdir()
    again = autograde(inst, H.UNIT, workers=1, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert (again.graded, again.skipped) == (0, 2)
    assert (perfect / f"{H.UNIT}.ipynb").is_file() and not aside.exists() and not half.exists()
