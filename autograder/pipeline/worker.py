"""The per-submission grading step, run in a worker process (local pool or Dask).

``grade_submission(job) -> GradeResult`` is a plain, picklable, top-level
function: it takes paths and settings and returns a small result (the executed
notebook JSON, timings, errors).  It never writes the gradebook: the parent is
the one writer (SaveAutoGrades, AssignLatePenalties), so SQLite never sees
concurrent writers.

Inside, it runs nbgrader's own autograde preprocessors -- the sanitize pass
(ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
CheckCellMetadata) and the execution pass (Execute, IgnorePattern,
ClearMetadataPreprocessor, LimitOutput) -- on a private copy of the submission,
in its own fresh kernel, against a read-only snapshot of the gradebook.

What we add (nbgrader lacks it): a whole-notebook time limit, survival of a
dead kernel (its remaining cells get an error, so they score 0, instead of the
whole run failing), and a recorded error for an unreadable notebook.  The
kernel runs in a ``sandbox.Sandbox`` (memory and process caps, own uid, no
network, the course's sources / tests / git history and the instance hidden),
and the grade cells are run by the judge, in this process, not in the kernel
(``execute.JudgedExecute``, ``judge.Judge``): the kernel only answers with data.
A notebook whose tasks forbid different modules is run once per set (*profile*),
each in a kernel without those modules; ``integrity`` checks structure and
malformed input.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import os
import secrets
import shutil
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Not graded, like nbgrader's CourseDirectory.ignore default.
IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]


@dataclass
class GradeJob:
    """Everything a worker needs to grade one submission (picklable)."""

    student: str
    unit: str
    submission_dir: str          # submitted/<student>/<unit>
    source_dir: str              # source/<unit>: its non-notebook files overwrite the student's
    notebooks: list[str]         # notebook names of the unit, from the gradebook
    db_url: str                  # read-only gradebook snapshot, used by OverwriteCells
    course_id: str = "default_course"
    options: Any = None           # options.RunOptions of the run (timeouts, limits, sandbox, warm kernels)
    config: Any = None           # traitlets Config of the instance (Execute, LimitOutput, ...)
    snapshot_bytes: bytes | None = None  # remote workers: the SQLite snapshot itself
    files: dict[str, bytes] | None = None  # remote workers: the submission's files
    max_file_size: int = 100_000  # KB, like CourseDirectory.max_file_size
    hidden_cells: tuple = ()     # grade ids whose source has hidden tests: their checksum change is expected
    specs: dict | None = None     # notebook name -> spec.NotebookSpec (read once by the parent)
    templates: dict | None = None  # profile's forbid tuple -> socket of the run's shared template
    hide: tuple = ()              # paths the kernel must not see (course sources, tests, .git, the instance)

    def __post_init__(self):
        if self.options is None:
            from autograder.options import RunOptions

            self.options = RunOptions()


@dataclass
class NotebookResult:
    name: str
    status: str                  # ok | missing | error | timeout | kernel_died
    nb_json: str | None = None   # the executed notebook, None when it could not be graded
    error: str | None = None
    seconds: float = 0.0
    kernel_start_s: float = 0.0  # from starting the executor to the first cell (kernel start-up)
    warnings: list[str] = field(default_factory=list)


@dataclass
class GradeResult:
    student: str
    unit: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    host: str = ""
    pid: int = 0

    @property
    def status(self) -> str:
        bad = [n.status for n in self.notebooks if n.status != "ok"]
        return bad[0] if bad else "ok"

    @property
    def error(self) -> str | None:
        errs = [f"{n.name}: {n.error}" for n in self.notebooks if n.error]
        return "; ".join(errs) or None


def preload() -> None:
    """Import what grading needs, so forked workers inherit it instead of importing it each."""
    import nbclient  # noqa: F401
    import nbconvert.preprocessors  # noqa: F401
    import nbformat  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401
    import jupyter_client  # noqa: F401
    import sqlalchemy  # noqa: F401

    _execute_class()


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in IGNORE)


def _copy_tree(src: Path, dest: Path, max_kb: int) -> None:
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not _ignored(d) and not os.path.islink(os.path.join(root, d))]
        rel = Path(root).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            p = Path(root) / f
            # a symlink could point at the instructor's source notebook or the gradebook: never follow one
            if _ignored(f) or p.is_symlink() or not p.is_file() or p.stat().st_size > max_kb * 1024:
                continue
            shutil.copyfile(p, dest / rel / f)


def _error_output(ename: str, evalue: str):
    from nbformat.v4 import new_output

    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


async def _wait_for_ready(kc, timeout: float) -> None:
    """The kernel answers kernel_info and its IOPub reaches us (see GuardedExecute.async_start_new_kernel_client)."""
    from queue import Empty

    from jupyter_core.utils import ensure_async

    deadline = time.monotonic() + float(timeout)
    ready = False
    while not ready:
        kc.kernel_info()
        reply_deadline = time.monotonic() + 1.0
        while time.monotonic() < reply_deadline:  # the reply: the kernel may still be starting
            try:
                msg = await ensure_async(kc.shell_channel.get_msg(timeout=0.05))
            except Empty:
                continue
            if msg["msg_type"] == "kernel_info_reply":
                break
        else:
            msg = None
        if msg is not None:
            for _ in range(10):  # its busy/idle status on IOPub: proof that our subscription is live
                try:
                    await ensure_async(kc.iopub_channel.get_msg(timeout=0.02))
                    ready = True
                    kc._handle_kernel_info_reply(msg)
                    break
                except Empty:
                    continue
        if not ready:
            if not await ensure_async(kc.is_alive()):
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
    while True:  # flush what else the handshake published
        try:
            await ensure_async(kc.iopub_channel.get_msg(timeout=0.01))
        except Empty:
            return


def _guarded_execute_class():
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    class GuardedExecute(Execute):
        """nbgrader's Execute with a whole-notebook deadline and dead-kernel survival."""

        notebook_timeout = 600.0
        after_first_cell = None  # called once the first cell has run (kernels.launch_deferred_spare)

        def preprocess(self, nb, resources=None, km=None):
            self._deadline = time.monotonic() + float(self.notebook_timeout)
            self._t_start, self.kernel_start_s = time.perf_counter(), 0.0
            self._done = set()
            self.outcome, self.detail = "ok", None
            try:
                return super().preprocess(nb, resources, km)
            except DeadKernelError as exc:
                self.outcome, self.detail = "kernel_died", f"the kernel died ({exc})"
                self._fail_rest(nb, "DeadKernelError", "The kernel died while running this notebook; "
                                "this cell was not run.")
                return nb, resources

        async def async_start_new_kernel_client(self):
            """nbclient's, with a readiness check that does not sit idle.

            jupyter_client's ``wait_for_ready`` waits 0.2 s for IOPub after the
            kernel_info reply and 0.2 s more to flush IOPub, often twice: half a
            second per kernel with its core idle, on every submission.  This
            waits as long as the kernel needs and no longer: the same handshake
            (a kernel_info reply, then any IOPub message proving the subscription
            is live), polled in short steps.
            """
            from jupyter_core.utils import ensure_async
            from nbclient.util import run_hook

            try:
                self.kc = self.km.client()
                await ensure_async(self.kc.start_channels())
                await _wait_for_ready(self.kc, self.startup_timeout)
            except Exception:
                await self._async_cleanup_kernel()
                raise
            self.kc.allow_stdin = False
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return self.kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)  # what nbconvert's preprocess calls

        def _cell_timeout(self, cell):
            left = self._deadline - time.monotonic()
            # a cell that starts close to the deadline gets only what is left: its timeout is the notebook's
            self._cut_by_deadline = left < (self.timeout or 10**9)
            return max(1, int(min(self.timeout or 10**9, left) + 0.999))

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code" and time.monotonic() >= self._deadline:
                if self.outcome == "ok":
                    self.outcome = "timeout"
                    self.detail = f"notebook time limit of {self.notebook_timeout:g} s reached"
                cell.outputs.append(_error_output(
                    "NotebookTimeout", f"The notebook ran longer than {self.notebook_timeout:g} s; "
                    "this cell was not run."))
                self._done.add(index)
                return cell, resources
            first = not self._done
            if first:
                self.kernel_start_s = time.perf_counter() - self._t_start
            cell, resources = super().preprocess_cell(cell, resources, index)
            self._done.add(index)
            if first and self.after_first_cell is not None:
                # the next kernel starts now, beside this notebook's cells rather than its kernel's start
                hook, self.after_first_cell = self.after_first_cell, None
                hook()
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])) and self.outcome == "ok":
                if getattr(self, "_cut_by_deadline", False):
                    self.outcome = "timeout"
                    self.detail = f"notebook time limit of {self.notebook_timeout:g} s reached"
                else:
                    self.outcome, self.detail = "timeout", f"cell {cell.metadata.get('nbgrader', {}).get('grade_id') or index} timed out"
            return cell, resources

        def _fail_rest(self, nb, ename, evalue):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and i not in self._done:
                    cell.outputs.append(_error_output(ename, evalue))

    return GuardedExecute


