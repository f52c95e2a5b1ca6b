"""``course demo``: the instructor's whole job on one unit, on synthetic students.

Throwaway instance (``<root>/instance/demo``, wiped first if it is a former demo instance;
any other non-empty directory is refused) -> >= 20 students
-> synthetic submissions (perfect, blank, partly wrong, raising, an infinite
loop, a malformed file) -> parallel autograde -> the written questions graded
as an instructor would in formgrader -> feedback HTML -> grades CSV -> a table
in the terminal.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
import time
from pathlib import Path
from typing import IO, Any

import nbformat

from autograder import cells, synth
from autograder.commands.autograde import autograde
from autograder.commands.export import export
from autograder.commands.feedback import feedback
from autograder.course import Course, CourseError
from autograder.instance import Instance, grades_table
from autograder.options import DEMO_CELL_TIMEOUT, DEMO_MIN_STUDENTS, DEMO_STUDENTS, RunOptions

DEFAULT_UNIT = "01_linear_classifiers"
MIN_STUDENTS = DEMO_MIN_STUDENTS
# Written into every demo instance: only a directory carrying it is ever wiped, so that
# `--instance` pointed at a real class's instance (or any other directory) cannot destroy it.
MARKER = ".course-demo-instance"


def pick_unit(course: Course, unit: str | None) -> str:
    if unit:
        return course.check_units([unit])[0]
    units = course.units()
    if DEFAULT_UNIT in units:
        return DEFAULT_UNIT
    if not units:
        raise CourseError(f"no units found in {course.solutions}")
    return units[0]


def prepare_instance_dir(root: Path) -> None:
    """Empty ``root`` for a new demo, or refuse: only a former demo instance (it has the marker)
    or an empty directory is used; anything else may be someone's work and is left alone."""
    if root.exists() and not root.is_dir():
        raise CourseError(f"demo instance {root} exists and is not a directory; pass --instance with a new directory")
    if root.is_dir() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise CourseError(f"refusing to wipe {root}: it is not empty and is not a demo instance (no {MARKER}); "
                              "remove it yourself if it is an old demo, or pass --instance with a new or "
                              "empty directory")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by `course demo`; `course demo` wipes and recreates this directory\n")


def run_demo(course: Course, unit: str | None = None, students: int = DEMO_STUDENTS, workers: int | None = None,
             cell_timeout: int = DEMO_CELL_TIMEOUT, instance_dir: Path | None = None, out: IO[str] | None = None,
             progress: bool = RunOptions.progress, **grading_kwargs: Any) -> dict:
    """Run the demo; returns a dict with the instance, summary, rows, feedback paths and CSV path.

    ``out`` (default: ``sys.stdout`` when called, not when this module was imported) gets the report.
    """
    t0 = time.monotonic()
    unit = pick_unit(course, unit)
    students = int(students)
    if students < MIN_STUDENTS:
        raise CourseError(f"--students must be at least {MIN_STUDENTS} (the demo grades a class of at least "
                          f"{MIN_STUDENTS}); got {students}")
    root = Path(instance_dir or course.root / "instance" / "demo").resolve()
    prepare_instance_dir(root)
    out = out or sys.stdout
    say = lambda s="": print(s, file=out, flush=True)
    say(f"course demo: unit {unit}, {students} synthetic students")
    say(f"  instance: {root} (wiped and recreated)")
    inst = Instance(root, course=course).init([unit])
    release = synth.read(root / "release" / unit / f"{unit}.ipynb")
    source = synth.read(course.source_notebook(unit))
    cohort = synth.cohort(release, source, n=students, written=True)
    kinds: dict[str, str] = {}
    stamp = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    for i, (sid, kind, nb) in enumerate(cohort):
        first, last = synth.name_for(i)
        inst.add_student(sid, first_name=first, last_name=last, email=f"{sid}@example.edu")
        d = inst.submitted_dir(sid, unit)
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{unit}.ipynb").write_text(nb if isinstance(nb, str) else nbformat.writes(nb), encoding="utf-8")
        (d / "timestamp.txt").write_text(str(stamp + dt.timedelta(minutes=i)))
        kinds[sid] = kind if len(kind) <= 36 else kind[:35] + "…"
    say(f"  submissions: {root / 'submitted'} ({len(cohort)})")
    summary = autograde(inst, unit, workers=workers, cell_timeout=cell_timeout, progress=progress, **grading_kwargs)
    say(f"  {summary.line()}")
    marked, waiting = grade_written(inst, unit, synth.written_answers(source))
    html = feedback(inst, unit)
    csv_path = export(inst, [unit])
    rows = grades_table(inst, unit)
    status = {r.student: r for r in summary.records}
    _print_table(say, rows, kinds, status)
    written = sorted({t for r in rows for t in r["tasks"] if not t.startswith("task")}, key=_task_key)
    if written:
        pts = sum(rows[0]["tasks"][t][1] for t in written if t in rows[0]["tasks"])
        say(f"  written questions ({', '.join(written)}; {_num(pts)} points): the demo stood in for the "
            f"instructor in formgrader and gave full marks to the {marked} answers that are the model answer; "
            "answers left as released scored 0 when autograded"
            + (f"; {waiting} other answers wait for formgrader" if waiting else ""))
    say()
    say(f"  feedback:    {root / 'feedback'}/<student>/{unit}/{unit}.html ({len(html)} files)")
    say(f"  grades:      {csv_path}")
    say(f"  timing log:  {inst.log_path}")
    say(f"  gradebook:   {inst.db_url}  (nbgrader formgrader works on it: cd {root} && nbgrader formgrader)")
    say(f"  total time:  {time.monotonic() - t0:.1f} s")
    return {"instance": inst, "summary": summary, "rows": rows, "feedback": html, "csv": csv_path, "kinds": kinds}


