"""Integrity of a graded run: what a submission must not be able to fake or break.

nbgrader's own defences cover part of it: ``OverwriteCells`` puts back locked
cells (sources, types, points) by checksum, ``DeduplicateIds`` drops duplicate
ids, ``Execute.on_cell_executed`` adds an error output when a failed cell's
traceback was swallowed (#1324).  What they leave open, and this module adds as
small functions the worker calls:

1. **Malformed input** (:func:`inspect_notebook_file`, :func:`read_notebook`):
   a clear, recorded reason (too large, binary, not JSON, wrong nbformat,
   missing / renamed) instead of a crash or a silently skipped file.
2. **Structure** (:func:`structure_issues`): grade cells missing, duplicated,
   out of order, of another cell type, or with changed flags are recorded for
   the instructor.  The repair itself is nbgrader's (OverwriteCells with
   ``add_missing_cells``), except for duplicated grade ids (copy/paste), on
   which nbgrader's sanitize pass fails: :func:`repair_duplicates` keeps one
   copy of each before it runs.
3. **The verdict** (:func:`fix_verdict`): nbgrader scores a grade cell from its
   outputs, and takes the *first* ``execute_result`` as partial credit even
   when an error follows it, so ``sys.displayhook(12)`` called from a student's
   function inside a failing test earned 12 points.  We zero a grade cell whose
   execute_reply says it failed ("error" or "aborted") and drop
   ``execute_result`` outputs that the cell's own last expression cannot have
   produced.
4. **A clean kernel for every test** (:class:`KernelGuard`): before any student
   code runs, a silent prelude imports what the locked cells import and
   snapshots the objects tests rely on (the callables of every loaded module,
   the methods of numpy / course_lib / IPython / ipykernel / torch classes,
   builtins, ``sys`` hooks, IPython's traceback/display hooks, transformers and
   event callbacks, signal handlers, threads, and, after the setup cell, the
   names the setup cell defined).  Right before each grade cell a silent
   *restore* puts all of it back; at the end of the grade cell (appended as its
   last statement) a *verify* checks that nothing in the snapshot changed while
   the test ran (a student function patching numpy or rebinding
   ``assert_close`` mid-test); a change, or a restore/verify that does not
   answer with the HMAC only the prelude knows, zeroes the cell.  An audit hook
   installed by the prelude refuses new audit hooks, assigning ``__code__``,
   setting attributes on the guarded classes, and (from student code)
   ``sys.settrace`` / ``sys.setprofile`` / ``gc.get_objects`` /
   ``gc.get_referrers``.

5. **A stuck kernel** (``IntegrityExecute._fresh_kernel_or_stop``): a cell
   that times out and ignores the interrupt (SIGINT ignored, stuck in C) used
   to end the notebook: every later cell scored 0.  Instead the kernel is
   restarted (``restart_kernel(now=True)``: same sandbox, working directory
   and connection), the guard is installed again, and the code cells before
   the stuck one run again, silently, tests and timed-out cells excepted;
   grading goes on with the next cell.  At most ``max_restarts`` times per
   notebook, and only while the notebook's time limit allows.

What in-process checks cannot do: a submission that reaches the grader's own
code through ``ctypes`` (raw memory), or that replaces a piece of the kernel
the snapshot does not cover, or that patches and un-patches inside one test
from a thread or a signal handler timed to the test, is not stopped here.  The
sandbox (own uid, no network, hidden sources, caps) bounds the damage; a judge
outside the kernel (references and comparisons in a separate process) is the
complete answer.
"""
from __future__ import annotations

import ast
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "inspect_notebook_file", "read_notebook", "missing_notebook_message", "structure_issues", "repair_duplicates",
    "fix_verdict", "locked_imports", "KernelGuard", "integrity_execute_class", "MAX_NOTEBOOK_MB",
]

MAX_NOTEBOOK_MB = 100  # like nbgrader's max_file_size; hundreds of MB is an attack or a mistake


# ---------------------------------------------------------------- malformed input


def inspect_notebook_file(path: Path, max_mb: float = MAX_NOTEBOOK_MB) -> str | None:
    """Why ``path`` cannot be graded as a notebook (a message for the student), or None if it may be read.

    Checked before nbformat reads it, so that a huge or binary file is refused
    cheaply and with a clear reason instead of a parser's exception.
    """
    path = Path(path)
    if not path.is_file():
        return "not a regular file"
    size = path.stat().st_size
    if size > max_mb * 2**20:
        return f"the notebook is {size / 2**20:.0f} MB, over the {max_mb:g} MB limit; clear its outputs and resubmit"
    if size == 0:
        return "the notebook file is empty"
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"\0" in head:
        return "the file is binary, not a notebook (JSON text)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the 4 KB boundary
            return "the file is not UTF-8 text, so not a notebook"
    if not head.lstrip()[:1] == b"{":
        return "the file is not a notebook (a notebook is a JSON object starting with '{')"
    return None


def read_notebook(path: Path):
    """``(notebook, None)`` or ``(None, reason)``; never raises for a bad file."""
    import nbformat

    reason = inspect_notebook_file(path)
    if reason:
        return None, reason
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:120]})"
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", []), list):
        return None, "not a notebook: the JSON has no list of cells"
    major = raw.get("nbformat")
    if major not in (4,) and not (major == 3 and "worksheets" in raw):
        return None, f"unsupported nbformat version {major!r} (expected 4)"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, f"not a valid notebook ({exc.__class__.__name__}: {msg[:160]})"
    return nb, None


