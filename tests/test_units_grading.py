"""Every unit, graded for real: ``course autograde`` on a fresh instance, sandbox on, 2 workers.

One grading run per unit grades these submissions, built from the committed student release:

* ``reference``: the instructor's solution filled into the release: every task at full points;
* ``blank``: the release as handed out: every task 0;
* ``alt-K``: the K-th correct alternative of every task that has one (the rest the solution):
  every task at full points;
* ``mut-K``: the K-th named mutant of every task that has one, all in one notebook: each mutated
  task loses its points and no other task loses any (a bug costs its own task only, which is
  also why one notebook can carry a mutant in every task);
* ``short-K``: the K-th shortcut (a solution that imports what its task's ``course.forbid`` rules
  out): that task 0, the rest full.

A unit takes part by having ``tests/mutants/unitNN.py`` (``UNIT``, ``NOTEBOOK``, ``MUTANTS``,
``CORRECT_ALTERNATIVES``, optional ``NAMED`` (task, name) pairs, which then are the mutants graded
here, and optional ``SHORTCUTS``): a new unit inherits this test by construction. Written questions
(manually graded) are left out of the comparison: autograding leaves them to the instructor.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import nbformat
import pytest

from autograder.runtime.sandbox import can_isolate

REPO = Path(__file__).resolve().parents[1]
WRITTEN = re.compile(r"^q\d+_\d+$")

pytestmark = [pytest.mark.slow]


def _unit_modules() -> list:
    mods = []
    for path in sorted((REPO / "tests" / "mutants").glob("unit[0-9]*.py")):
        mod = importlib.import_module(f"tests.mutants.{path.stem}")
        if hasattr(mod, "UNIT") and (REPO / "notebooks" / "assignments" / mod.UNIT / mod.NOTEBOOK).is_file():
            mods.append(mod)
    return mods


UNITS = _unit_modules()


def _packs(items, tasks) -> list[dict]:
    """Submissions as {task: item}: the K-th item of every task in pack K."""
    by_task: dict[str, list] = {}
    for item in items:
        by_task.setdefault(item.task, []).append(item)
    n = max((len(v) for v in by_task.values()), default=0)
    return [{t: by_task[t][k] for t in tasks if len(by_task.get(t, [])) > k} for k in range(n)]


def submissions(mod) -> dict[str, tuple[nbformat.NotebookNode, dict]]:
    """student -> (notebook, {task: what was put there}) for one unit."""
    from autograder import synth

    release = synth.read(REPO / "notebooks" / "assignments" / mod.UNIT / mod.NOTEBOOK)
    source = synth.read(REPO / "solutions" / mod.UNIT / mod.NOTEBOOK)
    sols = synth.solution_sources(source)
    tasks = synth.task_ids(release)
    named = getattr(mod, "NAMED", None)
    mutants = [m for m in mod.MUTANTS if named is None or (m.task, m.name) in set(named)]
    out = {"reference": (synth.with_sources(release, sols), {}), "blank": (synth.blank(release), {})}
    for prefix, items in (("alt", mod.CORRECT_ALTERNATIVES), ("mut", mutants),
                          ("short", getattr(mod, "SHORTCUTS", []))):
        for k, pack in enumerate(_packs(items, tasks), start=1):
            out[f"{prefix}-{k}"] = (synth.with_sources(release, {**sols, **{t: m.source for t, m in pack.items()}}),
                                    pack)
    return out


@pytest.mark.skipif(not can_isolate(), reason="the sandbox (own uid, modules taken away) needs root, as CI has")
@pytest.mark.xdist_group("units-grading")
@pytest.mark.parametrize("mod", UNITS, ids=[m.UNIT for m in UNITS])
def test_unit_graded_end_to_end(mod, tmp_path):
    from autograder.commands.autograde import autograde
    from autograder.course import Course
    from autograder.instance import Instance, grades_table

    inst = Instance(tmp_path / "instance", course=Course(REPO)).init([mod.UNIT])
    subs = submissions(mod)
    for sid, (nb, _) in subs.items():
        d = inst.submitted_dir(sid, mod.UNIT)
        d.mkdir(parents=True)
        (d / mod.NOTEBOOK).write_text(nbformat.writes(nb))
    summary = autograde(inst, mod.UNIT, workers=2, progress=False, cell_timeout=60)
    assert summary.graded == len(subs), summary.line()
    rows = {r["student"]: r for r in grades_table(inst, mod.UNIT)}
    problems = []
    # the written questions reach the gradebook as manually graded cells (what the formgrader lists), with their points
    source = nbformat.read(str(REPO / "solutions" / mod.UNIT / mod.NOTEBOOK), as_version=4)
    written = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in source.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")}
    for sid, row in rows.items():
        listed = {t: m for t, (_, m) in row["tasks"].items() if WRITTEN.match(t)}
        if listed != written:
            problems.append(f"{sid}: written questions in the gradebook {listed}, expected {written}")
    for sid, (_, pack) in subs.items():
        tasks = {t: v for t, v in rows[sid]["tasks"].items() if not WRITTEN.match(t)}
        status = next(r for r in summary.records if r.student == sid)
        for task, (score, max_score) in tasks.items():
            if sid == "blank":
                want_full = False
            elif sid.startswith(("mut-", "short-")):
                want_full = task not in pack
            else:
                want_full = True
            ok = (score == max_score) if want_full else (score < max_score)
            if sid == "blank":
                ok = score == 0
            if not ok:
                what = f" ({pack[task].name})" if task in pack else ""
                problems.append(f"{sid}: {task}{what} scored {score}/{max_score}, expected "
                                f"{'full points' if want_full else 'less than full' if sid != 'blank' else 0}"
                                f" [{status.status}: {status.error}]")
    assert not problems, "\n".join(problems)
