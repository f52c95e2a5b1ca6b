"""``course feedback`` (redacted HTML per student) and ``course export`` (grades CSV).

nbgrader's generate_feedback shows the autograded notebook, hidden tests and
their tracebacks included (jupyter/nbgrader#1363).  Here each grade cell shows
only its visible part (the hidden region is replaced by one comment line, using
the source cells stored in the gradebook), every traceback is cut to its last
line (the assertion message), and a table at the top gives, per task, its name,
points earned / possible, pass or fail and that message.
"""
from __future__ import annotations

import csv
import html
import io
import os
from pathlib import Path

import nbformat

from autograder.cells import HIDDEN_BEGIN, without_hidden
from autograder.course import CourseError
from autograder.instance import Instance

REDACTED = "# (hidden tests: not shown)"


def visible_source(source: str) -> str:
    """``source`` with each hidden-test region replaced by one comment line."""
    return without_hidden(source, REDACTED)


def _last_line(output) -> str:
    ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
    return f"{ename}: {evalue}" if evalue else ename


def _task_titles(inst: Instance, unit: str) -> dict[str, str]:
    titles = {}
    src = inst.course.source_notebook(unit)
    if src.is_file():
        for cell in nbformat.read(str(src), as_version=4).cells:
            meta = cell.metadata.get("course", {})
            if meta.get("task"):
                titles[meta["task"]] = meta.get("title", "")
    return titles


def redact(nb, source_cells: dict[str, str]) -> None:
    """In place: grade cells show only their visible source; tracebacks keep only their last line."""
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in source_cells and cell.metadata["nbgrader"].get("grade"):
            cell.source = visible_source(source_cells[gid])
        if HIDDEN_BEGIN in cell.source:  # a cell we could not match: never show its hidden part
            cell.source = visible_source(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                # a traceback quotes the code it passed through, hidden tests included
                out["traceback"] = [_last_line(out)]


def _result_for(cell) -> tuple[bool, str]:
    errs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errs:
        return False, _last_line(errs[-1])
    if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in cell.get("outputs", [])):
        return False, "output on stderr (a warning or error message) counts as a failure"
    return True, ""


def _fmt(x) -> str:
    return "–" if x is None else f"{x:g}"


