"""Feedback HTML never shows hidden test code; the grades CSV has nbgrader's columns plus one per task."""
from __future__ import annotations

import csv
import html
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

from autograder.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]


def _text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def feedback_files():
    inst, _ = H.graded_instance()
    argv = ["--root", str(inst.course.root), "feedback", H.UNIT, "--instance", str(inst.root)]
    assert main(argv) == 0
    return inst, {p.parent.parent.name: p for p in (inst.root / "feedback").glob(f"*/{H.UNIT}/{H.UNIT}.html")}


def test_one_feedback_file_per_student(feedback_files):
    _, files = feedback_files
    assert sorted(files) == sorted(H.EXPECTED)


def test_hidden_test_code_is_absent_from_every_feedback_file(feedback_files):
    _, files = feedback_files
    for student, path in files.items():
        page = path.read_text()
        text = _text(page)
        for snippet in H.HIDDEN_CODE:
            assert snippet not in page and snippet not in text, (student, snippet)
        if student != "malformed":
            assert "(hidden tests: not shown)" in text


def test_feedback_shows_points_verdict_and_message_per_task(feedback_files):
    _, files = feedback_files
    text = _text(files["partial"].read_text())
    assert "Score: 70 / 100" in text
    assert re.search(r"task99_2\s+the mean of a list\s+0 / 30\s+failed\s+"
                     r"NotImplementedError: your code still raises NotImplementedError", text)
    assert re.search(r"task99_1\s+add two numbers\s+30 / 30\s+passed", text)
    mutant = _text(files["mutant"].read_text())
    # the hidden test failed: its assertion message is shown, its code is not
    assert re.search(r"task99_2\s+the mean of a list\s+0 / 30\s+failed\s+AssertionError: mean of a single element", mutant)
    loop = _text(files["loop"].read_text())
    assert "CellTimeoutError" in loop
    malformed = _text(files["malformed"].read_text())
    assert "could not be graded" in malformed
    assert re.search(r"task99_3\s+clipping to a range\s+0 / 40\s+failed\s+not graded", malformed)


def test_export_has_nbgrader_columns_then_tasks(tmp_path):
    inst, _ = H.graded_instance()
    out = tmp_path / "grades.csv"
    assert main(["--root", str(inst.course.root), "export", H.UNIT, "--instance", str(inst.root), "--to", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
        header = rows and list(rows[0].keys())
    assert header == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                      "raw_score", "late_submission_penalty", "score", "max_score",
                      "task99_1", "task99_2", "task99_3"]
    by_student = {r["student_id"]: r for r in rows}
    assert sorted(by_student) == sorted(H.EXPECTED)
    for sid, tasks in H.EXPECTED.items():
        r = by_student[sid]
        assert {t: float(r[t]) for t in tasks} == {t: float(v) for t, v in tasks.items()}
        assert float(r["score"]) == sum(tasks.values()) and float(r["max_score"]) == 100
        assert r["assignment"] == H.UNIT and r["timestamp"].startswith("2026-03-01 10:00:00")
