"""Steps 4-5: the student's cells run in their kernel, the test cells in the judge.

:class:`JudgedExecute` is nbgrader's ``Execute`` preprocessor (through the
worker's ``GuardedExecute``: notebook deadline, dead-kernel survival) with one
change: a grade cell is not sent to the kernel.  The kernel enters its agent's
serve loop (one silent request), the :class:`~autograder.pipeline.steps.judge.Judge` runs the
cell here, and the verdict becomes the cell's outputs, which nbgrader's
``SaveAutoGrades`` scores as usual (an error output: 0 points; otherwise the
cell's points, or the number of its last expression).

What a run does with each code cell is its *plan* (``index -> action``):
``kernel`` (the student's cells and the setup), ``both`` (a locked cell that
the judge also runs, e.g. a PyTorch task's imports), ``judge`` (a grade cell of
a task of this kernel's profile) or ``skip`` (a grade cell of another profile,
and anything after this profile's last test).

Also here, because a judge makes the in-kernel guard unnecessary but not what
the guard did for robustness: output capped as it arrives, and a kernel that
ignores the interrupt after a timeout replaced by a fresh one that reruns the
cells before (``max_restarts`` times).
"""
from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_hook
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import setenv

from autograder import cells
from autograder.pipeline.job import GradeJob, NotebookResult
from autograder.pipeline.spec import kernel_modules
from autograder.pipeline.steps.judge import DeadlineSocketTransport, Judge, Link, meter_for, shortcut_by_name
from autograder.runtime.kernels import launch_deferred_spare, release_kernel, take_kernel
from autograder.runtime.sandbox import Limits

if TYPE_CHECKING:
    import logging

    from jupyter_client import KernelManager
    from nbformat import NotebookNode
    from traitlets.config import Config

    from autograder.pipeline.spec import NotebookSpec, Profile

__all__ = ["GuardedExecute", "JudgedExecute", "ProfileRun", "plan_for", "run_profile", "SERVE_CODE"]

SERVE_CODE = "__import__('course_lib.agent', fromlist=['serve']).serve()"
CONNECT_TIMEOUT = 60.0


def _error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


async def wait_for_ready(kc: Any, timeout: float) -> None:
    """The kernel answers kernel_info and its IOPub reaches us (see GuardedExecute.async_start_new_kernel_client)."""
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


