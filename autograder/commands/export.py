"""``course export``: the grades CSV (nbgrader's export columns, then one column per task).

A cell that a spreadsheet would run as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return: OWASP's CSV-injection list) is written with a leading ``'``, so a
student id or name like ``=2+5`` or ``=HYPERLINK(...)`` is text in Excel, LibreOffice and
Sheets. Numbers are written as numbers (a negative score stays ``-1.5``).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from nbgrader.api import MissingEntry

from autograder.cells import task_name
from autograder.course import CourseError
from autograder.instance import Instance

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs: text that would start a formula gets a
    leading ``'``; numbers (int, float) are returned unchanged."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text = "" if value is None else str(value)
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    return value


EXPORT_KEYS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score"]


def export(inst: Instance, units: list[str] | None = None, to: str | os.PathLike | None = None) -> Path:
    """Grades CSV: nbgrader export's columns, then one column per task (``task1_1`` ...). Returns the path."""
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
                col = task_name(name)
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
                            row[task_name(g.name)] = g.score
                rows.append({k: neutralise(v) for k, v in row.items()})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_KEYS + task_cols, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_text(buf.getvalue(), encoding="utf-8")
    return to