def grade_written(inst: Instance, unit: str, model: dict[str, str]) -> tuple[int, int]:
    """Play the instructor's part of formgrader for the synthetic class: each written answer that is
    the instructor's model answer (``model``: grade_id -> text) gets its full points, stored as
    formgrader's grade handler stores a manual score. Returns (answers marked, answers still waiting
    for a person). Answers left as released were already scored 0 by nbgrader's autograde."""
    if not model:
        return 0, 0
    marked = waiting = 0
    with inst.gradebook() as gb:
        for sub in gb.assignment_submissions(unit):
            for snb in sub.notebooks:
                path = inst.autograded_dir(sub.student.id, unit) / f"{snb.name}.ipynb"
                try:
                    answers = {cells.grade_id(c): c.source for c in synth.read(path).cells
                               if cells.is_written_question(c)}
                except (OSError, ValueError):  # a notebook that failed to grade has no autograded copy
                    answers = {}
                for grade in snb.grades:
                    if grade.name not in model or grade.auto_score is not None or grade.manual_score is not None:
                        continue
                    if answers.get(grade.name, "").strip() == model[grade.name].strip():
                        grade.manual_score = grade.max_score
                        grade.needs_manual_grade = False
                        marked += 1
                    else:
                        waiting += 1
        gb.db.commit()
    return marked, waiting


def _print_table(say, rows, kinds, status):
    if not rows:
        say("  (no grades)")
        return
    tasks = sorted({t for r in rows for t in r["tasks"]}, key=_task_key)
    short = [t.replace("task", "t") for t in tasks]
    w_kind = max(len("submission"), *(len(kinds.get(r["student"], "")) for r in rows))
    head = f"  {'student':<8} {'submission':<{w_kind}} {'score':>9}  " + " ".join(f"{s:>6}" for s in short) + "  status"
    say()
    say(head)
    say("  " + "-" * (len(head) - 2))
    for r in rows:
        rec = status.get(r["student"])
        st = rec.status if rec else ""
        if rec and rec.error and st != "ok":
            st += f" ({rec.error.split(': ', 1)[-1][:40]})"
        cells = " ".join(f"{_num(r['tasks'].get(t, (None,))[0]):>6}" for t in tasks)
        say(f"  {r['student']:<8} {kinds.get(r['student'], ''):<{w_kind}} "
            f"{_num(r['score']):>4}/{_num(r['max_score']):<4}  {cells}  {st}")
    mx = {t: rows[0]["tasks"][t][1] for t in tasks if t in rows[0]["tasks"]}
    say("  " + "-" * (len(head) - 2))
    say(f"  {'max':<8} {'':<{w_kind}} {'':>9}  " + " ".join(f"{_num(mx.get(t)):>6}" for t in tasks))


def _num(x) -> str:
    if x is None:
        return "-"
    return f"{x:g}"


def _task_key(t: str):
    m = re.match(r"task(\d+)_(\d+)$", t)
    return (int(m.group(1)), int(m.group(2))) if m else (10**9, t)