def _quiet_log():
    """A logger that keeps nbgrader's warnings (e.g. tampered cells) for the result instead of printing them."""
    import logging

    from autograder.build import _Collect

    log = logging.getLogger(f"course.worker.{os.getpid()}")
    log.propagate = False
    handler = _Collect()
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING)
    return log, handler


def _warnings(messages: list[str], hidden_cells) -> list[str]:
    """nbgrader's warnings worth logging: OverwriteCells restoring hidden tests (a checksum
    change on a cell that has them) is the normal mechanism, not news."""
    out = []
    for m in messages:
        first = m.strip().splitlines()[0] if m.strip() else ""
        if not first or any(f"'checksum' for cell {c} " in first for c in hidden_cells):
            continue
        out.append(first[:200])
    return out[:20]


_EXECUTE_CLASS = None


def _execute_class():
    global _EXECUTE_CLASS
    if _EXECUTE_CLASS is None:
        from autograder.pipeline.steps.execute import judged_execute_class

        _EXECUTE_CLASS = judged_execute_class(_guarded_execute_class())
    return _EXECUTE_CLASS


def _give_to(uid, path: Path) -> None:
    """chown a tree to the sandbox's uid (the kernel must read and write the submission's files)."""
    if uid is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, uid)
        for f in files:
            os.lchown(os.path.join(root, f), uid, uid)


