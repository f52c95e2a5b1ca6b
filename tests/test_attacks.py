"""Hostile submissions against unit 01, all graded in ONE run beside honest ones.

Each attack in ``tests/attacks/unit01.py`` must score no more than it
deserves (and, where part of it is honest work, no less), the run must finish
with one record per submission, nothing outside a submission's sandbox may be
read, written or connected to, and the honest submissions graded in the same
run must get exactly the grade they get when graded alone.

One run takes a few minutes on 2 cores (a 10 s cell timeout, a 768 MB memory
cap, 64 processes).  The sandbox's isolation needs root, as CI has; as an
ordinary user the disk and network checks are skipped, not passed vacuously.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder.runtime.sandbox import can_isolate
from tests.attacks import Context
from tests.attacks import unit01 as A

REPO = Path(__file__).resolve().parents[1]
UNIT = A.UNIT
CELL_TIMEOUT = 10
LIMITS = dict(memory_mb=768, max_processes=64, max_output_bytes=200_000)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attacks")]
needs_root = pytest.mark.skipif(not can_isolate(), reason="isolation needs root (CI and grading servers run as root)")


class Canary:
    """A TCP listener on 127.0.0.1 that counts who connects (nobody may)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.5)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.hits += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.sock.close()


def _write(dest: Path, files: dict) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, tuple) and data[0] == "symlink":
            os.symlink(data[1], p)
        else:
            p.write_bytes(data if isinstance(data, bytes) else data.encode())


