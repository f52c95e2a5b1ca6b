"""Attacks on the judge itself, graded for real in ONE run on the fixture unit (99_tiny).

The judge runs every test cell in the grader's process; the student's kernel only answers with
data. Each attack class below comes in two forms, graded side by side with the sandbox on:

* ``blank+X``: the release as handed out (every function a stub, or one that answers with what the
  attack found) plus the attack: whatever it adds, a submission that answers nothing scores 0;
* ``full+X``: the reference solution plus the same attack: it still scores 100 (an attack that
  fails is not a crime, and the judge must not be knocked over by it);
* for a shortcut, ``alone+X``: the solution with task99_2 answered through the shortcut only:
  task99_2 scores 0, the rest full.

The classes (issue: "grading decided outside the student's process"): reading the grader's
secrets from the line cache, frames, audit hooks, closures and anything else in memory; a startup
file that would survive a kernel restart; returned objects that lie (an ndarray subclass,
``__array__``, ``__eq__``, ``__float__``); student code that runs during a check (properties,
``__del__``, threads, signal handlers; and, for a blank only, the kernel's agent patched to answer
"right" to everything); shortcuts to a forbidden module (here task99_2 may use neither
``statistics`` nor ``torch``) through an import, a thread, ``exec`` of the module's source (where
Python finds it, or another Python's copy on the machine), a copied code object and PyTorch's
private ``torch._C`` entry points.

The control: the blank+X and alone+X submissions are also graded by nbgrader on its own (test cells
in the student's kernel, as before the judge). There they earn full points, so a 0 under the judge
is the judge's doing and not an attack that does not work.
"""
from __future__ import annotations

import glob
import re
import shutil
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
import gc, inspect, linecache, os, re, sys
_events = []
_AUDITED = ("compile", "exec", "open")
sys.addaudithook(lambda event, args: _events.append(repr(args)[:50000])
                 if event in _AUDITED and len(_events) < 20000 else None)

_sources = {}

def _frames_text():
    out = []
    for f in list(sys._current_frames().values()) + [sys._getframe(1)]:
        while f is not None:                          # every caller's locals, code constants and source
            out.append(repr(f.f_locals)[:50000])
            out.append(repr(f.f_code.co_consts)[:50000])
            if f.f_code not in _sources:
                try:
                    _sources[f.f_code] = inspect.getsource(f)
                except Exception:
                    _sources[f.f_code] = ""
            out.append(_sources[f.f_code])
            f = f.f_back
    return out

def _closures_text():
    out = []
    for o in gc.get_objects():
        if inspect.isfunction(o):
            for c in o.__closure__ or ():
                try:
                    out.append(repr(c.cell_contents)[:50000])
                except ValueError:
                    pass
            if o.__defaults__:
                out.append(repr(o.__defaults__)[:50000])
    return out

def _memory_text():
    out = []
    for o in gc.get_objects():                        # str objects are not tracked: look inside containers
        items = o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()
        try:
            out += [x for x in items if isinstance(x, str) and 20 < len(x) < 200000]
        except Exception:
            pass
    return out

CHANNELS = {
    "linecache": lambda: ["".join(v[2]) for v in list(linecache.cache.values()) if len(v) > 2 and v[2]],
    "frames": _frames_text,
    "audit": lambda: list(_events),
    "closures": _closures_text,
    "memory": _memory_text,
}
_NL = r"(?:\s|\\n)*"
_VAL = r"(\[[^\]]*\]|-?[0-9][0-9.]*)"

def _facts(name, text):
    """(arguments, value) pairs a test states about name(...), read from text."""
    if name + "(" not in text:
        return []
    n = re.escape(name)
    out = []
    for m in re.finditer(n + r"\(([^()]*)\)\s*==\s*" + _VAL, text):
        out.append((m.group(1), None, (m.group(2),)))
    for m in re.finditer(r"(\w+) = " + n + r"\(([^()]*)\)" + _NL + r"assert \1 == " + _VAL, text):
        out.append((m.group(2), None, (m.group(3),)))
    for m in re.finditer(r"(\w+) = \[" + n + r"\(([^()]*)\) for (\w+) in \(([^)]*)\)\]" + _NL
                         + r"assert \1 == (\[[^\]]*\])", text):
        out.append((m.group(2), (m.group(3), m.group(4)), (m.group(5),)))
    return out