def missing_notebook_message(workdir: Path, name: str, submitted: Path | None = None) -> str:
    """The record for a notebook that is not in the submission: say what is there instead (renamed?).

    ``submitted``: the original submission dir; a notebook left out of the
    private copy (over the size limit, a symlink) is reported as such.
    """
    if submitted is not None:
        orig = Path(submitted) / f"{name}.ipynb"
        if orig.is_symlink():
            return f"{name}.ipynb is a symbolic link, not a file; it was not graded"
        if orig.exists():
            why = inspect_notebook_file(orig)
            return f"{name}.ipynb was not graded: " + (why or "it is over the submission file size limit")
    others = sorted(p.name for p in Path(workdir).glob("*.ipynb") if p.stem != name)
    if others:
        return (f"no {name}.ipynb in the submission; found {', '.join(others[:5])} "
                "(renamed? notebooks are graded under their original name)")
    return f"no {name}.ipynb in the submission"


def drop_shadowing(workdir: Path) -> list[str]:
    """Remove submitted files that would shadow a module (``json.py``, ``numpy/``, ``course_lib/``).

    The kernel starts with its working directory first on ``sys.path``, so a
    submitted ``json.py`` or ``hmac.py`` would run inside the kernel while it
    starts, before any check of ours, and a ``course_lib/`` would replace the
    grading helpers.  Returns the names removed (recorded for the instructor).
    """
    import importlib.util
    import shutil
    import sys

    removed = []
    workdir = Path(workdir)
    for p in sorted(workdir.iterdir()):
        if p.is_dir() and (p / "__init__.py").exists():
            mod = p.name
        elif p.is_file() and p.suffix in (".py", ".pyc", ".so", ".pyd", ".pth"):
            mod = p.name.split(".")[0]
        else:
            continue
        if not mod.isidentifier():
            continue
        known = mod in sys.stdlib_module_names or mod in sys.builtin_module_names
        if not known:
            try:
                spec = importlib.util.find_spec(mod)
                known = spec is not None and not str(spec.origin or "").startswith(str(workdir))
            except (ImportError, ValueError):
                known = False
        if known or p.suffix == ".pth":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p.name)
    return removed


# ---------------------------------------------------------------- structure


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def structure_issues(submitted, source) -> list[str]:
    """What a submission changed in the cells nbgrader tracks, compared with the instructor's source.

    ``submitted``: the notebook as handed in (before nbgrader's sanitize pass);
    ``source``: the source notebook.  Returns short messages; empty when the
    structure is intact.  nbgrader repairs what it can (locked sources, types,
    points, missing grade cells); these messages record that it had to.
    """
    src = [(_nbg(c)["grade_id"], c.cell_type, bool(_nbg(c).get("grade")), bool(_nbg(c).get("solution")),
            bool(_nbg(c).get("locked")))
           for c in source.cells if _nbg(c).get("grade_id")]
    want = {gid: (ctype, g, s, lk) for gid, ctype, g, s, lk in src}
    seen: list[str] = []
    issues = []
    for c in submitted.cells:
        m = _nbg(c)
        gid = m.get("grade_id")
        if not gid:
            continue
        if gid not in want:
            issues.append(f"unknown grade id {gid!r}")
            continue
        if gid in seen:
            issues.append(f"cell {gid} is duplicated")
            continue
        seen.append(gid)
        ctype, g, s, lk = want[gid]
        if c.cell_type != ctype:
            issues.append(f"cell {gid} changed type ({ctype} -> {c.cell_type})")
        flags = (bool(m.get("grade")), bool(m.get("solution")), bool(m.get("locked")))
        if flags != (g, s, lk):
            issues.append(f"cell {gid} changed its nbgrader flags")
        if g and "points" in m and str(m.get("points")) != str(_nbg(next(x for x in source.cells
                                                                       if _nbg(x).get("grade_id") == gid)).get("points")):
            issues.append(f"cell {gid} changed its points")
    missing = [gid for gid, *_ in src if gid not in seen]
    if missing:
        issues.append("cells missing: " + ", ".join(missing))
    order = [gid for gid, *_ in src if gid in seen]
    if [g for g in seen if g in want] != order:
        issues.append("grade/solution cells reordered")
    return issues


def _tracked(cell) -> bool:
    """A cell nbgrader's DeduplicateIds looks at: grade, solution or locked, with a grade id."""
    m = cell.get("metadata", {}).get("nbgrader")
    return isinstance(m, dict) and bool(m.get("grade_id")) and bool(m.get("grade") or m.get("solution")
                                                                      or m.get("locked"))


def _demote(cell, run: bool):
    """``cell`` without its nbgrader metadata.  ``run``: stays a cell of its type (a code cell runs like any
    cell the student added); otherwise a code cell becomes a raw cell, kept for the reader but never run."""
    import nbformat

    meta = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("nbgrader", "editable", "deletable")}
    if run or cell.cell_type != "code":
        new = nbformat.from_dict({**cell, "metadata": meta})
    else:
        new = nbformat.v4.new_raw_cell(cell.source)
    if "id" in cell:
        new["id"] = cell["id"]
    elif "id" in new:
        del new["id"]  # nbformat < 4.5 notebooks have no cell ids
    return new


