"""`course demo` on the fixture unit: >= 20 students graded end to end well inside 3 minutes."""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

from autograder.cli import main
from autograder.commands.demo import MARKER

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]


def _with_written_question(root: Path) -> None:
    """The fixture unit plus a 10-point written question (task99_3 down to 30), rebuilt."""
    import nbformat

    path = root / "solutions" / "99_tiny" / "99_tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_task99_3":
            cell.metadata["nbgrader"]["points"] = 30
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "Why does clip take the range as two numbers?\n\n### BEGIN SOLUTION\n"
        "Model answer: a closed range is its two ends.\n### END SOLUTION",
        metadata={"nbgrader": {"grade": True, "grade_id": "q99_1", "locked": False, "points": 10,
                               "schema_version": 3, "solution": True}}))
    nbformat.write(nb, path)
    assert main(["--root", str(root), "build", "99_tiny"]) == 0


def test_demo_grades_a_class_and_prints_the_table(tmp_path, capsys):
    root = H.course_copy(tmp_path)
    _with_written_question(root)
    t0 = time.monotonic()
    rc = main(["--root", str(root), "demo", "--students", "20", "--workers", "2", "--timeout", "3", "--no-progress"])
    seconds = time.monotonic() - t0
    out = capsys.readouterr().out
    assert rc == 0
    assert seconds < 180, f"demo took {seconds:.0f} s"
    inst = root / "instance" / "demo"
    assert f"instance: {inst}" in out
    assert (inst / MARKER).is_file(), "a demo instance must carry the marker that lets the next demo wipe it"
    lines = out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["student", "submission"])
    table = [ln.split() for ln in lines[head + 2: head + 22]]
    assert [r[0] for r in table] == [f"s{i:03d}" for i in range(1, 21)]
    kinds = {r[1]: r for r in table}
    # the perfect students' written answers are the model answer: the demo marks them as the
    # instructor would in formgrader, so correct work shows 100/100; a blank answer scored 0
    assert kinds["perfect"][2] == "100/100" and kinds["blank"][2] == "0/100"
    cols = lines[head].split()
    assert cols[-2] == "q99_1" and kinds["perfect"][-2] == "10" and kinds["blank"][-2] == "0"
    marked = sum(1 for r in table if r[1] in ("perfect", "loop", "raises") or r[1].startswith("mutant"))
    assert f"gave full marks to the {marked} answers that are the model answer" in out
    assert kinds["loop"][2] == "70/100" and "timeout" in kinds["loop"]
    assert kinds["malformed"][2] == "0/100" and "error" in kinds["malformed"]
    with open(inst / "grades.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 20
    assert len(list((inst / "feedback").glob("*/99_tiny/99_tiny.html"))) == 20


def test_the_demos_almost_right_answers_are_wrong_for_numbers_and_models():
    """Each synthetic "a little off" student must really be wrong, or the demo shows a bug that
    earns full marks: numbers move by 1 % and 1e-3, a returned model answers 0."""
    import torch

    from autograder import synth

    ns: dict = {}
    exec(synth.subtly_wrong("def f(x):\n    return 2.0 * x"), ns)
    assert ns["f"](1.0) == 2.0 * 1.01 + 1e-3
    exec(synth.subtly_wrong("import torch\ndef make(n):\n    torch.manual_seed(0)\n"
                            "    return torch.nn.Linear(n, 3)"), ns)
    out = ns["make"](4)(torch.ones(2, 4))
    assert out.shape == (2, 3) and torch.count_nonzero(out) == 0
    assert torch.count_nonzero(torch.nn.Linear(4, 3)(torch.ones(2, 4))) > 0