def _answer(fact, args):
    arg_src, loop, (value,) = fact
    if loop is None:
        return (eval("(" + arg_src + ",)"), eval(value)) if eval("(" + arg_src + ",)") == args else None
    var, values = loop
    for v, want in zip(eval("(" + values + ",)"), eval(value)):
        if eval("(" + arg_src + ",)", {var: v}) == args:
            return (args, want)
    return None

def _scan(channel, name):
    texts = CHANNELS[channel]()
    return len(texts), [f for t in texts for f in _facts(name, t)]

def _hunt(name, args, channels=None):
    """What the grader expects from name(*args), if it can be found anywhere in this process."""
    found = None
    log = []
    for channel in channels or CHANNELS:
        n, facts = _scan(channel, name)             # (the texts stay out of this frame's locals)
        log.append(f"{channel}:{n}:{len(facts)}")
        for fact in facts:
            try:
                hit = _answer(fact, args)
            except Exception:
                hit = None
            if hit is not None and found is None:
                found = hit[1]
    with open("hunt-log.txt", "a") as fh:
        fh.write(" ".join(log) + "\n")
    return found
'''

HUNTERS = {  # blank: functions that answer with what they found instead of computing it
    "task99_1": "def add(a, b):\n    return _hunt('add', (a, b))",
    "task99_2": "def mean(xs):\n    return _hunt('mean', (xs,))",
    "task99_3": "def clip(x, lo, hi):\n    return _hunt('clip', (x, lo, hi))",
}
# full: the solution, which also hunts at its first call (once: a hunt takes a few tenths of a second)
HUNT_ONCE = {"task99_1": ("add", "a, b"), "task99_2": ("mean", "xs"), "task99_3": ("clip", "x, lo, hi")}


def _hunting_solution(task: str, solution: str) -> str:
    name, params = HUNT_ONCE[task]
    return (f"{solution}\n_real_{name} = {name}\n_hunted_{name} = []\n"
            f"def {name}({params}):\n"
            f"    if not _hunted_{name}:\n        _hunted_{name}.append(_hunt('{name}', ({params},)))\n"
            f"    return _real_{name}({params})")


# a last cell that says what the hunt found, per channel: "channel:texts searched:facts found"
REPORT_HUNT = ("import os\n"
               "print(open('hunt-log.txt').read() if os.path.exists('hunt-log.txt') else 'NO HUNT RAN')")

STARTUP = r'''
import os
_planted = []
for d in (os.path.expanduser("~/.ipython/profile_default/startup"),
          os.path.join(os.environ.get("IPYTHONDIR", "/nonexistent"), "profile_default", "startup"),
          get_ipython().profile_dir.startup_dir):
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "00-planted.py"), "w") as fh:
            fh.write("open('planted-startup-ran.txt', 'w').write('yes')\n")
        _planted.append(d)
    except OSError:
        pass
print("planted in:", _planted, "profile startup dir:", get_ipython().profile_dir.startup_dir)
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
    # an answer too large to be one: more items than the wire takes
    "task99_3": "def clip(x, lo, hi):\n    return [float(x)] * 1_500_000",
}

DURING = r'''
import builtins, signal, threading, time, sys
import course_lib.grading as _grading

def _quiet(*args, **kwargs):
    return None

def _no_traceback(*args, **kwargs):
    # the failing cell's error, taken out of IPython's result: the kernel replies "ok" and shows nothing
    f = sys._getframe(1)
    while f is not None:
        result = f.f_locals.get("result")
        if hasattr(result, "error_in_exec"):
            result.error_in_exec = None
        f = f.f_back

def _meddle_once():
    # what code running inside a grading process does to the verdict: checks that never fail, an
    # AssertionError of its own, and failing test cells that report no error (nbgrader gives the points)
    _grading.assert_close = _grading.assert_shape = _grading.check_gradient = _quiet
    builtins.AssertionError = type("AssertionError", (Exception,), {})
    get_ipython().showtraceback = _no_traceback

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

def _start_meddling():                     # called by the graded functions: nothing happens before a check
    if not any(t.name == "meddler" for t in threading.enumerate()):
        threading.Thread(target=_meddle, daemon=True, name="meddler").start()
        signal.signal(signal.SIGALRM, lambda *a: _meddle_once())
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
'''
# the agent that answers for the kernel, made to answer "right" to everything: only a blank can try it
# (a full solution that breaks its own answers only hurts itself)
IMPERSONATE = r'''
import course_lib.agent as _agent
_agent.Agent.dispatch = lambda self, h, b: ({"value": 3}, [])
'''
DURING_FUNCS = {  # each starts the meddling thread and timer, and runs a property or a __del__
    "task99_1": "def add(a, b):\n    _start_meddling()\n    return _Sneaky()",
    "task99_2": "def mean(xs):\n    _start_meddling()\n    return _Sneaky().value",
    "task99_3": "def clip(x, lo, hi):\n    _start_meddling()\n    _Sneaky()\n    return None",
}