def repair_duplicates(nb, source=None) -> dict[str, str]:
    """Keep one copy of each duplicated grade id; returns ``{grade id: note}`` for the ones repaired.

    Copy/paste in JupyterLab duplicates a cell together with its nbgrader
    metadata.  nbgrader's DeduplicateIds then empties the metadata of every
    copy but the last, and the sanitize pass fails on the emptied cells
    (OverwriteCells ``add_missing_cells``: ``KeyError 'grade_id'``; without it,
    CheckCellMetadata: ``SchemaTooOldError``), so the notebook scored 0.  Run
    before that pass, this keeps, per grade id:

    * a test, setup or other locked cell: the **first** copy (nbgrader keeps
      the last; the first is where the release put it, before what the student
      pasted, and OverwriteCells restores its source from the gradebook
      whichever copy it is).  The other copies become raw cells: never run,
      so a copy edited to ``pass`` neither runs as a test nor hides one, and
      a second setup does not reset the kernel half-way;
    * a solution cell: the **last** copy, as nbgrader does.  The earlier
      copies lose their nbgrader metadata and run as ordinary cells in
      notebook order, as in the student's own Run All, so the definitions in
      force when the tests run are the student's last ones.

    ``source``: the instructor's source notebook, which says which ids are
    solution cells (otherwise the first copy's own flags say).
    """
    import nbformat

    groups: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        if _tracked(cell):
            groups.setdefault(cell.metadata["nbgrader"]["grade_id"], []).append(i)
    if all(len(idx) < 2 for idx in groups.values()):
        return {}
    kinds = {}
    for cell in (source.cells if source is not None else []):
        m = _nbg(cell)
        if m.get("grade_id"):
            kinds[m["grade_id"]] = bool(m.get("solution"))
    notes, demoted = {}, []
    for gid, idx in groups.items():
        if len(idx) < 2:
            continue
        solution = kinds.get(gid, bool(nb.cells[idx[0]].metadata["nbgrader"].get("solution")))
        keep = idx[-1] if solution else idx[0]
        for i in idx:
            if i != keep:
                nb.cells[i] = _demote(nb.cells[i], run=solution)
                demoted.append(i)
        one = len(idx) == 2
        copies = "the other copy" if one else f"the other {len(idx) - 1} copies"
        notes[gid] = (f"duplicated cell {gid} removed (kept the last copy; {copies} "
                      + ("runs as an ordinary cell)" if one else "run as ordinary cells)") if solution else
                      f"duplicated cell {gid} removed (kept the first copy; {copies} "
                      + ("is" if one else "are") + " not run)")
    # a pasted copy may carry its original's cell id: the copies get new ones (ids must be unique)
    taken = {c.get("id") for i, c in enumerate(nb.cells) if i not in demoted}
    for i in demoted:
        if "id" in nb.cells[i]:
            if nb.cells[i]["id"] in taken:
                nb.cells[i]["id"] = nbformat.v4.new_raw_cell().id
            taken.add(nb.cells[i]["id"])
    return notes


# ---------------------------------------------------------------- the verdict


def _last_is_expression(source: str) -> bool:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and isinstance(body[-1], ast.Expr)


def _error(ename: str, evalue: str):
    from nbformat.v4 import new_output

    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def fix_verdict(cell, reply: dict | None) -> list[str]:
    """Make a grade cell's outputs say what the kernel protocol says; returns notes of what was fixed.

    * a reply whose status is "error" or "aborted" but no error output in the
      cell (traceback hook disabled, outputs cleared by a thread): add one, so
      nbgrader scores it 0;
    * ``execute_result`` outputs the cell's own last expression cannot have
      produced (emitted by student code the test called, to fake partial
      credit): removed; and when the cell failed, every ``execute_result`` is
      removed, since nbgrader would take the first one before the error.
    """
    notes = []
    status = ((reply or {}).get("content") or {}).get("status", "ok")
    outs = cell.get("outputs", [])
    failed = status in ("error", "aborted") or any(o.get("output_type") == "error" for o in outs)
    if status in ("error", "aborted") and not any(o.get("output_type") == "error" for o in outs):
        content = reply["content"]
        outs.append(_error(content.get("ename") or "ExecutionFailed",
                           (content.get("evalue") or f"the kernel reported status {status!r}") +
                           " (the traceback display had been disabled)"))
        notes.append("error reply without error output")
    results = [o for o in outs if o.get("output_type") == "execute_result"]
    if results and (failed or not _last_is_expression(cell.source) or len(results) > 1):
        keep = [] if failed or not _last_is_expression(cell.source) else results[-1:]
        cell.outputs = [o for o in outs if o.get("output_type") != "execute_result" or o in keep]
        notes.append("injected execute_result removed")
    return notes


# ---------------------------------------------------------------- imports of the locked cells


def locked_imports(nb) -> tuple[str, ...]:
    """Modules imported anywhere in the notebook's locked cells (setup and tests, hidden tests included).

    The prelude imports them before any student code, so that a student cannot
    plant a fake module in ``sys.modules`` that a hidden test imports later.
    """
    mods: list[str] = []
    for cell in nb.cells:
        m = _nbg(cell)
        if cell.cell_type != "code" or not (m.get("locked") or m.get("grade")) or m.get("solution"):
            continue
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            src = TransformerManager().transform_cell(cell.source)
            tree = ast.parse(src)
        except Exception:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods.append(node.module)
                mods += [f"{node.module}.{a.name}" for a in node.names]  # submodules (import errors ignored)
    return tuple(dict.fromkeys(mods))


# ---------------------------------------------------------------- the kernel guard