class GuardedExecute(Execute):
    """nbgrader's Execute with a whole-notebook deadline and dead-kernel survival."""

    notebook_timeout = Limits.notebook_timeout
    after_first_cell: Callable[[], None] | None = None  # called once the first cell has run (kernels.launch_deferred_spare)

    def preprocess(self, nb: NotebookNode, resources: dict | None = None,
                   km: KernelManager | None = None) -> tuple[NotebookNode, dict]:
        self._deadline = time.monotonic() + float(self.notebook_timeout)
        self._t_start, self.kernel_start_s = time.perf_counter(), 0.0
        self._done: set[int] = set()
        self.outcome, self.detail = "ok", None
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as exc:
            self.outcome, self.detail = "kernel_died", f"the kernel died ({exc})"
            self._fail_rest(nb, "DeadKernelError", "The kernel died while running this notebook; "
                            "this cell was not run.")
            return nb, resources or {}

    async def async_start_new_kernel_client(self) -> Any:
        """nbclient's, with a readiness check that does not sit idle.

        jupyter_client's ``wait_for_ready`` waits 0.2 s for IOPub after the
        kernel_info reply and 0.2 s more to flush IOPub, often twice: half a
        second per kernel with its core idle, on every submission.  This
        waits as long as the kernel needs and no longer: the same handshake
        (a kernel_info reply, then any IOPub message proving the subscription
        is live), polled in short steps.
        """
        try:
            self.kc = self.km.client()
            await ensure_async(self.kc.start_channels())
            await wait_for_ready(self.kc, self.startup_timeout)
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

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code" and time.monotonic() >= self._deadline:
            if self.outcome == "ok":
                self.outcome = "timeout"
                self.detail = f"notebook time limit of {self.notebook_timeout:g} s reached"
            cell.outputs.append(_error(
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
                self.outcome, self.detail = "timeout", f"cell {cells.grade_id(cell) or index} timed out"
        return cell, resources

    def _fail_rest(self, nb, ename, evalue):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and i not in self._done:
                cell.outputs.append(_error(ename, evalue))



class UnresponsiveKernel(DeadKernelError):
    """A timed-out cell whose kernel did not come back after the interrupt."""


class JudgedExecute(GuardedExecute):
    plan: dict[int, str] = {}
    spec: Any = None                 # autograder.pipeline.spec.NotebookSpec
    meter_factory: Any = None        # km -> a measure() backend for the judge
    max_output_bytes: int = Limits.max_output_bytes
    max_restarts: int = 3
    connect_timeout: float = CONNECT_TIMEOUT
    integrity_notes: list
    verdicts: dict
    judge: Judge | None
    _judge_failed: str | None

    # ---------------------------------------------------------- outputs
    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        # nbclient keeps every output in memory and LimitOutput trims only afterwards: a print
        # loop of hundreds of MB would fill the grader's memory first.  Cap it as it arrives.
        if msg["msg_type"] != "error":
            c = msg["content"]
            size = len(c.get("text") or "") + sum(len(str(v)) for v in (c.get("data") or {}).values())
            used = self._out_bytes.get(cell_index, 0)
            self._out_bytes[cell_index] = used + size
            if used + size > self.max_output_bytes:
                stderr = msg["msg_type"] == "stream" and c.get("name") == "stderr"
                key = (cell_index, "stderr" if stderr else "other")
                if key not in self._out_capped:
                    self._out_capped.add(key)
                    outs.append(new_output("stream", name="stderr" if stderr else "stdout",
                                           text=f"\n[output over {self.max_output_bytes} bytes dropped by the grader]\n"))
                    self._note(f"cell {cell_index}: output capped at {self.max_output_bytes} bytes")
                return None
        return super().output(outs, msg, display_id, cell_index)

    def _note(self, text: str) -> None:
        if text not in self.integrity_notes:
            self.integrity_notes.append(text)

    # ---------------------------------------------------------- the run
    def preprocess(self, nb: NotebookNode, resources: dict | None = None,
                   km: KernelManager | None = None) -> tuple[NotebookNode, dict]:
        self._out_bytes: dict[int, int] = {}
        self._out_capped: set[tuple[int, str]] = set()
        self.integrity_notes = []
        self.verdicts = {}
        self.unresponsive: str | None = None
        self.restarts = 0
        self.judge = None
        self._judge_failed = None
        self._extra_setup: list[str] = []
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        action = self.plan.get(index, "kernel") if cell.cell_type == "code" else "kernel"
        if action == "skip":
            cell.outputs = []
            if hasattr(self, "_done"):
                self._done.add(index)
            return cell, resources
        if action == "judge":
            if hasattr(self, "_done") and self._deadline_passed(cell, index):
                return cell, resources
            self._grade(cell, index)
            if hasattr(self, "_done"):
                self._done.add(index)
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError:
            # nbclient gave up waiting for the kernel to go idle after the interrupt
            cell.outputs.append(_error("CellTimeoutError", "the cell timed out and the kernel did not respond "
                                       "to the interrupt"))
            if hasattr(self, "_done"):
                self._done.add(index)
            self._fresh_kernel_or_stop(index, cells.grade_id(cell) or f"cell {index}")
            return cell, resources
        gid = cells.grade_id(cell)
        if action == "both" and self.spec is not None and gid in self.spec.locked:
            # the judge runs the instructor's version of this locked cell on its side too
            if self.judge is not None:
                self.judge.add_setup(self.spec.locked[gid])
            else:
                self._extra_setup.append(self.spec.locked[gid])
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            # interrupted after the timeout: is the kernel back?  If not (SIGINT ignored, stuck in C),
            # every later cell would wait out its own timeout: grading goes on in a fresh kernel instead.
            if run_sync(self._silent)("None", 5.0) is None:
                self._fresh_kernel_or_stop(index, cells.grade_id(cell) or f"cell {index}")
        return cell, resources

    def _deadline_passed(self, cell, index) -> bool:
        if time.monotonic() < self._deadline:
            return False
        if self.outcome == "ok":
            self.outcome = "timeout"
            self.detail = f"notebook time limit of {self.notebook_timeout:g} s reached"
        cell.outputs = [_error("NotebookTimeout", f"The notebook ran longer than {self.notebook_timeout:g} s; "
                               "this test was not run.")]
        self._done.add(index)
        return True

    # ---------------------------------------------------------- the judge
    def _connect(self):
        """A Link to this kernel's agent (it connected when the kernel started)."""
        listener = getattr(self.km, "course_agent", None)
        if listener is None:
            return None
        sock = listener.accept(self.connect_timeout)
        if sock is None:
            return None
        return Link(DeadlineSocketTransport(sock))

    def _get_judge(self):
        if self.judge is not None or self._judge_failed:
            return self.judge
        link = self._connect()
        if link is None:
            self._judge_failed = "the grader could not reach the kernel's agent (the kernel did not connect)"
            self._note(self._judge_failed)
            return None
        meter = self.meter_factory(self.km) if self.meter_factory is not None else None
        spec = self.spec
        self.judge = Judge(link, spec.setup if spec is not None else "", meter=meter,
                           reference=spec.reference() if spec is not None else None,
                           extra_setup=list(self._extra_setup))
        return self.judge

    def _cell_deadline(self) -> float:
        return min(time.monotonic() + float(self.timeout or 10**9), self._deadline)

    def _grade(self, cell, index: int) -> None:
        gid = cells.grade_id(cell) or f"cell {index}"
        task = cells.task_of(gid)
        judge = self._get_judge()
        if judge is None:
            cell.outputs = [_error("GraderError", self._judge_failed or "no judge")]
            return
        info = self.spec.task(task) if (self.spec is not None and task) else None
        if info is not None and task and info.forbid_names:
            refused = shortcut_by_name(task, info.forbid_names, _solution_source(self.nb, task))
            if refused is not None:
                self.verdicts[gid] = refused
                cell.outputs = refused.outputs()
                return
        deadline = self._cell_deadline()
        msg_id = self.kc.execute(SERVE_CODE, silent=True, store_history=False, allow_stdin=False,
                                 stop_on_error=False)
        earlier = self.spec.earlier_tasks(task) if (self.spec is not None and task) else []
        verdict = judge.run_cell(cell.source, gid, deadline=deadline, earlier_tasks=earlier)
        self.verdicts[gid] = verdict
        link = judge.link
        ended = False
        if link.fault is None:
            link.transport.deadline = time.monotonic() + 10
            try:
                link.end()
                ended = True
            except Exception:
                pass
            link.transport.deadline = None
        else:
            ended = self._recover_serving(link)
        reply = run_sync(self._await_reply)(msg_id, 10.0 if ended else 5.0)
        run_sync(self._drain_iopub)()
        cell.outputs = verdict.outputs()
        if verdict.timed_out and self.outcome == "ok":
            self.outcome, self.detail = "timeout", f"{gid} timed out"
        if reply is None:
            if not run_sync(self.km.is_alive)():
                raise DeadKernelError("Kernel died")
            self._fresh_kernel_or_stop(index, gid)

    def _recover_serving(self, link) -> bool:
        """After a timeout: interrupt the student's code and end the serve loop; True if it ended."""
        if link.transport.broken:
            return False
        try:
            run_sync(self.km.interrupt_kernel)()
        except Exception:
            return False
        link.fault = None
        link.transport.deadline = time.monotonic() + 5
        try:
            link.end()
            return True
        except Exception:
            return False
        finally:
            link.transport.deadline = None

    # ---------------------------------------------------------- kernel plumbing
    async def _silent(self, code: str, timeout: float = 60.0, drain: bool = False):
        """Run ``code`` silently; its execute_reply, or None (no reply in ``timeout``, kernel gone)."""
        msg_id = await ensure_async(self.kc.execute(code, silent=True, store_history=False,
                                                    allow_stdin=False, stop_on_error=False))
        return await self._await_reply(msg_id, timeout, drain)

    async def _await_reply(self, msg_id: str, timeout: float, drain: bool = False):
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
        """Kill the kernel, start a fresh one, run the code cells before ``index`` again (test
        cells excepted, outputs thrown away), reconnect the judge.  None when done, else why not."""
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
        skip = getattr(self, "skip_cells_with_tag", "skip-execution")
        for i, c in enumerate(self.nb.cells[:index]):
            if c.cell_type != "code" or not c.source.strip() or skip in c.metadata.get("tags", []):
                continue
            if self.plan.get(i, "kernel") in ("judge", "skip"):
                continue  # tests are scored already and define nothing later cells need
            if any(o.get("ename") in ("CellTimeoutError", "NotebookTimeout") for o in c.get("outputs", [])):
                continue  # it would only time out again
            timeout = self._cell_timeout(c) if hasattr(self, "_cell_timeout") else (self.timeout or 60)
            if run_sync(self._silent)(c.source, timeout, True) is None:
                return f"cell {cells.grade_id(c) or i} did not finish when run again"
        run_sync(self._drain_iopub)()
        if self.judge is not None:
            link = self._connect()
            if link is None:
                return "the fresh kernel did not connect to the grader"
            self.judge.link = link
        return None



def _solution_source(nb, task: str) -> str | None:
    """The submitted source of ``task``'s solution cell (None if the student deleted it)."""
    for cell in nb.cells:
        if cells.is_solution_cell(cell) and cells.grade_id(cell) == task:
            return cell.source
    return None


def plan_for(nb: NotebookNode, spec: NotebookSpec | None, profile: Profile | None, *,
             main: bool) -> dict[int, str]:
    """What a run of ``profile`` does with each code cell of the sanitized notebook ``nb``.

    Grade cells of the profile's tasks: ``judge``; other grade cells: ``skip``; locked non-grade
    cells other than the setup: ``both``; the rest: ``kernel``.  Unless ``main``, nothing after the
    profile's last test cell runs (its outputs are not kept).
    """
    plan: dict[int, str] = {}
    tasks = set(profile.tasks) if profile is not None else None
    last_judged = -1
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cells.is_test_cell(cell):
            task = cells.task_of(cells.grade_id(cell))
            mine = tasks is None or task in tasks or (task is None and main)
            plan[i] = "judge" if mine else "skip"
            if mine:
                last_judged = i
        elif cells.is_locked_cell(cell) and cells.grade_id(cell) != "setup" and not cells.is_solution_cell(cell):
            plan[i] = "both"
        else:
            plan[i] = "kernel"
    if not main:
        for i in plan:
            if i > last_judged:
                plan[i] = "skip"
    return plan


@dataclass
class ProfileRun:
    """What one run of a notebook (one profile, one kernel) gave."""

    nb: Any
    resources: dict
    plan: dict
    outcome: str
    detail: str | None
    notes: list
    kernel_start_s: float


def give_to(uid: int | None, path: Path) -> None:
    """chown a tree to the sandbox's uid (the kernel must read and write the submission's files)."""
    if uid is None:
        return
    for root, _dirs, files in os.walk(path):
        os.chown(root, uid, uid)
        for f in files:
            os.lchown(os.path.join(root, f), uid, uid)


def move_all(src: Path, dest: Path) -> None:
    for p in list(src.iterdir()):
        if p.name == ".kernel" or p.name.startswith(".mpl"):
            continue  # the sandbox's own files
        shutil.move(str(p), dest / p.name)


def run_profile(job: GradeJob, nb: NotebookNode, resources: dict, cfg: Config, log: logging.Logger,
                spec: NotebookSpec | None, prof: Profile | None, main: bool,
                workdir: Path) -> ProfileRun | NotebookResult:
    """One run of the notebook in a kernel of profile ``prof`` (None: no profiles, one kernel): a
    :class:`ProfileRun`, or a NotebookResult when execution failed outright."""
    name = resources["metadata"]["name"]
    t0 = time.perf_counter()
    ex = JudgedExecute(config=cfg, log=log)
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
    modules = kernel_modules(spec, prof)
    kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
    sbx_spec = (opts.limits(), tuple(str(p) for p in job.hide)) if opts.sandbox else None
    template = (job.templates or {}).get(forbid)
    fork = modules if (opts.warm_kernels and opts.sandbox) else None
    # the kernel was launched in its own empty dir: the submission's files move there
    km, kdir, kwait = take_kernel(kernel_name, modules, sandbox=sbx_spec, fork=fork, template=template,
                                  defer_spare=True, forbid=forbid)
    if opts.warm_kernels:
        ex.after_first_cell = launch_deferred_spare
    sbx = getattr(km, "course_sandbox", None)
    if kdir != workdir:
        move_all(workdir, kdir)
        give_to(getattr(sbx, "uid", None), kdir)
        resources["metadata"]["path"] = str(kdir)
    oom = False
    try:
        with setenv(NBGRADER_EXECUTION="autograde"):
            nb, resources = ex.preprocess(nb, resources, km=km)
    except Exception as exc:
        return NotebookResult(name, "error", error=f"execution failed: {exc.__class__.__name__}: {exc}"[:300],
                              seconds=time.perf_counter() - t0)
    finally:
        oom = sbx is not None and sbx.oom_killed()
        if kdir != workdir:  # hand the files back for the next run or notebook of this submission
            move_all(kdir, workdir)
        release_kernel(km, kdir)
    if getattr(ex, "unresponsive", None):
        ex.outcome, ex.detail = "timeout", (f"{ex.unresponsive} timed out and the kernel could not be interrupted; "
                                            "the cells after it were not run")
    elif ex.outcome == "kernel_died" and oom:
        ex.detail = f"the kernel was killed: it used more than the memory cap of {opts.memory_mb} MB"
    return ProfileRun(nb, resources, ex.plan, ex.outcome, ex.detail, list(ex.integrity_notes),
                      ex.kernel_start_s + (kwait or 0.0))