# where another Python's copy of the statistics module may be (this machine: /usr/lib/python3.11)
OTHER_COPY_GLOBS = ("/usr/lib/python3*/statistics.py", "/usr/local/lib/python3*/statistics.py",
                    "/usr/lib/*/*/*/lib/python3*/statistics.py")
OTHER_COPIES = sorted(p for g in OTHER_COPY_GLOBS for p in glob.glob(g))

# task99_2 may not use the statistics module nor torch (course.forbid): ways around the rule
SHORTCUTS = {
    "import": "def mean(xs):\n    import statistics\n    return statistics.mean(xs)",
    "thread": ("import threading\n_box = {}\n"
               "def _get():\n    try:\n        import statistics\n        _box['f'] = statistics.mean\n"
               "    except Exception as e:\n        _box['e'] = e\n"
               "def mean(xs):\n    t = threading.Thread(target=_get)\n    t.start(); t.join()\n"
               "    return _box['f'](xs)"),
    # the module's source, executed: from where Python finds it, then from any other copy on the machine
    "exec_source": ("import os, sys\n"
                    "def mean(xs):\n    for d in sys.path:\n        p = os.path.join(d, 'statistics.py')\n"
                    "        if os.path.isfile(p):\n            ns = {'__name__': 'stats_copy'}\n"
                    "            exec(open(p).read(), ns)\n            return ns['mean'](xs)\n"
                    "    raise RuntimeError('no source')"),
    "exec_other_copy": ("import glob\n"
                        "def mean(xs):\n"
                        f"    for p in sorted(p for g in {OTHER_COPY_GLOBS!r} for p in glob.glob(g)):\n"
                        "        try:\n            ns = {'__name__': 'stats_copy'}\n"
                        "            exec(open(p).read(), ns)\n            return ns['mean'](xs)\n"
                        "        except Exception:\n            pass\n"
                        "    raise RuntimeError('no other copy')"),
    # a copied code object: the function's, if the module is anywhere in memory, else the cached bytecode's
    "code_object": ("import gc, importlib.util, marshal, os, sys, types\n"
                    "def mean(xs):\n    for o in gc.get_objects():\n"
                    "        if isinstance(o, types.FunctionType) and o.__module__ == 'statistics' and "
                    "o.__name__ == 'mean':\n"
                    "            return types.FunctionType(o.__code__, o.__globals__)(xs)\n"
                    "    for d in sys.path:\n"
                    "        p = os.path.join(d, 'statistics.py')\n"
                    "        try:\n"
                    "            try:\n"
                    "                code = marshal.loads(open(importlib.util.cache_from_source(p), 'rb').read()[16:])\n"
                    "            except OSError:\n"
                    "                code = compile(open(p).read(), p, 'exec')\n"
                    "            ns = {'__name__': 'stats_copy'}\n"
                    "            exec(code, ns)\n"
                    "            return ns['mean'](xs)\n"
                    "        except Exception:\n"
                    "            pass\n"
                    "    raise RuntimeError('no code object')"),
    # PyTorch's private entry points (what tracing a public function misses), or its extension loaded
    # by file without the package
    "torch_C": ("def mean(xs):\n"
                "    try:\n        import torch\n        C = torch._C\n    except ImportError:\n"
                "        import glob, importlib.machinery, importlib.util, os, sys\n"
                "        files = [f for d in sys.path for f in glob.glob(os.path.join(d, 'torch', '_C*.so'))]\n"
                "        if not files:\n            raise\n"
                "        loader = importlib.machinery.ExtensionFileLoader('torch._C', files[0])\n"
                "        C = importlib.util.module_from_spec(importlib.util.spec_from_loader('torch._C', loader))\n"
                "        loader.exec_module(C)\n"
                "    V = C._VariableFunctions\n"
                "    return V.mean(V.tensor([float(x) for x in xs])).item()"),
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
        "blank+secrets": (nb(HUNTERS, after_setup=HUNT, tail=[REPORT_HUNT]), ZERO),
        "full+secrets": (nb({t: _hunting_solution(t, s) for t, s in sols.items()}, after_setup=HUNT,
                            tail=[REPORT_HUNT]), FULL),
        "blank+startup": (nb({}, [STARTUP, STUCK], tail=[REPORT_STARTUP]), ZERO),
        "full+startup": (nb(sols, [STARTUP, STUCK], tail=[REPORT_STARTUP]), FULL),
        "blank+liars": (nb(LIAR_FUNCS, after_setup=LIARS), ZERO),
        "full+liars": (nb(sols, after_setup=LIARS), FULL),
        "blank+during": (nb(DURING_FUNCS, after_setup=DURING), ZERO),
        "full+during": (nb(sols, after_setup=DURING), FULL),
        "blank+impersonate": (nb({}, after_setup=IMPERSONATE), ZERO),
    }
    for name, src in SHORTCUTS.items():
        # the full solution also tries the shortcut (and falls back to its own work when refused)
        tried = ("try:\n" + "\n".join("    " + ln for ln in src.replace("def mean(", "def _short(").splitlines())
                 + "\n    _short([1.0, 2.0])\nexcept Exception:\n    pass")
        cases[f"full+shortcut_{name}"] = (nb({**sols, "task99_2": tried + "\n" + sols["task99_2"]}), FULL)
        cases[f"alone+shortcut_{name}"] = (nb({**sols, "task99_2": src}), {**FULL, "task99_2": 0})
    return cases