def _digest(path: Path) -> dict:
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(path))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _task_scores(inst) -> dict:
    from autograder.instance import grades_table

    return {row["student"]: {t: s for t, (s, _m) in row["tasks"].items()} for row in grades_table(inst, UNIT)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The instance with every attack and honest submission, graded once with 2 workers."""
    from autograder import synth
    from autograder.commands.autograde import autograde
    from autograder.course import Course
    from autograder.instance import Instance

    course = Course.find(REPO)
    inst = Instance(tmp_path_factory.mktemp("attacks") / "instance", course=course).init([UNIT])
    release = synth.read(inst.root / "release" / UNIT / A.NOTEBOOK)
    source = synth.read(course.source_notebook(UNIT))
    points = {c.metadata.nbgrader["grade_id"][5:]: c.metadata.nbgrader["points"]
              for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    canary = Canary()
    ctx = Context(release, source, synth.solution_sources(source), A.wrong_sources(), points,
                  str(course.source_notebook(UNIT)), A.NOTEBOOK, canary.port)
    everyone = A.ATTACKS + A.HONEST
    for a in everyone:
        inst.add_student(a.name)
        _write(inst.submitted_dir(a.name, UNIT), a.build(ctx))
    before = {a.name: _digest(inst.submitted_dir(a.name, UNIT)) for a in everyone}
    repo_before = sorted(p.name for p in (REPO / "course_lib").iterdir())
    t0 = time.monotonic()
    summary = autograde(inst, UNIT, workers=2, cell_timeout=CELL_TIMEOUT, notebook_timeout=240, progress=False,
                        **LIMITS)
    seconds = time.monotonic() - t0
    together = _task_scores(inst)
    # the honest ones again, alone (no attack beside them)
    alone_run = autograde(inst, UNIT, students=[h.name for h in A.HONEST], workers=2, force=True,
                          cell_timeout=CELL_TIMEOUT, notebook_timeout=240, progress=False, **LIMITS)
    alone = _task_scores(inst)
    canary.close()
    yield dict(inst=inst, summary=summary, seconds=seconds, together=together, alone=alone, alone_run=alone_run,
               before=before, repo_before=repo_before, canary=canary)


@pytest.mark.parametrize("attack", A.ATTACKS, ids=lambda a: a.name)
def test_attack_scores_no_more_than_it_deserves(run, attack):
    scores = run["together"].get(attack.name)
    assert scores is not None, f"{attack.name}: no submission recorded"
    total = sum(v or 0 for v in scores.values())
    record = next(r for r in run["summary"].records if r.student == attack.name)
    assert total <= attack.max_points, (attack.name, total, scores, record.error)
    assert total >= attack.min_points, (attack.name, total, scores, record.error)
    if attack.statuses:
        assert record.status in attack.statuses, (attack.name, record.status, record.error)
    if record.status != "ok":
        assert record.error, f"{attack.name}: status {record.status} without a recorded reason"


def test_the_run_finishes_with_one_submission_per_student(run):
    summary, inst = run["summary"], run["inst"]
    names = sorted(a.name for a in A.ATTACKS + A.HONEST)
    assert summary.graded == len(names) and sorted(r.student for r in summary.records) == names
    with inst.gradebook() as gb:
        subs = gb.find_assignment(UNIT).submissions
        assert sorted(s.student.id for s in subs) == names
        assert all(s.max_score == 100 for s in subs), "tampered metadata must not change the points"
    print(f"\n{len(names)} submissions graded in {run['seconds']:.0f} s ({summary.executor})")


def test_honest_submissions_get_the_same_grade_as_alone(run):
    for h in A.HONEST:
        together, alone = run["together"][h.name], run["alone"][h.name]
        assert together == alone, (h.name, together, alone)
        assert sum(together.values()) == h.max_points, (h.name, together)


def test_honest_mistakes_lose_exactly_their_task(run):
    """The mistakes issue 2 names, graded for real: each costs its own task's points and no other."""
    assert set(A.HONEST_TASK_POINTS) <= {h.name for h in A.HONEST}
    for name, want in A.HONEST_TASK_POINTS.items():
        assert run["together"][name] == want, (name, run["together"][name])


def test_the_submissions_themselves_are_never_changed(run):
    inst = run["inst"]
    for name, digest in run["before"].items():
        assert _digest(inst.submitted_dir(name, UNIT)) == digest, f"{name}'s submitted files changed"


@needs_root
def test_nothing_outside_the_sandbox_was_written(run):
    assert sorted(p.name for p in (REPO / "course_lib").iterdir()) == run["repo_before"]
    assert not Path("/tmp/pwned_by_attack.txt").exists()
    with run["inst"].gradebook() as gb:  # write_outside tried `update grade set manual_score = 100`
        for s in gb.find_assignment(UNIT).submissions:
            assert all(g.manual_score is None for nb in s.notebooks for g in nb.grades), s.student.id


@needs_root
def test_no_connection_left_the_sandbox(run):
    assert run["canary"].hits == 0


def test_kept_output_is_capped(run):
    graded = run["inst"].autograded_dir("output_flood", UNIT) / A.NOTEBOOK
    if graded.exists():
        assert graded.stat().st_size < 5 * 2**20, graded.stat().st_size
    assert not (run["inst"].autograded_dir("huge_notebook", UNIT) / A.NOTEBOOK).exists()


def test_records_say_what_happened(run):
    rec = {r.student: r for r in run["summary"].records}
    assert "memory cap" in rec["memory_bomb"].error
    assert "could not be interrupted" in rec["loop_sigint"].error
    assert "renamed" in rec["renamed_notebook"].error and "my_solution.ipynb" in rec["renamed_notebook"].error
    assert "symbolic link" in rec["symlink_to_source"].error
    assert "MB limit" in rec["huge_notebook"].error
    assert "malformed notebook: not valid JSON" in rec["invalid_json"].error
    # rebinding the grading helpers in the kernel is harmless (the tests run in the judge, which
    # never reads them there): the log says the submission was graded, as an ordinary one
    lines = [json.loads(ln) for ln in run["inst"].log_path.read_text().splitlines() if '"patch_names"' in ln]
    assert lines and lines[-1]["status"] == "ok" and lines[-1]["error"] is None, lines


def test_graded_notebook_shows_the_students_cells_only(run):
    """The judge's plumbing (the serve loop it runs in the kernel between cells) never reaches the
    autograded notebook, which feeds the feedback: the cells are the release's, in its order."""
    from autograder.pipeline.steps.execute import SERVE_CODE

    text = (run["inst"].autograded_dir("honest_full", UNIT) / A.NOTEBOOK).read_text()
    assert "course_lib.agent" not in text and SERVE_CODE not in text
    nb = nbformat.reads(text, as_version=4)
    release = nbformat.read(str(REPO / "notebooks" / "assignments" / UNIT / A.NOTEBOOK), as_version=4)
    assert [c.get("id") for c in nb.cells] == [c.get("id") for c in release.cells]
