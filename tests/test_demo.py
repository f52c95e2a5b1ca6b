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


def test_demo_grades_a_class_and_prints_the_table(tmp_path, capsys):
    root = H.course_copy(tmp_path)
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
    assert kinds["perfect"][2] == "100/100" and kinds["blank"][2] == "0/100"
    assert kinds["loop"][2] == "70/100" and "timeout" in kinds["loop"]
    assert kinds["malformed"][2] == "0/100" and "error" in kinds["malformed"]
    with open(inst / "grades.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 20
    assert len(list((inst / "feedback").glob("*/99_tiny/99_tiny.html"))) == 20