# Runs silently in the kernel before any cell.  Everything lives in closures held
# by an audit hook, which Python offers no way to list or remove; the grader
# talks to it through sys.audit events named with a per-kernel token, and it
# answers by raising _Report(hmac, json) so the grader reads the answer from
# the execute_reply (no student-visible state to forge).
_KERNEL_GUARD = r'''
def _course_guard_install(TOKEN, KEY, MODULES, CLASS_PACKAGES, TRUSTED_DIRS):
    import builtins, gc, hashlib, hmac, importlib, json, os, signal, sys, threading, types, warnings
    import ctypes
    # the course's modules come from the installation, never from a same-named file the submission brought
    saved_path, here = list(sys.path), os.path.realpath(os.getcwd())
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != here]
    try:
        for _m in MODULES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    importlib.import_module(_m)
            except Exception:
                pass
    finally:
        sys.path[:] = saved_path
    ip = get_ipython()
    FUNC = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type, types.ModuleType,
            staticmethod, classmethod, property)
    def callable_like(v):
        return isinstance(v, FUNC) or callable(v)
    class _Report(Exception):
        pass
    _Report.__module__ = "builtins"
    _Report.__qualname__ = _Report.__name__ = "CourseGuardReport"
    def quiet_report(self, etype, value, tb, tb_offset=None):
        # the answer travels in the reply's ename/evalue; IPython's full traceback of it would cost
        # tens of ms per request (one before and one after every test)
        return [f"{etype.__name__}: {value}"]
    ip.set_custom_exc((_Report,), quiet_report)  # snapshotted below with the shell: restored like the rest

    VOLATILE = {"builtins.input", "builtins.raw_input", "getpass.getpass", "sys.excepthook"}
    state = {"mods": {}, "classes": {}, "defaults": {}, "ns": None, "ns_arrays": {}}
    def snap_modules():
        added = False
        for name, mod in list(sys.modules.items()):
            d = getattr(mod, "__dict__", None)
            if not isinstance(d, dict) or name in state["mods"] or d is ip.user_ns or name == "__main__":
                continue  # __main__ is the user namespace: its setup names are guarded on their own
            added = True
            # ipykernel swaps these per request (stdin forwarding, run_code's excepthook): not the student's
            state["mods"][name] = (mod, {k: v for k, v in d.items() if callable_like(v)
                                         and f"{name}.{k}" not in VOLATILE})
            top = name.split(".")[0]
            if top in CLASS_PACKAGES:
                for k, v in list(d.items()):
                    if isinstance(v, type) and getattr(v, "__module__", "") == name and (v.__flags__ & (1 << 9)):
                        try:
                            state["classes"][id(v)] = (v, {a: b for a, b in v.__dict__.items() if callable_like(b)})
                        except Exception:
                            pass
                    if isinstance(v, types.FunctionType):
                        # __code__ too: ctypes.memmove can swap a function's code without any audit event
                        state["defaults"][id(v)] = (v, v.__defaults__, dict(v.__kwdefaults__ or {}), v.__code__)
        if added:  # the identity tables are rebuilt only when there is something new to watch
            state["fast"] = None
    snap_modules()
    sys_modules = dict(sys.modules)

    def build_fast():
        # The same comparisons as check() below, by identity, with the loops in C (itemgetter, map,
        # operator.is_): tens of thousands of entries, checked before and after every test.
        from operator import attrgetter, is_, itemgetter
        def getter(keys):
            return itemgetter(*keys) if len(keys) > 1 else (lambda m, k=keys[0]: (m[k],))
        dicts = []
        for mod, d in state["mods"].values():
            if d:
                dicts.append((mod.__dict__, getter(list(d)), tuple(d.values())))
        for cls, d in state["classes"].values():
            if d:
                dicts.append((cls.__dict__, getter(list(d)), tuple(d.values())))
        names = [n for n in state["mods"] if n in sys_modules]
        fns = [(fn, dflt, kw) for fn, dflt, kw, _ in state["defaults"].values()]
        return {"dicts": dicts, "is": is_,
                "mods": (getter(names), tuple(state["mods"][n][0] for n in names)) if names else None,
                "fns": [f for f, _, _ in fns], "dflt": tuple(d for _, d, _ in fns), "dget": attrgetter("__defaults__"),
                "kget": attrgetter("__kwdefaults__"), "plain": [f for f, _, kw in fns if not kw],
                "cget": attrgetter("__code__"), "code": tuple(c for _, _, _, c in state["defaults"].values()),
                "kw": [(f, kw) for f, _, kw in fns if kw]}

    def fast_clean():
        """True when no guarded module, class or default changed (then check() skips those loops)."""
        f = state.get("fast")
        if f is None:
            f = state["fast"] = build_fast()
        is_ = f["is"]
        try:
            for dct, get, want in f["dicts"]:
                if not all(map(is_, get(dct), want)):
                    return False
            if f["mods"] is not None and not all(map(is_, f["mods"][0](sys.modules), f["mods"][1])):
                return False
            if not all(map(is_, map(f["dget"], f["fns"]), f["dflt"])) or any(map(f["kget"], f["plain"])):
                return False
            if not all(map(is_, map(f["cget"], f["fns"]), f["code"])):
                return False
            for fn, kw in f["kw"]:
                cur = fn.__kwdefaults__
                if cur is None or len(cur) != len(kw) or not all(cur.get(k, is_) is v for k, v in kw.items()):
                    return False
        except Exception:  # a key removed, an odd object: let the full check say what
            return False
        return True
    sys_lists = {n: list(getattr(sys, n)) for n in ("meta_path", "path_hooks")}
    gc_callbacks = list(gc.callbacks)
    signals = {}
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGUSR1,
              signal.SIGUSR2, signal.SIGCHLD):
        try:
            signals[s] = signal.getsignal(s)
        except Exception:
            pass
    shell_cls = {}
    for obj in (ip, ip.displayhook, ip.display_pub, getattr(ip, "kernel", None), ip.display_formatter,
                getattr(ip, "InteractiveTB", None), getattr(ip, "SyntaxTB", None)):
        if obj is not None:
            shell_cls[id(obj)] = (obj, {k: v for k, v in vars(obj).items() if callable_like(v)})
    shell_lists = {n: list(getattr(ip, n)) for n in ("ast_transformers", "input_transformers_cleanup",
                                                     "input_transformers_post") if hasattr(ip, n)}
    tm = ip.input_transformer_manager
    tm_lists = {n: list(getattr(tm, n)) for n in ("cleanup_transforms", "line_transforms", "token_transformers")
                if hasattr(tm, n)}
    events = {k: list(v) for k, v in ip.events.callbacks.items()}
    custom = (ip.custom_exceptions, getattr(ip, "CustomTB", None))
    threads = {t.ident for t in threading.enumerate()}
    main_ident = threading.main_thread().ident
    trusted = tuple(os.path.realpath(p) for p in TRUSTED_DIRS)

    MYFILE = sys._getframe().f_code.co_filename

    # ctypes reads and writes any memory (a function's code, the guard's own state): no submission
    # may use it directly.  Libraries may; the first caller outside ctypes decides.
    CTYPES = tuple({os.path.dirname(ctypes.__file__) + os.sep,
                    os.path.dirname(os.path.realpath(ctypes.__file__)) + os.sep})
    CTYPES_EVENTS = {"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.cdata/buffer",
                     "ctypes.call_function", "ctypes.PyObj_FromPtr", "ctypes.string_at", "ctypes.wstring_at",
                     "ctypes.addressof"}

    def untrusted_caller(skip=()):
        f = sys._getframe(2)
        while f is not None and (f.f_code.co_filename == MYFILE or (skip and f.f_code.co_filename.startswith(skip))):
            f = f.f_back
        fn = f.f_code.co_filename if f is not None else ""
        return not ((fn.startswith(trusted) and not fn.startswith("<")) or fn in trusted_files)

    guarded_classes = {id(c) for c, _ in state["classes"].values()}
    active = {"on": True}
    seen_nonces = set()
    trusted_files = set()  # the locked cells' own code (setup, visible and hidden tests)
    current = {"file": None}
    stack = {"chain": None}

    def hook(event, args):
        if not active["on"]:
            return
        if event == "sys.addaudithook":
            raise RuntimeError("the grader does not allow audit hooks")
        if event == "object.__setattr__" and args:
            obj, name = args[0], args[1]
            if name in ("__code__", "__defaults__", "__kwdefaults__") and isinstance(obj, types.FunctionType) \
                    and untrusted_caller():
                raise PermissionError(f"the grader does not allow replacing {name} of a function")
            if isinstance(obj, type) and id(obj) in guarded_classes and untrusted_caller():
                raise PermissionError(f"the grader does not allow patching {obj.__module__}.{obj.__qualname__}")
        elif event in ("sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                       "sys._current_frames"):
            if untrusted_caller():
                raise PermissionError(f"the grader does not allow {event} in a submission")
        elif event in CTYPES_EVENTS:
            if untrusted_caller(CTYPES):
                raise PermissionError(f"the grader does not allow ctypes ({event}) in a submission")
        elif event == "course.guard." + TOKEN:
            nonce, what = args[0], args[1]
            caller = sys._getframe(1)
            chain = []
            f = caller.f_back
            while f is not None:
                chain.append(f.f_code)
                f = f.f_back
            active["on"] = False
            try:
                if nonce in seen_nonces:
                    found = {"changed": ["the check was run twice (replayed)"]}
                else:
                    seen_nonces.add(nonce)
                    if what == "restore":
                        stack["chain"] = chain
                        current["file"] = None
                        if len(args) > 2:
                            try:
                                current["file"] = ip.compile.get_code_name(args[2], args[2], ip.execution_count)
                                trusted_files.add(current["file"])
                            except Exception:
                                pass
                    found = DO[what]()
                    if what == "verify" and (chain != stack["chain"] or caller.f_code.co_name != "<module>"
                                             or caller.f_code.co_filename != current["file"]):
                        found = {"changed": sorted(found.get("changed", [])) + ["the check was called from student code"]}
            finally:
                active["on"] = True
            body = json.dumps(found)[:4000]
            mac = hmac.new(KEY.encode(), (nonce + body).encode(), hashlib.sha256).hexdigest()
            raise _Report(mac + " " + body)

    def kill_thread(ident):
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(SystemExit))

    def check(fix):
        bad = []
        clean = fast_clean()
        for name, (mod, d) in ({} if clean else state["mods"]).items():
            cur = mod.__dict__
            for k, v in d.items():
                if cur.get(k, bad) is not v:
                    bad.append(f"{name}.{k}")
                    if fix:
                        cur[k] = v
            if sys.modules.get(name) is not mod and name in sys_modules:
                bad.append(f"sys.modules[{name!r}]")
                if fix:
                    sys.modules[name] = mod
        for cls, d in ({} if clean else state["classes"]).values():
            cur = cls.__dict__
            for k, v in d.items():
                if cur.get(k, bad) is not v:
                    bad.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
                    if fix:
                        try:
                            type.__setattr__(cls, k, v)
                        except Exception:
                            pass
        for fn, dflt, kw, code in ({} if clean else state["defaults"]).values():
            if fn.__defaults__ != dflt or dict(fn.__kwdefaults__ or {}) != kw:
                bad.append(f"{fn.__module__}.{fn.__qualname__} defaults")
                if fix:
                    fn.__defaults__ = dflt
                    fn.__kwdefaults__ = dict(kw) if kw else None
            if fn.__code__ is not code:
                bad.append(f"{fn.__module__}.{fn.__qualname__} code")
                if fix:
                    fn.__code__ = code
        for obj, d in shell_cls.values():
            cur = vars(obj)
            for k in list(cur):
                if callable_like(cur[k]) and d.get(k, bad) is not cur[k]:
                    bad.append(f"{type(obj).__name__}.{k}")
                    if fix:
                        if k in d:
                            cur[k] = d[k]
                        else:
                            del cur[k]
            for k, v in d.items():
                if k not in cur:
                    bad.append(f"{type(obj).__name__}.{k}")
                    if fix:
                        cur[k] = v
        for n, v in shell_lists.items():
            if list(getattr(ip, n)) != v:
                bad.append(f"shell.{n}")
                if fix:
                    getattr(ip, n)[:] = v
        for n, v in tm_lists.items():
            if list(getattr(tm, n)) != v:
                bad.append(f"input_transformer_manager.{n}")
                if fix:
                    getattr(tm, n)[:] = v
        for k, v in events.items():  # restored, not verified: libraries register callbacks too
            if fix and ip.events.callbacks.get(k) != v:
                ip.events.callbacks[k] = list(v)
        if (ip.custom_exceptions, getattr(ip, "CustomTB", None)) != custom:
            bad.append("custom exception handler")
            if fix:
                ip.custom_exceptions, ip.CustomTB = custom
        for n, v in sys_lists.items():
            if list(getattr(sys, n)) != v:
                bad.append(f"sys.{n}")
                if fix:
                    getattr(sys, n)[:] = v
        if list(gc.callbacks) != gc_callbacks:
            bad.append("gc.callbacks")
            if fix:
                gc.callbacks[:] = gc_callbacks
        if sys.gettrace() is not None or sys.getprofile() is not None:
            bad.append("sys.settrace/setprofile")
            if fix:
                sys.settrace(None)
                sys.setprofile(None)
                threading.settrace(None)
                threading.setprofile(None)
        for s, h in signals.items():
            try:
                if signal.getsignal(s) is not h:
                    bad.append(f"signal {s}")
                    if fix:
                        signal.signal(s, h)
            except Exception:
                pass
        try:
            if signal.getitimer(signal.ITIMER_REAL)[0] or signal.getitimer(signal.ITIMER_VIRTUAL)[0] or \
                    signal.getitimer(signal.ITIMER_PROF)[0]:
                bad.append("interval timer")
                if fix:
                    for t in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
                        signal.setitimer(t, 0)
            if fix:
                signal.alarm(0)
        except Exception:
            pass
        def students(t):
            if isinstance(t, threading._DummyThread):
                return False
            fn = getattr(getattr(t, "_target", None), "__code__", None) or getattr(type(t).run, "__code__", None)
            return fn is None or not fn.co_filename.startswith(trusted)
        extra = [t for t in threading.enumerate() if t.ident not in threads and t.is_alive() and students(t)]
        if extra:
            bad.append(f"{len(extra)} thread(s) started by the submission")
            if fix:
                for t in extra:
                    kill_thread(t.ident)
        ns = ip.user_ns
        if state["ns"] is not None:
            for k, v in state["ns"].items():
                if ns.get(k, bad) is not v:
                    bad.append(f"name {k}")
                    if fix:
                        ns[k] = v
            for k, (arr, copy) in state["ns_arrays"].items():
                if fix and ns.get(k) is arr and not (arr.shape == copy.shape and (arr == copy).all()):
                    ns[k] = copy.copy()
                    state["ns"][k] = ns[k]
                    state["ns_arrays"][k] = (ns[k], copy)
        return sorted(set(bad))[:50]

    def restore():
        return {"changed": check(fix=True)}

    def verify():
        return {"changed": check(fix=False)}

    def setup_done():
        # the names the locked setup cell defined: what every test may rely on
        import numpy as np
        ns = ip.user_ns
        keep = {}
        for k, v in ns.items():
            if k.startswith("_") and k not in ("__builtins__",) and not k.startswith("_optional"):
                continue
            if k in ("In", "Out", "get_ipython", "exit", "quit", "open"):
                continue
            keep[k] = v
            if isinstance(v, np.ndarray):
                state["ns_arrays"][k] = (v, v.copy())
        state["ns"] = keep
        snap_modules()  # what the setup cell imported
        return {"names": len(keep)}

    DO = {"restore": restore, "verify": verify, "setup": setup_done, "ping": lambda: {}}
    # built now, with the state just snapshotted, not at the first check: a warm kernel's guard is
    # installed while the previous notebook is graded, so its first check costs no more than the rest
    state["fast"] = build_fast()
    sys.addaudithook(hook)
    return len(state["mods"])
'''