# What the attacks earn when nbgrader grades them as it does on its own: the test cells run in the
# student's kernel, no judge, no sandbox (the control that shows each attack works where the check
# shares the student's process). Not the startup files: they would be planted in this machine's profile.
CONTROL = {
    "blank+secrets": FULL, "blank+during": FULL,
    "blank+liars": {**FULL, "task99_3": 0},            # (its clip answers with a result too large: no lie)
    **{f"alone+shortcut_{name}": FULL for name in SHORTCUTS},
}


def _course_forbidding_torch(where: Path) -> Path:
    """A copy of the fixture course whose task99_2 may use neither statistics nor torch."""
    root = H.course_copy(where)
    path = root / "solutions" / H.UNIT / f"{H.UNIT}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("course", {}).get("task") == "task99_2")
    cell.metadata["course"]["forbid"] = ["statistics", "torch"]
    nbformat.write(nb, str(path))
    return root


def _nbgrader_points(inst, students: list[str]) -> dict:
    """{student: {task: points}} when nbgrader's own autograde grades them, one after another."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = inst.config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    for sid in students:
        result = api.autograde(H.UNIT, sid)
        assert result["success"], (sid, result.get("error"), result.get("log", "")[-2000:])
    return H.task_points(inst)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder import synth
    from autograder.commands.autograde import autograde
    from autograder.course import Course
    from autograder.instance import Instance

    tmp = tmp_path_factory.mktemp("judge-attacks")
    course = Course.find(_course_forbidding_torch(tmp))
    inst = Instance(tmp / "inst", course=course).init([H.UNIT])
    release = synth.read(inst.root / "release" / H.UNIT / f"{H.UNIT}.ipynb")
    source = synth.read(inst.course.source_notebook(H.UNIT))
    cases = _cases(release, source)
    for sid, (book, _) in cases.items():
        d = inst.submitted_dir(sid, H.UNIT)
        d.mkdir(parents=True)
        (d / f"{H.UNIT}.ipynb").write_text(nbformat.writes(book))
    shutil.copytree(inst.root, tmp / "control", symlinks=True)
    control = _nbgrader_points(Instance(tmp / "control", course=course), list(CONTROL))
    summary = autograde(inst, H.UNIT, workers=2, cell_timeout=H.CELL_TIMEOUT, notebook_timeout=120,
                        progress=False, memory_mb=768)
    return inst, cases, {r.student: r for r in summary.records}, control


CASES = ["secrets", "startup", "liars", "during"] + [f"shortcut_{n}" for n in SHORTCUTS]


@pytest.mark.parametrize("attack", CASES + ["impersonate"])
def test_blank_plus_attack_scores_nothing_and_full_plus_attack_everything(graded, attack):
    inst, cases, records, _ = graded
    points = H.task_points(inst)
    for form in ("blank", "full", "alone"):  # (a shortcut comes as full+ and alone+: task99_2 0, the rest full)
        sid = f"{form}+{attack}"
        if sid not in cases:
            continue
        assert points.get(sid) == cases[sid][1], (sid, points.get(sid), records[sid].status, records[sid].error)


def test_a_refused_shortcut_says_why(graded):
    inst, _, _, _ = graded
    nb = nbformat.read(str(inst.autograded_dir("alone+shortcut_import", H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
    out = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_task99_2").outputs
    text = " ".join(f"{o.get('ename')}: {o.get('evalue')}" for o in out if o.get("output_type") == "error")
    assert "statistics is not available while this task is graded" in text, text


def test_a_startup_file_never_runs_in_a_restarted_kernel(graded):
    inst, _, records, _ = graded
    for sid in ("blank+startup", "full+startup"):
        assert records[sid].status == "timeout" and "fresh kernel" in (records[sid].error or ""), records[sid]
        nb = nbformat.read(str(inst.autograded_dir(sid, H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert "no startup file ran" in text and "STARTUP-FILE-RAN" not in text, text


def test_a_lying_result_is_a_wrong_answer_with_a_message(graded):
    inst, _, _, _ = graded
    nb = nbformat.read(str(inst.autograded_dir("blank+liars", H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
    msgs = {c.metadata["nbgrader"]["grade_id"]: " ".join(str(o.get("evalue")) for o in c.outputs)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert re.search(r"ndarray subclass", msgs["test_task99_2"]), msgs
    assert re.search(r"too large to be an answer \(more than 1000000 items", msgs["test_task99_3"]), msgs


def _hunt_log(nb) -> list[dict]:
    """The hunt's log printed by the last cell: per call, {channel: (texts searched, facts found)}."""
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "NO HUNT RAN" not in text and text.strip(), text
    return [{ch: (int(n), int(f)) for ch, n, f in (item.split(":") for item in line.split())}
            for line in text.strip().splitlines()]


