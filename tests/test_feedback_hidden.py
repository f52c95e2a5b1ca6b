"""Feedback carries no hidden test text, whatever a submission does to find it.

A curious student's functions, when a test calls them, look everywhere the old in-kernel design
left the test's source (the calling frames, IPython's line cache and input history, every string
the garbage collector knows, the parent's command line) and print it, then a later cell of theirs
prints everything they collected. The feedback of every student is searched for every line of
hidden test source of the unit.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]

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