@dataclass
class KernelGuard:
    """The grader's side of the kernel guard: builds the code it sends and checks the answers."""

    modules: tuple = ("numpy",)
    class_packages: tuple = ("numpy", "course_lib", "IPython", "ipykernel", "torch", "scipy")
    trusted_dirs: tuple = ()
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    key: str = field(default_factory=lambda: secrets.token_hex(16))

    def prelude(self) -> str:
        import sys
        import sysconfig

        import course_lib

        dirs = list(self.trusted_dirs) or sorted({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                                   sysconfig.get_paths()["platlib"], sys.base_prefix, sys.prefix,
                                                   str(Path(course_lib.__file__).resolve().parent)})
        return (_KERNEL_GUARD + f"\n_course_guard_install({self.token!r}, {self.key!r}, {tuple(self.modules)!r}, "
                f"{tuple(self.class_packages)!r}, {tuple(dirs)!r})\ndel _course_guard_install\n")

    def call(self, what: str, source: str | None = None) -> tuple[str, str]:
        """(code, nonce) for one request: restore | verify | setup | ping.

        ``source``: for restore, the exact text of the locked cell about to run:
        the guard trusts that cell's code (its own sys.settrace, say) and no other.
        """
        nonce = secrets.token_hex(8)
        extra = "" if source is None else f", {source!r}"
        return f"__import__('sys').audit('course.guard.{self.token}', {nonce!r}, {what!r}{extra})", nonce

    def answer(self, nonce: str, ename: str | None, evalue: str | None):
        """The guard's answer (a dict) if authentic, else None."""
        if ename != "CourseGuardReport" or not evalue or " " not in evalue:
            return None
        mac, body = evalue.split(" ", 1)
        good = hmac.new(self.key.encode(), (nonce + body).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, good):
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None

    def verify_suffix(self) -> tuple[str, str]:
        """(statement appended to a grade cell, nonce): the in-cell verification of the test's last line."""
        code, nonce = self.call("verify")
        return f"\n{code}\n", nonce


