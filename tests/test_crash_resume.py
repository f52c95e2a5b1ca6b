"""Kill `course autograde` at random moments, rerun until it completes, compare with a clean run.

The grading run is a subprocess (the ``course`` CLI, 2 workers, sandboxed
kernels) in its own process group; SIGKILL goes to the whole group at three
different delays, then the run is repeated until it exits cleanly.  The
gradebook must then equal the one of an uninterrupted run: the same set of
submissions with the same cell scores, one submission (and one resume-state
row) per student, no grade doubled, and no half-written autograded folder
left behind.  The delays come from a seed that the test prints
(``CRASH_SEED=... pytest`` replays a failure).
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]

EXTRA = {"perfect": 4, "mutant": 2, "partial": 2}  # more submissions, so that a kill lands mid-run


def _instance(root: Path):
    inst = H.make_instance(root)
    for sid, copies in EXTRA.items():
        for i in range(copies):
            name = f"{sid}{i + 2}"
            inst.add_student(name, first_name=name.title(), last_name="Tester")
            shutil.copytree(inst.submitted_dir(sid, H.UNIT), inst.submitted_dir(name, H.UNIT))
    return inst


def _course_cmd(inst) -> list[str]:
    course = os.path.join(os.path.dirname(sys.executable), "course")
    return [course, "--root", str(inst.course.root), "autograde", H.UNIT, "--instance", str(inst.root),
            "--workers", "2", "--timeout", str(H.CELL_TIMEOUT), "--no-progress"]


def _gradebook(inst):
    """(scores per student and cell, submission rows per student, grade rows per submission notebook)."""
    from collections import Counter

    from autograder.pipeline.state import load_state

    with inst.gradebook() as gb:
        subs = gb.find_assignment(H.UNIT).submissions
        rows = Counter(s.student.id for s in subs)
        grades = {s.student.id: sorted(g.name for nb in s.notebooks for g in nb.grades) for s in subs}
    return H.scores(inst), rows, grades, load_state(inst, H.UNIT)


def test_killed_runs_resume_to_the_same_gradebook_as_a_clean_run(tmp_path):
    from autograder.commands.autograde import autograde

    seed = int(os.environ.get("CRASH_SEED") or time.time())
    rng = random.Random(seed)
    print(f"\nCRASH_SEED={seed}")
    clean = _instance(tmp_path / "clean")
    autograde(clean, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, progress=False)
    want_scores, want_rows, want_grades, want_state = _gradebook(clean)
    students = sorted(want_rows)
    assert len(students) == len(H.EXPECTED) + sum(EXTRA.values())

    inst = _instance(tmp_path / "killed")
    delays = sorted(rng.uniform(lo, hi) for lo, hi in ((1.0, 3.0), (3.0, 6.0), (6.0, 10.0)))
    kills = 0
    for delay in delays:
        proc = subprocess.Popen(_course_cmd(inst), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
    runs = 0
    while True:  # rerun until a run completes
        runs += 1
        done = subprocess.run(_course_cmd(inst), start_new_session=True, capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            break
        assert runs < 4, done.stderr[-2000:]
    print(f"killed {kills} time(s) at {', '.join(f'{d:.1f}' for d in delays)} s; completed after {runs} more run(s)")

    scores, rows, grades, state = _gradebook(inst)
    assert sorted(rows) == students, "nothing lost"
    assert all(n == 1 for n in rows.values()), f"nothing doubled: {rows}"
    assert grades == want_grades
    assert scores == want_scores
    assert sorted(state) == students and {s: v[1] for s, v in state.items()} == {s: v[1] for s, v in want_state.items()}
    # the kernels of the killed runs did not outlive them (the next run reaps orphans)
    orphans = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kernel = ("ipykernel_launcher" in cmd and "course-kernel-" in cmd) or "course-kernel-template" in cmd
            if kernel and ppid == 1:  # a kernel, or a kernel template (its forks share its command line)
                orphans.append(int(proc.name))
    assert not orphans, f"orphaned kernels left running: {orphans}"
    # the autograded folders were swapped in whole: no half-written copies left next to them
    for sid in students:
        parent = inst.autograded_dir(sid, H.UNIT).parent
        leftovers = [p.name for p in parent.iterdir() if p.name.startswith(f".{H.UNIT}.")]
        assert not leftovers, (sid, leftovers)