def _move_all(src: Path, dest: Path) -> None:
    for p in list(src.iterdir()):
        if p.name == ".kernel" or p.name.startswith(".mpl"):
            continue  # the sandbox's own files
        shutil.move(str(p), dest / p.name)


def _run_notebook(job: GradeJob, name: str, workdir: Path, db_url: str) -> NotebookResult:
    import copy

    import nbformat
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from traitlets.config import Config

    from autograder.pipeline.steps import structure as integrity
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern,
                                        LimitOutput, OverwriteCells, OverwriteKernelspec)
    from nbgrader.utils import setenv

    t0 = time.perf_counter()
    path = workdir / f"{name}.ipynb"
    if not path.exists() and not path.is_symlink():
        sub = Path(job.submission_dir) if job.files is None else None
        return NotebookResult(name, "missing", error=integrity.missing_notebook_message(workdir, name, sub)[:300])
    nb, why = integrity.read_notebook(path)
    if nb is None:
        return NotebookResult(name, "error", error=f"malformed notebook: {why}"[:300], seconds=time.perf_counter() - t0)
    structure = []
    src_path = Path(job.source_dir) / f"{name}.ipynb"
    if src_path.is_file():
        try:
            structure = integrity.structure_issues(nb, nbformat.read(str(src_path), as_version=4))
        except Exception as exc:  # the check informs; it must not cost the student a grade
            structure = [f"structure check failed: {exc.__class__.__name__}"]
    resources = {
        "unique_key": name,
        "metadata": {"name": name, "path": str(workdir)},
        "nbgrader": {"student": job.student, "assignment": job.unit, "notebook": name, "db_url": db_url},
    }
    cfg = copy.deepcopy(job.config) if job.config is not None else Config()
    # nbgrader's own repair for deleted (or de-flagged) grade cells: put them back, so they run and score
    cfg.OverwriteCells.add_missing_cells = True
    log, collected = _quiet_log()
    # copy/paste duplicates grade ids, which nbgrader's sanitize pass below fails on: keep one copy of each
    nb, structure = _repair_duplicates(nb, src_path, structure)
    raw = copy.deepcopy(nb)
    try:
        # nbgrader's sanitize pass, in nbgrader's order
        for cls in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
            nb, resources = cls(config=cfg, log=log)(nb, resources)
    except Exception:
        try:  # add_missing_cells can fail on an odd layout; nbgrader's plain pass still grades what is there
            nb = raw
            cfg.OverwriteCells.add_missing_cells = False
            for cls in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
                nb, resources = cls(config=cfg, log=log)(nb, resources)
        except Exception as exc:
            return NotebookResult(name, "error", error=f"sanitize failed: {exc.__class__.__name__}: {exc}"[:300],
                                  seconds=time.perf_counter() - t0)
    # nbgrader's autograde pass up to (not including) SaveAutoGrades, which the parent runs; once per
    # profile (the tasks that forbid the same modules), the last profile's run giving the notebook
    spec = (job.specs or {}).get(name)
    if spec is None:
        from autograder.pipeline.spec import read_spec

        try:
            spec = read_spec(nbformat.read(str(src_path), as_version=4), name) if src_path.is_file() else None
        except Exception:  # noqa: BLE001 - graded without references and profiles
            spec = None
    profiles = list(spec.profiles) if spec is not None and spec.profiles else [None]
    runs = []
    for prof in profiles:
        main = prof is profiles[-1]
        run_nb = nb if main else copy.deepcopy(nb)
        run = _execute(job, run_nb, dict(resources, metadata=dict(resources["metadata"])), cfg, log, spec, prof,
                       main, workdir)
        if isinstance(run, NotebookResult):
            return dataclasses.replace(run, seconds=time.perf_counter() - t0)
        runs.append(run)
    nb, resources = runs[-1]["nb"], runs[-1]["resources"]
    for run in runs[:-1]:  # grade cells judged in another profile's kernel take that run's outputs
        for i, action in run["plan"].items():
            if action == "judge" and i < len(nb.cells):
                nb.cells[i].outputs = run["nb"].cells[i].outputs
    for cls in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        nb, resources = cls(config=cfg, log=log)(nb, resources)
    outcome, detail = "ok", None
    for run in runs:
        if run["outcome"] != "ok" and outcome == "ok":
            outcome, detail = run["outcome"], run["detail"]
    notes = structure + [n for run in runs for n in run["notes"]]
    return NotebookResult(name, outcome, nbformat.writes(nb), error=detail,
                          seconds=time.perf_counter() - t0,
                          kernel_start_s=sum(r["kernel_start_s"] for r in runs),
                          warnings=(_warnings(collected.messages, job.hidden_cells) + notes)[:30])


