"""What leaves the instance is safe and bounded: the grades CSV cannot run as a formula, a huge
notebook's feedback page is capped and says so, and feedback pages render in parallel."""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

from autograder.cli import main
from autograder.commands.export import neutralise
from autograder.commands.feedback import MAX_CELLS, MAX_OUTPUT_CHARS, Page, cap, render


@pytest.mark.parametrize("value, cell", [
    ("=2+5", "'=2+5"), ("+1", "'+1"), ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Ada", "Ada"), ("", ""), (None, ""), (-1.5, -1.5), (7, 7), (0.0, 0.0)])
def test_a_cell_that_would_start_a_formula_is_text(value, cell):
    assert neutralise(value) == cell


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
def test_the_grades_csv_neutralises_a_student_id_and_names(tmp_path):
    inst, _ = H.graded_instance()
    inst.add_student("=2+5", first_name="@SUM(1,1)", last_name="-3+4", email="+x@example.org")
    try:
        out = tmp_path / "grades.csv"
        assert main(["--root", str(inst.course.root), "export", H.UNIT, "--instance", str(inst.root),
                     "--to", str(out)]) == 0
        with open(out, newline="") as fh:
            rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    finally:
        with inst.gradebook() as gb:
            gb.remove_student("=2+5")
    row = rows["'=2+5"]
    assert (row["first_name"], row["last_name"], row["email"]) == ("'@SUM(1,1)", "'-3+4", "'+x@example.org")
    assert row["score"] == "0.0" and float(row["max_score"]) == 100   # numbers stay numbers
    for r in rows.values():
        assert not any(str(v).startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values()), r


def _huge_notebook(path: Path, cells: int) -> dict[str, tuple[float, float]]:
    """An autograded notebook of ``cells`` code cells (the first with an over-long output) and 3 graded
    cells at the end, written as plain JSON (nbformat's constructors take a minute for 100,000 cells)."""
    def code(i: int, source: str, outputs: list, meta: dict | None = None) -> dict:
        return {"cell_type": "code", "id": f"c{i}", "metadata": meta or {}, "execution_count": None,
                "source": source, "outputs": outputs}

    out = [code(i, f"print({i})", [{"output_type": "stream", "name": "stdout",
                                    "text": "x" * (MAX_OUTPUT_CHARS + 10) if i == 0 else f"{i}\n"}])
           for i in range(cells)]
    grades = {}
    for k in (1, 2, 3):
        gid = f"test_task99_{k}"
        errors = [{"output_type": "error", "ename": "AssertionError", "evalue": "task99_2: wrong",
                   "traceback": ["..."]}] if k == 2 else []
        out.append(code(cells + k, f"assert f({k})", errors, {"nbgrader": {
            "grade": True, "solution": False, "locked": True, "grade_id": gid, "points": 10}}))
        grades[gid] = (0.0 if k == 2 else 10.0, 10.0)
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": out,
                                "metadata": {"language_info": {"name": "python"}}}))
    return grades


def test_a_huge_notebook_gets_a_capped_page_that_says_so(tmp_path):
    nb_path = tmp_path / "huge.ipynb"
    grades = _huge_notebook(nb_path, 100_000)
    page = Page(unit="99_tiny", student="s1", notebook="huge", autograded=str(nb_path),
                out=str(tmp_path / "out" / "huge.html"), score=20.0, max_score=30.0, penalty=0.0,
                grades=grades, titles={"task99_2": "the second task"})
    text = Path(render(page)).read_text(encoding="utf-8")
    assert re.search(r"of the notebook(&#39;|&#x27;|')s 100,003 cells are not shown", text)
    assert "outputs are cut at 20,000 characters" in text
    assert "task99_2: wrong" in text and "the second task" in text
    assert text.count("print(") <= MAX_CELLS          # the cap holds
    assert len(text) < 20 * 2**20


def test_cap_keeps_every_graded_cell_and_cuts_long_outputs():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass") for _ in range(MAX_CELLS + 500)])
    nb.cells[MAX_CELLS + 400].metadata["nbgrader"] = {"grade": True, "grade_id": "test_task1_1"}
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * (MAX_OUTPUT_CHARS * 3))]
    notes = cap(nb)
    assert len(nb.cells) == MAX_CELLS
    assert any(c.metadata.get("nbgrader", {}).get("grade_id") == "test_task1_1" for c in nb.cells)
    assert len(nb.cells[0].outputs[0].text) < MAX_OUTPUT_CHARS + 100
    assert len(notes) == 2 and "500 of the notebook's" in notes[0]


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
def test_feedback_in_parallel_writes_the_same_pages_as_one_process(tmp_path):
    from autograder.commands.feedback import feedback

    inst, _ = H.graded_instance()
    one = {p: p.read_text(encoding="utf-8") for p in feedback(inst, H.UNIT, workers=1)}
    two = {p: p.read_text(encoding="utf-8") for p in feedback(inst, H.UNIT, workers=2)}
    assert one == two and len(one) == len(H.EXPECTED)