def feedback(inst: Instance, unit: str, students: list[str] | None = None) -> list[Path]:
    """Write ``feedback/<student>/<unit>/<notebook>.html`` for every autograded submission; returns the paths."""
    from nbconvert import HTMLExporter
    from nbgrader.api import MissingEntry

    inst.require()
    inst.course.check_units([unit])
    titles = _task_titles(inst, unit)
    exporter = HTMLExporter(template_name="lab")
    written = []
    with inst.gradebook() as gb:
        try:
            assignment = gb.find_assignment(unit)
        except MissingEntry:
            raise CourseError(f"{unit} is not in the gradebook; run `course autograde {unit}` first") from None
        sources = {}
        for nbm in assignment.notebooks:
            sources[nbm.name] = {c.name: c.source for c in nbm.source_cells}
        base = inst.root / "autograded"
        todo = students or (sorted(d.name for d in base.iterdir() if (d / unit).is_dir()) if base.is_dir() else [])
        for student in todo:
            try:
                sub = gb.find_submission(unit, student)
            except MissingEntry:
                continue
            for nbm in assignment.notebooks:
                path = inst.autograded_dir(student, unit) / f"{nbm.name}.ipynb"
                subnb = gb.find_submission_notebook(nbm.name, unit, student)
                grades = {g.name: g for g in subnb.grades}
                try:
                    nb = nbformat.read(str(path), as_version=4)
                except Exception:
                    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
                        "Your notebook could not be graded (missing or not a valid notebook); every task scores 0.")])
                redact(nb, sources.get(nbm.name, {}))
                rows, new_cells = [], []
                for cell in nb.cells:
                    new_cells.append(cell)
                    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                    if cell.metadata.get("nbgrader", {}).get("grade") and gid in grades:
                        g = grades[gid]
                        task = gid[5:] if gid.startswith("test_") else gid
                        ok, msg = _result_for(cell)
                        ok = ok and (g.score or 0) >= g.max_score
                        verdict = "passed" if ok else "failed"
                        rows.append((task, titles.get(task, ""), g.score, g.max_score, verdict, msg))
                        new_cells.append(nbformat.v4.new_markdown_cell(
                            f"**{task}** — {_fmt(g.score)} / {_fmt(g.max_score)} points — **{verdict}**"
                            + (f": `{msg}`" if msg else "")))
                seen = {r[0] for r in rows}
                for gid, g in sorted(grades.items()):
                    task = gid[5:] if gid.startswith("test_") else gid
                    if task not in seen:  # its cell is not in the notebook (unreadable or deleted)
                        rows.append((task, titles.get(task, ""), g.score, g.max_score, "failed",
                                     "not graded: the notebook or this cell is missing or unreadable"))
                table = ["| Task | | Points | Result | Message |", "|---|---|---:|---|---|"]
                for task, title, score, mx, verdict, msg in rows:
                    table.append(f"| {task} | {html.escape(title)} | {_fmt(score)} / {_fmt(mx)} | {verdict} | "
                                 f"{html.escape(msg).replace('|', '&#124;')} |")
                head = nbformat.v4.new_markdown_cell(
                    f"# Feedback: {unit} — {student}\n\n"
                    f"**Score: {_fmt(sub.score)} / {_fmt(sub.max_score)}**"
                    + (f" (late penalty {_fmt(sub.late_submission_penalty)})" if sub.late_submission_penalty else "")
                    + "\n\n" + "\n".join(table)
                    + "\n\nHidden tests are not shown; each failed task gives the message of its first failing check.")
                nb.cells = [head] + new_cells
                body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{unit} — {student}"}})
                out = inst.feedback_dir(student, unit) / f"{nbm.name}.html"
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_suffix(".html.tmp")
                tmp.write_text(body, encoding="utf-8")
                os.replace(tmp, out)
                written.append(out)
    return written


EXPORT_KEYS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score"]


def export(inst: Instance, units: list[str] | None = None, to: str | os.PathLike | None = None) -> Path:
    """Grades CSV: nbgrader export's columns, then one column per task (``task1_1`` ...). Returns the path."""
    from nbgrader.api import MissingEntry

    inst.require()
    to = Path(to) if to else inst.root / "grades.csv"
    rows, task_cols = [], []
    with inst.gradebook() as gb:
        assignments = sorted(gb.assignments, key=lambda a: a.name)
        if units:
            known = {a.name for a in assignments}
            bad = [u for u in units if u not in known]
            if bad:
                raise CourseError(f"not in the gradebook: {', '.join(bad)}; "
                                  f"graded units: {', '.join(sorted(known)) or '(none)'}")
            assignments = [a for a in assignments if a.name in units]
        for a in assignments:
            cells = [g.name for nb in sorted(a.notebooks, key=lambda n: n.name) for g in nb.grade_cells]
            for name in cells:
                col = name[5:] if name.startswith("test_") else name
                if col not in task_cols:
                    task_cols.append(col)
            for student in sorted(gb.students, key=lambda s: s.id):
                row = {"assignment": a.name, "duedate": a.duedate, "student_id": student.id,
                       "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                       "max_score": a.max_score}
                try:
                    sub = gb.find_submission(a.name, student.id)
                except MissingEntry:
                    row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                else:
                    penalty = sub.late_submission_penalty
                    row.update(timestamp=sub.timestamp, raw_score=sub.score, late_submission_penalty=penalty,
                               score=max(0.0, sub.score - penalty))
                    for nb in sub.notebooks:
                        for g in nb.grades:
                            row[g.name[5:] if g.name.startswith("test_") else g.name] = g.score
                rows.append({k: ("" if v is None else v) for k, v in row.items()})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_KEYS + task_cols, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_text(buf.getvalue(), encoding="utf-8")
    return to