def _execute(job: GradeJob, nb, resources, cfg, log, spec, prof, main: bool, workdir: Path):
    """One run of the notebook in a kernel of profile ``prof`` (None: no profiles, one kernel):
    a dict (nb, resources, plan, outcome, detail, notes, kernel_start_s), or a NotebookResult
    when execution failed outright."""
    import secrets
    import time as _time

    from nbgrader.utils import setenv

    from autograder.pipeline.steps.execute import plan_for
    from autograder.pipeline.steps.judge import meter_for
    from autograder.pipeline.spec import kernel_modules

    name = resources["metadata"]["name"]
    t0 = _time.perf_counter()
    ex = _execute_class()(config=cfg, log=log)
    ex.spec = spec
    ex.plan = plan_for(nb, spec, prof, main=main)
    ex.meter_factory = meter_for
    opts = job.options
    ex.max_output_bytes = int(opts.max_output_bytes)
    ex.timeout = int(opts.cell_timeout)
    # nbclient skips cells tagged "skip-execution", and the student writes the tags: a tagged test would
    # not run (no verdict, nothing to fail).  No cell of a submission may opt out of grading.
    ex.skip_cells_with_tag = f"course-grader-never-{secrets.token_hex(8)}"
    ex.notebook_timeout = opts.notebook_seconds
    ex.timeout_func = ex._cell_timeout
    if not ex.extra_arguments:
        # keep the kernel's own start-up chatter (e.g. the TCP warning) out of the grader's output
        ex.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
    forbid = tuple(prof.forbid) if prof is not None else ()
    modules = kernel_modules(spec, prof) if (spec is not None and prof is not None) else ("course_lib.agent", "numpy")
    kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
    sbx_spec = (opts.limits(), tuple(str(p) for p in job.hide)) if opts.sandbox else None
    template = (job.templates or {}).get(forbid)
    fork = modules if (opts.warm_kernels and opts.sandbox) else None
    from autograder.runtime.kernels import launch_deferred_spare, release_kernel, take_kernel

    # the kernel was launched in its own empty dir: the submission's files move there
    km, kdir, kwait = take_kernel(kernel_name, modules, sandbox=sbx_spec, fork=fork, template=template,
                                  defer_spare=True, forbid=forbid)
    if opts.warm_kernels:
        ex.after_first_cell = launch_deferred_spare
    sbx = getattr(km, "course_sandbox", None)
    if kdir != workdir:
        _move_all(workdir, kdir)
        _give_to(getattr(sbx, "uid", None), kdir)
        resources["metadata"]["path"] = str(kdir)
    oom = False
    try:
        with setenv(NBGRADER_EXECUTION="autograde"):
            nb, resources = ex.preprocess(nb, resources, km=km)
    except Exception as exc:
        return NotebookResult(name, "error", error=f"execution failed: {exc.__class__.__name__}: {exc}"[:300],
                              seconds=_time.perf_counter() - t0)
    finally:
        oom = sbx is not None and sbx.oom_killed()
        if kdir != workdir:  # hand the files back for the next run or notebook of this submission
            _move_all(kdir, workdir)
        release_kernel(km, kdir)
    if getattr(ex, "unresponsive", None):
        ex.outcome, ex.detail = "timeout", (f"{ex.unresponsive} timed out and the kernel could not be interrupted; "
                                            "the cells after it were not run")
    elif ex.outcome == "kernel_died" and oom:
        ex.detail = f"the kernel was killed: it used more than the memory cap of {opts.memory_mb} MB"
    return {"nb": nb, "resources": resources, "plan": ex.plan, "outcome": ex.outcome, "detail": ex.detail,
            "notes": list(getattr(ex, "integrity_notes", [])), "kernel_start_s": ex.kernel_start_s + (kwait or 0.0)}