def test_the_hunt_for_the_graders_secrets_searches_every_channel_and_finds_nothing(graded):
    """Line cache, frames, audit events, closures and every string in memory, searched at each call
    of the student's functions while the judge tests them: nothing of the tests is in the kernel."""
    inst, _, _, _ = graded
    for sid in ("blank+secrets", "full+secrets"):
        nb = nbformat.read(str(inst.autograded_dir(sid, H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
        calls = _hunt_log(nb)
        assert len(calls) >= 3, (sid, calls)                      # one hunt per graded function at least
        for call in calls:
            assert set(call) == {"linecache", "frames", "audit", "closures", "memory"}, call
            assert all(n > 0 for n, _ in call.values()), (sid, call)   # each channel had something to search
            assert all(f == 0 for _, f in call.values()), (sid, call)  # and none held a test's expectation


@pytest.mark.parametrize("sid", list(CONTROL))
def test_without_the_judge_the_same_attack_earns_points(graded, sid):
    """The control: nbgrader alone (test cells in the student's kernel) gives these submissions the
    points, so their 0 under the judge is the judge's doing, not an attack that does not work."""
    if sid == "alone+shortcut_exec_other_copy" and not OTHER_COPIES:
        pytest.skip(f"no other Python's statistics.py on this machine ({OTHER_COPY_GLOBS}): nothing to execute")
    _, _, _, control = graded
    assert control[sid] == CONTROL[sid], (sid, control[sid])


def test_without_the_judge_the_hunt_reads_the_tests_from_the_line_cache_frames_and_audit_events(graded):
    inst, _, _, _ = graded
    nb = nbformat.read(str(inst.root.parent / "control" / "autograded" / "blank+secrets" / H.UNIT / f"{H.UNIT}.ipynb"),
                       as_version=4)
    found = {ch for call in _hunt_log(nb) for ch, (_, f) in call.items() if f}
    assert {"linecache", "frames", "audit"} <= found, found


def test_the_startup_file_was_planted_where_ipython_reads_it(graded):
    """(So that the test above means something: the kernel could write its profile's startup dir.)"""
    inst, _, _, _ = graded
    for sid in ("blank+startup", "full+startup"):
        nb = nbformat.read(str(inst.autograded_dir(sid, H.UNIT) / f"{H.UNIT}.ipynb"), as_version=4)
        text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
        m = re.search(r"planted in: (\[.*\]) profile startup dir: (\S+)", text)
        assert m and m.group(2) in eval(m.group(1)), text


def test_the_feedback_shows_each_tasks_score_and_why_a_task_earned_nothing(graded):
    """What the student reads: every task's points, the refusal of the shortcut as its reason, the
    lying result's message, and no line of the hidden tests."""
    import html

    from autograder.commands.feedback import feedback

    inst, _, _, _ = graded
    pages = {p.parent.parent.name: p for p in feedback(inst, H.UNIT, ["alone+shortcut_import", "blank+liars"],
                                                          workers=1)}
    text = {sid: html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", "", p.read_text(),
                                                                flags=re.S)))
            for sid, p in pages.items()}
    short = re.sub(r"\s+", " ", text["alone+shortcut_import"])
    assert "Score: 70 / 100" in short, short[:2000]
    assert re.search(r"task99_1 add two numbers 30 / 30 passed", short), short[:3000]
    assert re.search(r"task99_2 the mean of a list 0 / 30 failed .*statistics is not available while this task "
                     r"is graded", short), short[:3000]
    assert re.search(r"task99_3 clipping to a range 40 / 40 passed", short), short[:3000]
    liars = re.sub(r"\s+", " ", text["blank+liars"])
    assert re.search(r"task99_2 the mean of a list 0 / 30 failed .*ndarray subclass", liars), liars[:3000]
    for sid, page in pages.items():
        for snippet in H.HIDDEN_CODE:
            assert snippet not in page.read_text(), (sid, snippet)


