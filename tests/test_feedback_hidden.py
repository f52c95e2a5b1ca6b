"""Feedback carries no hidden test text, whatever a submission does to find it.

A curious student's functions, when a test calls them, look everywhere the old in-kernel design
left the test's source (the calling frames, IPython's line cache and input history, every string
the garbage collector knows, the parent's command line) and print it, then a later cell of theirs
prints everything they collected. The feedback of every student is searched for every line of
hidden test source of the unit.
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

SNOOP = '''
import gc, inspect, linecache, os, sys
_seen = []

def _snoop():
    for f in inspect.stack():
        _seen.append("".join(f.code_context or []))
        try:
            _seen.append(inspect.getsource(f.frame))
        except Exception:
            pass
    _seen.extend("".join(v[2]) for v in list(linecache.cache.values()) if len(v) > 2)
    ip = globals().get("get_ipython")
    if ip is not None:
        _seen.extend(ip().user_ns.get("_ih", []))
    _seen.extend(o for o in gc.get_objects() if isinstance(o, str) and "assert" in o)
    try:
        _seen.append(open(f"/proc/{os.getppid()}/cmdline").read())
    except OSError:
        pass
    print("\\n".join(_seen[-50:]))
'''


def _hidden_lines(source_nb) -> list[str]:
    from autograder.cells import hidden_tests

    lines = []
    for cell in source_nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            lines += [ln.strip() for ln in hidden_tests(cell.source).splitlines() if len(ln.strip()) > 6]
    return lines


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
def test_no_feedback_holds_a_line_of_hidden_test_source(tmp_path):
    from autograder import synth
    from autograder.cli import main
    from autograder.commands.autograde import autograde

    inst = H.make_instance(tmp_path / "inst", students={"perfect", "blank"})
    release = synth.read(inst.root / "release" / H.UNIT / f"{H.UNIT}.ipynb")
    source = synth.read(inst.course.source_notebook(H.UNIT))
    sols = synth.solution_sources(source)
    # every solution function first snoops, then does its job
    snooping = {t: SNOOP + re.sub(r"(def \w+\([^)]*\):\n)", r"\1    _snoop()\n", src, count=1)
                for t, src in sols.items()}
    nb = synth.with_sources(release, snooping)
    nb.cells.append(nbformat.v4.new_code_cell("print('COLLECTED', len(_seen))\nprint('\\n'.join(_seen))"))
    d = inst.submitted_dir("snoop", H.UNIT)
    d.mkdir(parents=True)
    (d / f"{H.UNIT}.ipynb").write_text(nbformat.writes(nb))
    summary = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, progress=False)
    assert summary.failed == 0, summary.records
    assert main(["--root", str(inst.course.root), "feedback", H.UNIT, "--instance", str(inst.root)]) == 0
    pages = {p.parent.parent.name: p.read_text() for p in (inst.root / "feedback").glob(f"*/{H.UNIT}/*.html")}
    assert set(pages) == {"perfect", "blank", "snoop"}
    assert "COLLECTED" in pages["snoop"], "the student's last cell ran and its output is in the feedback"
    hidden = _hidden_lines(source)
    assert hidden, "the fixture has hidden tests to look for"
    for student, page in pages.items():
        for line in hidden:
            assert line not in page, (student, line)
    # and the snooping student still earned every point: looking is not a crime, and not a shortcut
    assert H.task_points(inst)["snoop"] == H.EXPECTED["perfect"]


def _cell(source: str, outputs: list, nbgrader: dict | None = None) -> dict:
    meta = {"nbgrader": nbgrader} if nbgrader else {}
    return nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output(**o) for o in outputs], metadata=meta)


def test_a_test_cell_shows_its_outcome_and_message_never_what_was_printed_while_it_ran(tmp_path):
    """The judge keeps a test cell's stdout (the student's code, called with the hidden inputs, may
    print them or its caller's source; the test may print its expected values). The page keeps the
    verdict and the message, and the student's own cells keep their outputs."""
    from autograder.commands.feedback import Page, render

    test = {"grade": True, "solution": False, "locked": True, "points": 10}
    leak = "called with [4, 8, 15] by: assert abs(mean(xs) - 9.0) < 1e-9"
    nb = nbformat.v4.new_notebook(cells=[
        _cell("def mean(xs):\n    print('called with', xs)", [dict(output_type="stream", name="stdout",
              text="STUDENT-OWN-OUTPUT\n")], {"grade": False, "solution": True, "grade_id": "task1_1"}),
        _cell("assert mean([1]) == 1", [dict(output_type="stream", name="stdout", text=leak + "\n")],
              {**test, "grade_id": "test_task1_1"}),
        _cell("assert mean([2]) == 2", [dict(output_type="stream", name="stdout", text=leak + "\n"),
              dict(output_type="error", ename="AssertionError", evalue="mean of [4, 8, 15] is wrong",
                   traceback=["Traceback ...", "assert abs(mean(xs) - 9.0) < 1e-9", "AssertionError: x"])],
              {**test, "grade_id": "test_task1_2"}),
        _cell("assert mean([3]) == 3", [dict(output_type="stream", name="stderr", text=leak + "\n")],
              {**test, "grade_id": "test_task1_3"}),
        _cell("assert mean([4]) == 4", [dict(output_type="display_data", data={"text/plain": leak}),
              dict(output_type="execute_result", data={"text/plain": leak}, execution_count=1)],
              {**test, "grade_id": "test_task1_4"}),
    ])
    path = tmp_path / "u.ipynb"
    path.write_text(nbformat.writes(nb))
    grades = {f"test_task1_{k}": (10.0 if k in (1, 4) else 0.0, 10.0) for k in (1, 2, 3, 4)}
    page = Page(unit="01_u", student="s1", notebook="u", autograded=str(path), out=str(tmp_path / "u.html"),
                score=20.0, max_score=40.0, penalty=0.0, grades=grades)
    text = html.unescape(Path(render(page)).read_text(encoding="utf-8"))
    for part in ("[4, 8, 15] by", "assert abs(mean(xs)", "9.0) &lt; 1e-9", "9.0) < 1e-9"):
        assert part not in text, part
    assert "STUDENT-OWN-OUTPUT" in text, "the student's own cells keep their outputs"
    assert "AssertionError: mean of [4, 8, 15] is wrong" in text, "a failed test shows its message"
    assert "output on stderr" in text, "a test failed by its stderr still says why"
    assert text.count("passed") >= 2 and text.count("failed") >= 2