def _repair_duplicates(nb, src_path: Path, structure: list[str]):
    """``integrity.repair_duplicates`` before nbgrader's sanitize pass: (notebook, the structure notes with
    "cell X is duplicated" replaced by what the repair did).  Unchanged notebook if the repair fails."""
    import copy

    import nbformat

    from autograder.pipeline.steps import structure as integrity

    try:
        source = nbformat.read(str(src_path), as_version=4) if src_path.is_file() else None
    except Exception:
        source = None  # the cells' own flags say which are solution cells
    try:
        fixed_nb = copy.deepcopy(nb)
        fixed = integrity.repair_duplicates(fixed_nb, source)
    except Exception as exc:  # like the structure check: it must not cost the student a grade
        return nb, structure + [f"duplicate repair failed: {exc.__class__.__name__}"]
    said = {f"cell {gid} is duplicated" for gid in fixed}
    return fixed_nb, [s for s in structure if s not in said] + list(fixed.values())


def grade_submission(job: GradeJob) -> GradeResult:
    """Grade one submission in a private temp dir and a fresh kernel; never raises."""
    t0 = time.perf_counter()
    result = GradeResult(job.student, job.unit, host=socket.gethostname(), pid=os.getpid())
    try:
        with tempfile.TemporaryDirectory(prefix=f"course-grade-{job.student}-") as tmp:
            tmp = Path(tmp)
            workdir = tmp / job.unit
            workdir.mkdir()
            if job.files is not None:
                for rel, data in job.files.items():
                    (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
                    (workdir / rel).write_bytes(data)
            else:
                _copy_tree(Path(job.submission_dir), workdir, job.max_file_size)
            from autograder.pipeline.steps.structure import drop_shadowing

            shadowing = drop_shadowing(workdir)  # before the source's own supporting files are added
            # like nbgrader autograde: supporting files come from the source, not the student
            src = Path(job.source_dir)
            if src.is_dir():
                for p in src.rglob("*"):
                    if p.is_file() and p.suffix != ".ipynb" and not any(_ignored(x) for x in p.relative_to(src).parts):
                        dest = workdir / p.relative_to(src)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(p, dest)
            db_url = job.db_url
            if job.snapshot_bytes is not None:
                snap = tmp / "gradebook-snapshot.db"
                snap.write_bytes(job.snapshot_bytes)
                db_url = "sqlite:///" + str(snap)
            result.timings["setup_s"] = time.perf_counter() - t0
            for name in job.notebooks:
                result.notebooks.append(_run_notebook(job, name, workdir, db_url))
                if shadowing:
                    result.notebooks[-1].warnings.insert(0, "not used (would shadow a module): "
                                                         + ", ".join(shadowing[:10]))
    except Exception as exc:  # a worker must hand back a result, never an exception
        tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
        result.notebooks.append(NotebookResult("*", "error", error=f"worker error: {tb}"[:300]))
    result.timings["total_s"] = time.perf_counter() - t0
    result.timings["execute_s"] = sum(n.seconds for n in result.notebooks)
    return result
