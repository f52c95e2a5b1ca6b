"""Attacks on the judge itself, graded for real in ONE run on the fixture unit (99_tiny).

The judge runs every test cell in the grader's process; the student's kernel only answers with
data. Each attack class below comes in two forms, graded side by side with the sandbox on:

* ``blank+X``: the release as handed out (every function a stub) plus the attack: whatever it adds,
  a submission that answers nothing scores 0;
* ``full+X``: the reference solution plus the same attack: it still scores 100 (an attack that
  fails is not a crime, and the judge must not be knocked over by it).

The classes (issue: "grading decided outside the student's process"): reading the grader's
secrets from the line cache, frames, audit hooks and closures; a startup file that would survive
a kernel restart; returned objects that lie (an ndarray subclass, ``__array__``, ``__eq__``,
``__float__``); student code that runs during a check (properties, ``__del__``, threads, signal
handlers; and, for a blank only, the kernel's agent patched to answer "right" to everything);
shortcuts to a forbidden module (task99_2 may not use ``statistics``)
through an import, a thread, ``exec`` of the module's source and a copied code object.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.runtime.sandbox import can_isolate

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading"),
              pytest.mark.skipif(not can_isolate(), reason="the sandbox needs root, as CI has")]

FULL = {"task99_1": 30, "task99_2": 30, "task99_3": 40}
ZERO = {"task99_1": 0, "task99_2": 0, "task99_3": 0}

# ---------------------------------------------------------------- attack code, added as a cell after setup

HUNT = r'''
import gc, inspect, linecache, re, sys
_events = []
sys.addaudithook(lambda event, args: _events.append((event, repr(args)[:2000])))

def _texts(name):
    out = ["".join(v[2]) for v in list(linecache.cache.values()) if len(v) > 2]
    f = sys._getframe(1)
    while f is not None:                                  # every caller's locals and source
        out.append(repr(f.f_locals)[:20000])
        try:
            out.append(inspect.getsource(f))
        except Exception:
            pass
        f = f.f_back
    for o in gc.get_objects():                             # closures and every string in memory
        if inspect.isfunction(o) and o.__closure__:
            for c in o.__closure__:
                try:
                    out.append(repr(c.cell_contents)[:2000])
                except ValueError:
                    pass
        elif isinstance(o, str) and name in o and len(o) < 100000:
            out.append(o)
    out += [a for _, a in _events]
    return out

def _hunt(name, default=None):
    """A value the grader expects from name(...), if it can be found anywhere in this process."""
    for t in _texts(name):
        m = re.search(re.escape(name) + r"\([^)]*\)\s*==\s*(\[[^\]]*\]|[-0-9.]+)", t)
        if m:
            try:
                return eval(m.group(1))
            except Exception:
                pass
    return default
'''

HUNTERS = {  # blank: functions that answer with what they found instead of computing it
    "task99_1": "def add(a, b):\n    return _hunt('add')",
    "task99_2": "def mean(xs):\n    return _hunt('mean')",
    "task99_3": "def clip(x, lo, hi):\n    return _hunt('clip')",
}

STARTUP = r'''
import os
for d in (os.path.expanduser("~/.ipython/profile_default/startup"),
          os.path.join(os.environ.get("IPYTHONDIR", "/nonexistent"), "profile_default", "startup"),
          get_ipython().profile_dir.startup_dir):
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "00-planted.py"), "w") as fh:
            fh.write("open('planted-startup-ran.txt', 'w').write('yes')\n")
    except OSError:
        pass
'''
# a cell that ignores the interrupt: the grader must restart the kernel (which would run startup files)
STUCK = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
REPORT_STARTUP = ("import os\n"
                  "print('STARTUP-FILE-RAN' if os.path.exists('planted-startup-ran.txt') else 'no startup file ran')")

LIARS = r'''
import numpy as np
class _Sub(np.ndarray):
    def __eq__(self, other):
        return True
    def __bool__(self):
        return True
class _Liar:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __array__(self, dtype=None, copy=None):
        return np.array(3.0)
    def __float__(self):
        return 3.0
    def __index__(self):
        return 3
'''
LIAR_FUNCS = {
    "task99_1": "def add(a, b):\n    return _Liar()",
    "task99_2": "def mean(xs):\n    return np.zeros(1).view(_Sub)",
    "task99_3": "def clip(x, lo, hi):\n    return _Liar()",
}

DURING = r'''
import builtins, signal, threading, time, sys
import course_lib.grading as _grading

def _no_check(*args, **kwargs):
    return None

def _meddle_once():
    # what an in-kernel guard had to fight: the checks and the exception they raise, patched
    _grading.assert_close = _grading.assert_shape = _grading.check_gradient = _no_check
    builtins.AssertionError = type("AssertionError", (Exception,), {})

class _Sneaky:
    @property
    def value(self):                      # runs when read
        _meddle_once()
        return 3
    def __del__(self):                    # runs when dropped
        _meddle_once()

def _meddle():
    while True:                            # a thread that keeps meddling while tests run
        _meddle_once()
        time.sleep(0.01)

threading.Thread(target=_meddle, daemon=True).start()
signal.signal(signal.SIGALRM, lambda *a: _meddle_once())
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
'''
# the agent that answers for the kernel, made to answer "right" to everything: only a blank can try it
# (a full solution that breaks its own answers only hurts itself)
IMPERSONATE = r'''
import course_lib.agent as _agent
_agent.Agent.dispatch = lambda self, h, b: ({"value": 3}, [])
'''
DURING_FUNCS = {
    "task99_1": "def add(a, b):\n    return _Sneaky()",
    "task99_2": "def mean(xs):\n    return _Sneaky().value",
    "task99_3": "def clip(x, lo, hi):\n    _Sneaky()\n    return None",
}

# task99_2 may not use the statistics module (course.forbid): four ways around the rule
SHORTCUTS = {
    "import": "def mean(xs):\n    import statistics\n    return statistics.mean(xs)",
    "thread": ("import threading\n_box = {}\n"
               "def _get():\n    try:\n        import statistics\n        _box['f'] = statistics.mean\n"
               "    except Exception as e:\n        _box['e'] = e\n"
               "def mean(xs):\n    t = threading.Thread(target=_get)\n    t.start(); t.join()\n"
               "    return _box['f'](xs)"),
    "exec_source": ("import os, sys\n"
                    "def mean(xs):\n    for d in sys.path:\n        p = os.path.join(d, 'statistics.py')\n"
                    "        if os.path.isfile(p):\n            ns = {'__name__': 'stats_copy'}\n"
                    "            exec(open(p).read(), ns)\n            return ns['mean'](xs)\n"
                    "    raise RuntimeError('no source')"),
    "code_object": ("import gc, types\n"
                    "def mean(xs):\n    for o in gc.get_objects():\n"
                    "        if isinstance(o, types.FunctionType) and o.__module__ == 'statistics' and "
                    "o.__name__ == 'mean':\n"
                    "            return types.FunctionType(o.__code__, o.__globals__)(xs)\n"
                    "    raise RuntimeError('no code object')"),
}


def _cases(release, source):
    """{student: (notebook, expected points)}."""
    from autograder import synth

    sols = synth.solution_sources(source)

    def nb(sources: dict, extra_cells=(), after_setup: str | None = None, tail=()):
        book = synth.with_sources(release, sources)
        at = 1
        for src in ([after_setup] if after_setup else []) + list(extra_cells):
            book.cells.insert(at, nbformat.v4.new_code_cell(src))
            at += 1
        for src in tail:
            book.cells.append(nbformat.v4.new_code_cell(src))
        return book

    cases = {
        "blank+secrets": (nb(HUNTERS, after_setup=HUNT), ZERO),
        "full+secrets": (nb({t: s + "\n_hunt('x')" for t, s in sols.items()}, after_setup=HUNT), FULL),
        "blank+startup": (nb({}, [STARTUP, STUCK], tail=[REPORT_STARTUP]), ZERO),
        "full+startup": (nb(sols, [STARTUP, STUCK], tail=[REPORT_STARTUP]), FULL),
        "blank+liars": (nb(LIAR_FUNCS, after_setup=LIARS), ZERO),
        "full+liars": (nb(sols, after_setup=LIARS), FULL),
        "blank+during": (nb(DURING_FUNCS, after_setup=DURING), ZERO),
        "full+during": (nb(sols, after_setup=DURING), FULL),
        "blank+impersonate": (nb({}, after_setup=IMPERSONATE), ZERO),
    }
    for name, src in SHORTCUTS.items():
        cases[f"blank+shortcut_{name}"] = (nb({"task99_2": src}), ZERO)
        # the full solution also tries the shortcut (and falls back to its own work when refused)
        tried = ("try:\n" + "\n".join("    " + ln for ln in src.replace("def mean(", "def _short(").splitlines())
                 + "\n    _short([1.0, 2.0])\nexcept Exception:\n    pass")
        cases[f"full+shortcut_{name}"] = (nb({**sols, "task99_2": tried + "\n" + sols["task99_2"]}), FULL)
        cases[f"alone+shortcut_{name}"] = (nb({**sols, "task99_2": src}), {**FULL, "task99_2": 0})
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder import synth
    from autograder.commands.autograde import autograde

    inst = H.make_instance(tmp_path_factory.mktemp("judge-attacks") / "inst", students=set())
    release = synth.read(inst.root / "release" / H.UNIT / f"{H.UNIT}.ipynb")
    source = synth.read(inst.course.source_notebook(H.UNIT))
    cases = _cases(release, source)
    for sid, (book, _) in cases.items():
        d = inst.submitted_dir(sid, H.UNIT)
        d.mkdir(parents=True)
        (d / f"{H.UNIT}.ipynb").write_text(nbformat.writes(book))
    summary = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, notebook_timeout=120,
                        progress=False, memory_mb=768)
    return inst, cases, {r.student: r for r in summary.records}


CASES = ["secrets", "startup", "liars", "during"] + [f"shortcut_{n}" for n in SHORTCUTS]


@pytest.mark.parametrize("attack", CASES + ["impersonate"])
def test_blank_plus_attack_scores_nothing_and_full_plus_attack_everything(graded, attack):
    inst, cases, records = graded
    points = H.task_points(inst)
    for form in ("blank", "full", "alone"):
        sid = f"{form}+{attack}"
        if sid not in cases:
            continue
        assert points.get(sid) == cases[sid][1], (sid, points.get(sid), records[sid].status, records[sid].error)


def test_a_refused_shortcut_says_why(graded):
    inst, _, _ = graded
    nb = nbformat.read(str(inst.autograded_dir("alone+shortcut_import", H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
    out = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_task99_2").outputs
    text = " ".join(f"{o.get('ename')}: {o.get('evalue')}" for o in out if o.get("output_type") == "error")
    assert "statistics is not available while this task is graded" in text, text


def test_a_startup_file_never_runs_in_a_restarted_kernel(graded):
    inst, _, records = graded
    for sid in ("blank+startup", "full+startup"):
        assert records[sid].status == "timeout" and "fresh kernel" in (records[sid].error or ""), records[sid]
        nb = nbformat.read(str(inst.autograded_dir(sid, H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert "no startup file ran" in text and "STARTUP-FILE-RAN" not in text, text


def test_a_lying_result_is_a_wrong_answer_with_a_message(graded):
    inst, _, _ = graded
    nb = nbformat.read(str(inst.autograded_dir("blank+liars", H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
    msgs = {c.metadata["nbgrader"]["grade_id"]: " ".join(str(o.get("evalue")) for o in c.outputs)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert re.search(r"ndarray subclass", msgs["test_task99_2"]), msgs