def test_the_formgrader_shows_each_cells_score_and_the_failing_message(graded):
    """What the instructor's formgrader shows for a submission: the gradebook's score of every grade
    cell (its grades API) and the autograded notebook rendered by its own exporter and template, where
    the failing cell carries the judge's message."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    inst, _, _, _ = graded
    sid = "alone+shortcut_import"
    with inst.gradebook() as gb:
        sub = gb.find_submission_notebook(H.UNIT, H.UNIT, sid)
        grades = {g.name: g.to_dict() for g in sub.grades}
        resources = {"assignment_id": H.UNIT, "notebook_id": H.UNIT, "submission_id": sub.id, "index": 0,
                     "total": 1, "base_url": "", "student": sid, "last_name": "", "first_name": "",
                     "notebook_path": "x.ipynb"}
    assert {name: (g["auto_score"], g["max_score"]) for name, g in grades.items()} == {
        "test_task99_1": (30.0, 30.0), "test_task99_2": (0.0, 30.0), "test_task99_3": (40.0, 40.0)}, grades
    cfg = Config()
    cfg.HTMLExporter.template_name = "formgrade"
    cfg.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    page, _ = HTMLExporter(config=cfg).from_filename(
        str(inst.autograded_dir(sid, H.UNIT) / f"{H.UNIT}.ipynb"), resources=resources)
    for cell in ("test_task99_1", "test_task99_2", "test_task99_3"):
        assert cell in page, cell
    assert "statistics is not available while this task is graded" in page


def test_the_sandbox_takes_away_other_pythons_copies_of_a_forbidden_module():
    """(What keeps ``alone+shortcut_exec_other_copy`` at 0: every copy it could execute is on the list.)"""
    from autograder.runtime.sandbox import forbid_spec

    taken = {item["path"] for item in forbid_spec(["statistics"])}
    assert {str(Path(p).resolve()) for p in OTHER_COPIES} <= taken, (OTHER_COPIES, taken)