def integrity_execute_class(base):
    """``base`` (nbgrader's Execute or our GuardedExecute) with the kernel guard and the verdict fix.

    Hooks into what nbclient offers (``on_cell_executed``) and wraps
    ``preprocess_cell``; the guard's requests are extra silent executions on
    the same kernel client, whose replies nbclient's own polling ignores
    (their parent message id is not the cell's).
    """
    from jupyter_core.utils import ensure_async, run_sync

    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    class UnresponsiveKernel(DeadKernelError):
        """A timed-out cell whose kernel did not come back after the interrupt."""

    class IntegrityExecute(base):
        guard: KernelGuard | None = None
        guard_installed: bool = False  # the guard's prelude already ran in this kernel (kernels.take_kernel)
        max_output_bytes: int = 1_000_000
        max_restarts: int = 3     # fresh kernels per notebook after a cell that ignored the interrupt
        integrity_notes: list

        def output(self, outs, msg, display_id, cell_index):
            # nbclient keeps every output in memory and LimitOutput trims only afterwards: a
            # print loop of hundreds of MB would fill the grader's memory first.  Cap it as it arrives.
            if msg["msg_type"] != "error":
                c = msg["content"]
                size = len(c.get("text") or "") + sum(len(str(v)) for v in (c.get("data") or {}).values())
                used = self._out_bytes.get(cell_index, 0)
                self._out_bytes[cell_index] = used + size
                if used + size > self.max_output_bytes:
                    from nbformat.v4 import new_output

                    stderr = msg["msg_type"] == "stream" and c.get("name") == "stderr"
                    key = (cell_index, "stderr" if stderr else "other")
                    if key not in self._out_capped:
                        self._out_capped.add(key)
                        outs.append(new_output("stream", name="stderr" if stderr else "stdout",
                                               text=f"\n[output over {self.max_output_bytes} bytes dropped by the grader]\n"))
                        self._note(f"cell {cell_index}: output capped at {self.max_output_bytes} bytes")
                    return None
            return super().output(outs, msg, display_id, cell_index)

        def clear_output(self, outs, msg, cell_index):
            # a test's outputs (its error above all) are the verdict: student code cannot clear them
            if self._in_grade_cell:
                return
            return super().clear_output(outs, msg, cell_index)

        def preprocess(self, nb, resources=None, km=None):
            self._out_bytes, self._out_capped, self._in_grade_cell = {}, set(), False
            self.integrity_notes = []
            self.unresponsive = None
            self._replies = {}
            self._guard_ok = True
            self._setup_pending = True
            self._prelude_sent = bool(self.guard_installed)  # installed ahead of time in a warm kernel
            self.restarts = 0
            if self.guard is None:
                self.guard = KernelGuard(modules=locked_imports(nb))
            return super().preprocess(nb, resources, km)

        def on_cell_executed(self, **kwargs):
            super().on_cell_executed(**kwargs)  # nbgrader's own fix for a swallowed traceback
            self._replies[kwargs["cell_index"]] = kwargs["execute_reply"]

        async def _silent(self, code: str, timeout: float = 60.0, drain: bool = False):
            """Run ``code`` silently; its execute_reply, or None (no reply in ``timeout``, kernel gone).
            ``drain``: throw away what it prints meanwhile (a replayed cell's output is not kept)."""
            import time

            msg_id = await ensure_async(self.kc.execute(code, silent=True, store_history=False,
                                                        allow_stdin=False, stop_on_error=False))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if drain:
                    await self._drain_iopub()
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=min(left, 0.2 if drain else 1.0)))
                except Exception:  # queue.Empty: is the kernel still there?
                    if not await ensure_async(self.kc.is_alive()):
                        return None
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    return msg

        async def _drain_iopub(self) -> None:
            while True:
                try:
                    await ensure_async(self.kc.iopub_channel.get_msg(timeout=0))
                except Exception:  # queue.Empty
                    return

        def _send_prelude(self) -> None:
            """Install the kernel guard: before any student code runs in this kernel."""
            self._prelude_sent = True
            reply = run_sync(self._silent)(self.guard.prelude(), 120.0)
            if reply is None or reply["content"].get("status") != "ok":
                self._guard_ok = False
                self._note("the grader could not prepare the kernel: "
                           + str((reply or {}).get("content", {}).get("evalue", "no reply"))[:200])

        def _ask(self, what: str, timeout: float = 60.0, source: str | None = None):
            code, nonce = self.guard.call(what, source)
            reply = run_sync(self._silent)(code, timeout)
            if reply is None:
                if not run_sync(self.km.is_alive)():
                    raise DeadKernelError("Kernel died")
                return None
            c = reply["content"]
            return self.guard.answer(nonce, c.get("ename"), c.get("evalue"))

        def _note(self, text: str) -> None:
            if text not in self.integrity_notes:
                self.integrity_notes.append(text)

        def preprocess_cell(self, cell, resources, index):
            m = cell.metadata.get("nbgrader", {}) if cell.cell_type == "code" else {}
            if cell.cell_type != "code" or not cell.source.strip() or getattr(self, "kc", None) is None:
                return super().preprocess_cell(cell, resources, index)
            if not self._prelude_sent:
                self._send_prelude()
            is_grade = bool(m.get("grade")) and not m.get("solution")
            locked = bool(m.get("locked")) or is_grade
            suffix_nonce = None
            original = cell.source
            if is_grade and not _last_is_expression(original):
                suffix, suffix_nonce = self.guard.verify_suffix()
                cell.source = original.rstrip("\n") + "\n" + suffix
            if locked and self._guard_ok:
                ans = self._ask("restore", source=cell.source)
                if ans is None:
                    self._guard_ok = False
                    self._note(f"before {m.get('grade_id') or index}: the kernel did not answer the integrity check")
                elif ans.get("changed"):
                    self._note(f"before {m.get('grade_id') or index}: restored " + ", ".join(ans["changed"][:8]))
            if is_grade and not self._guard_ok:
                cell.source = original
                cell.outputs = [_error("IntegrityError", "the grader could not verify a clean kernel for this "
                                       "test (the submission tampered with the kernel); not run")]
                return cell, resources
            self._in_grade_cell = is_grade
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except CellTimeoutError:
                # nbclient gave up waiting for the kernel to go idle after the interrupt
                cell.source = original
                cell.outputs.append(_error("CellTimeoutError", "the cell timed out and the kernel did not respond "
                                           "to the interrupt"))
                if hasattr(self, "_done"):
                    self._done.add(index)
                self._fresh_kernel_or_stop(index, m.get("grade_id") or f"cell {index}")
                self._replies.pop(index, None)
                return cell, resources
            finally:
                cell.source = original
                self._in_grade_cell = False
            reply = self._replies.pop(index, None)
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
                # interrupted after the timeout: is the kernel back?  If not (SIGINT ignored, stuck in C),
                # every later cell would wait out its own timeout: grading goes on in a fresh kernel instead.
                code, nonce = self.guard.call("ping")
                if run_sync(self._silent)(code, 5.0) is None:
                    self._fresh_kernel_or_stop(index, m.get("grade_id") or f"cell {index}")
                    return cell, resources
            if is_grade:
                self._judge(cell, reply, suffix_nonce)
            elif locked and self._setup_pending and m.get("grade_id") and self._guard_ok:
                # the first locked non-grade cell is the setup: snapshot the names it defines
                self._setup_pending = False
                if self._ask("setup") is None:
                    self._guard_ok = False
            return cell, resources

        def _fresh_kernel_or_stop(self, index: int, what: str) -> None:
            """After cell ``index`` timed out and its kernel ignored the interrupt: grading goes on with
            the next cell in a fresh kernel that has run the cells before it again (tests excepted).
            Raises UnresponsiveKernel (the cells after it are not run) when that cannot be done."""
            why = self._restart_and_replay(index)
            if why is not None:
                self.unresponsive = what
                self._note(f"after {what}: no fresh kernel ({why})")
                raise UnresponsiveKernel("the kernel did not respond after the interrupt")
            self.restarts += 1
            self._note(f"{what} timed out and ignored the interrupt: the kernel was restarted and the "
                       "cells before it were run again")
            if self.restarts == 1 and getattr(self, "outcome", "ok") in ("ok", "timeout"):
                self.outcome = "timeout"
                self.detail = (f"{what} timed out and the kernel could not be interrupted; the cells after it "
                               "were graded in a fresh kernel")

        def _restart_and_replay(self, index: int) -> str | None:
            """Kill the kernel, start a fresh one with the kernel guard, run the code cells before
            ``index`` again (test cells excepted, outputs thrown away).  None when done, else why not."""
            import time

            if self.restarts >= self.max_restarts:
                return f"{self.max_restarts} restarts already"
            deadline = getattr(self, "_deadline", None)
            if deadline is not None and deadline - time.monotonic() < 5:
                return "the notebook time limit is reached"

            async def restart():
                await ensure_async(self.kc.stop_channels())
                await ensure_async(self.km.restart_kernel(now=True))  # same sandbox, working dir, connection
                self.kc = self.km.client()
                await ensure_async(self.kc.start_channels())
                await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
                self.kc.allow_stdin = False

            try:
                run_sync(restart)()
            except Exception as exc:
                return f"restart failed: {exc.__class__.__name__}: {str(exc)[:100]}"
            old = self.guard
            self.guard = KernelGuard(modules=old.modules, class_packages=old.class_packages,
                                     trusted_dirs=old.trusted_dirs)
            self._guard_ok, self._setup_pending = True, True
            self._send_prelude()
            skip = getattr(self, "skip_cells_with_tag", "skip-execution")
            for i, c in enumerate(self.nb.cells[:index]):
                m = c.metadata.get("nbgrader", {})
                if c.cell_type != "code" or not c.source.strip() or skip in c.metadata.get("tags", []):
                    continue
                if m.get("grade") and not m.get("solution"):
                    continue  # tests are scored already and define nothing later cells need
                if any(o.get("ename") in ("CellTimeoutError", "NotebookTimeout") for o in c.get("outputs", [])):
                    continue  # it would only time out again
                locked = bool(m.get("locked"))
                if locked and self._guard_ok and self._ask("restore", source=c.source) is None:
                    self._guard_ok = False
                timeout = self._cell_timeout(c) if hasattr(self, "_cell_timeout") else (self.timeout or 60)
                if run_sync(self._silent)(c.source, timeout, True) is None:
                    return f"cell {m.get('grade_id') or i} did not finish when run again"
                if locked and self._setup_pending and m.get("grade_id") and self._guard_ok:
                    self._setup_pending = False
                    if self._ask("setup") is None:
                        self._guard_ok = False
            run_sync(self._drain_iopub)()
            return None

        def _judge(self, cell, reply, suffix_nonce) -> None:
            gid = cell.metadata["nbgrader"].get("grade_id")
            for n in fix_verdict(cell, reply):
                self._note(f"{gid}: {n}")
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            if suffix_nonce is None:
                return
            # our verify statement ran last in the cell; its report is the cell's error
            mine = [o for o in errors if o.get("ename") == "CourseGuardReport"]
            others = [o for o in errors if o.get("ename") != "CourseGuardReport"]
            cell.outputs = [o for o in cell.outputs if o not in mine]
            if others:
                return  # the test failed on its own: 0 points already
            ans = self.guard.answer(suffix_nonce, mine[0].get("ename"), mine[0].get("evalue")) if mine else None
            if ans is None:
                cell.outputs.append(_error("IntegrityError", "the grader could not verify this test's result "
                                           "(the submission interfered with the check); no points"))
                self._note(f"{gid}: verification missing")
            elif ans.get("changed"):
                what = ", ".join(ans["changed"][:6])
                cell.outputs.append(_error("IntegrityError", f"while this test ran, the submission modified {what}; "
                                           "no points"))
                self._note(f"{gid}: modified during the test: {what}")

    return IntegrityExecute
