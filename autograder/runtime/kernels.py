"""Warm kernel pool: each worker process starts its next kernel while it grades.

Kernel start-up (a new Python process, ipykernel, the course's imports such
as numpy) is most of the per-submission overhead.  With ``warm_kernels`` a
worker takes a kernel that was launched while the previous submission was
being graded, and at once launches the next one.  Each kernel grades exactly
one submission and is then shut down; it is launched in a fresh private
directory into which the submission is copied, so it starts where the
student's files are.  The course's imports run at kernel start-up as
``IPKernelApp.exec_lines`` under throwaway names (deleted again), so they
neither add to the execution count nor leave names in the namespace.

jupyter_client and nbclient start a kernel per notebook and offer no pool;
that is why this module exists.  With a sandbox spec ``(Limits, hide)`` each
kernel runs in its own ``sandbox.Sandbox`` (one uid, cgroups and private
directory per kernel, so per submission), held on ``km.course_sandbox``.
"""
from __future__ import annotations

import atexit
import multiprocessing.util
import os
import select
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from autograder.runtime.forkserver import provisioner_for, server_for
from autograder.runtime.sandbox import CGROUP_PARENT, CGROUP_ROOT, SANDBOX_BASE, Limits, Sandbox, can_isolate

KERNEL_ARGS = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]

_spare: dict[tuple, tuple] = {}   # (kernel_name, preimports) -> (km, workdir, launched_at)
_finalizer: Any = None
_deferred = None  # (key, _launch_spare args): the spare take_kernel(defer_spare=True) left to launch


class AgentListener:
    """The judge's end of a kernel's agent socket (:mod:`course_lib.agent`): a Unix socket the kernel
    connects to when it starts, before any student code runs; again after a restart."""

    def __init__(self, path: Path, uid: int | None = None):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)  # the kernel's own uid connects; its directory is the grader's
        self.sock.listen(4)

    def accept(self, timeout: float) -> socket.socket | None:
        """The newest connection of the kernel (None if none comes within ``timeout`` seconds)."""
        conn = None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic() if conn is None else 0
            r, _, _ = select.select([self.sock], [], [], max(0.0, left))
            if not r:
                return conn
            new, _ = self.sock.accept()
            if conn is not None:
                conn.close()
            conn = new

    def close(self) -> None:
        try:
            self.sock.close()
            os.unlink(self.path)
        except OSError:
            pass


#: The module each grading kernel imports first, before the setup's: the judge's agent.
AGENT_MODULE = "course_lib.agent"


def agent_line(path: str, forbid: tuple[str, ...] = ()) -> str:
    """The kernel's first start-up line: connect to the judge (and, as a courtesy where no sandbox
    takes modules away, refuse to import the forbidden ones)."""
    line = f"import {AGENT_MODULE} as _course_agent\n_course_agent.connect({path!r})\n"
    if forbid:
        line += f"_course_agent.refuse_imports({tuple(forbid)!r})\n"
    return line + "del _course_agent"


def preimport_lines(modules: tuple[str, ...]) -> list[str]:
    lines = []
    for i, mod in enumerate(modules):
        alias = f"_course_warm_{i}"
        lines.append(f"try:\n    import {mod} as {alias}\n    del {alias}\nexcept Exception:\n    pass")
    return lines




class SandboxedKernelManager(AsyncKernelManager):
    """A ``jupyter_client`` AsyncKernelManager (what nbclient expects) whose kernel runs inside ``sandbox``.

    The kernel talks over Unix sockets in its working directory, since it has
    no network (not even loopback shared with the grader).  With
    ``fork_modules`` the kernel is forked from a template process that has
    imported those modules (:mod:`autograder.runtime.forkserver`), where that works;
    ``template``: the socket of a template shared by the grading run's workers.
    """

    def __init__(self, sandbox: Sandbox, fork_modules: tuple[str, ...] | None = None,
                 template: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.course_sandbox = sandbox
        self._server = server_for(tuple(fork_modules), template) if fork_modules is not None else None
        if self._server is not None:
            self.provisioner = provisioner_for(self, self._server, str(sandbox._spec_path or ""))
        # The connection file (it holds the HMAC key) and the sockets live in a
        # directory only the submission's uid (and the grader) can enter.
        assert sandbox.workdir is not None, "enter the sandbox before starting its kernel"
        ipc_dir = Path(sandbox.workdir) / ".kernel"
        ipc_dir.mkdir(mode=0o700, exist_ok=True)
        if sandbox.uid is not None:
            os.chown(ipc_dir, sandbox.uid, sandbox.uid)
        if sandbox.isolate and not sandbox.limits.network:
            self.transport = "ipc"
            self.ip = str(ipc_dir / "k")
        self.connection_file = str(ipc_dir / "connection.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        return cmd if self._server is not None else self.course_sandbox.wrap(cmd)  # the fork provisioner wraps if it must

    def sandbox_cmd(self, cmd: list[str]) -> list[str]:
        return self.course_sandbox.wrap(cmd)

    def write_connection_file(self, **kw: Any) -> None:
        super().write_connection_file(**kw)
        if self.course_sandbox.uid is not None:  # the kernel's own uid must read its connection file
            os.chown(self.connection_file, self.course_sandbox.uid, self.course_sandbox.uid)


def kernel_dir(sandboxed: bool) -> Path:
    """A fresh ``<base>/course-kernel-XXXX/work`` for one kernel.

    Sandboxed kernels (as root) live outside /tmp, under a root-owned
    ``SANDBOX_BASE``, so that /tmp, /var/tmp and /dev/shm can be hidden from
    them (no writing outside their own directory).
    """
    parent = None
    if sandboxed and can_isolate():
        try:
            SANDBOX_BASE.mkdir(parents=True, exist_ok=True)
            os.chmod(SANDBOX_BASE, 0o711)
            parent = str(SANDBOX_BASE)
        except OSError:
            parent = None
    base = Path(tempfile.mkdtemp(prefix="course-kernel-", dir=parent))
    if sandboxed:
        os.chmod(base, 0o711)  # the kernel's own uid must reach its working directory
    workdir = base / "work"
    workdir.mkdir()
    return workdir


def temp_dirs_to_hide(needed: tuple = ()) -> tuple[str, ...]:
    """World-writable temp dirs a sandboxed kernel must not see, unless the interpreter or course lives there."""
    keep = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, *needed)]
    out = []
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        p = Path(d).resolve()
        if p.is_dir() and not any(k == p or p in k.parents for k in keep) and not str(SANDBOX_BASE).startswith(d):
            out.append(str(p))
    return tuple(out)


def _launch(kernel_name: str, modules: tuple[str, ...], sandbox=None, fork: tuple[str, ...] | None = None,
            template: str | None = None, forbid: tuple[str, ...] = ()):
    """Start a kernel in a fresh directory (in a Sandbox when ``sandbox`` is ``(Limits, hide)``),
    with its agent connecting to ``km.course_agent`` and ``modules`` imported ahead of time."""
    workdir = kernel_dir(sandbox is not None)
    sbx: Sandbox | None = None
    km: Any
    if sandbox is not None:
        sbx = Sandbox(limits=sandbox[0], hide=tuple(sandbox[1]), workdir=workdir, forbid=tuple(forbid)).__enter__()
        km = SandboxedKernelManager(sbx, fork_modules=fork, template=template, kernel_name=kernel_name)
    else:
        km = AsyncKernelManager(kernel_name=kernel_name)
    km.course_sandbox = sbx
    km.course_agent = AgentListener(workdir.parent / "agent")
    km.course_forbid = tuple(forbid)
    args = list(KERNEL_ARGS) + [f"--IPKernelApp.exec_lines={agent_line(km.course_agent.path, tuple(forbid))}"]
    for line in preimport_lines(tuple(m for m in modules if m != AGENT_MODULE)):
        args.append(f"--IPKernelApp.exec_lines={line}")
    try:
        run_sync(km.start_kernel)(extra_arguments=args, cwd=str(workdir))
    except BaseException:
        _shutdown(km, workdir)
        raise
    return km, workdir, time.perf_counter()


def _shutdown(km, workdir: Path | None) -> None:
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:
        pass
    sbx = getattr(km, "course_sandbox", None)
    if sbx is not None:  # kills whatever the submission left running, removes its cgroups
        km.course_sandbox = None
        sbx.__exit__(None, None, None)
    agent = getattr(km, "course_agent", None)
    if agent is not None:
        km.course_agent = None
        agent.close()
    if workdir is not None:
        shutil.rmtree(workdir.parent, ignore_errors=True)


def _shutdown_spares() -> None:
    while _spare:
        _, (km, workdir, _) = _spare.popitem()
        _shutdown(km, workdir)


def _launch_spare(kernel_name, modules, sandbox, fork, template=None, forbid=()):
    km, workdir, launched = _launch(kernel_name, modules, sandbox, fork, template, forbid)
    return km, workdir, launched


def take_kernel(kernel_name: str = "python3", modules: tuple[str, ...] = ("numpy",),
                sandbox: tuple[Limits, tuple[str, ...] | list[str]] | None = None,
                fork: tuple[str, ...] | None = None, template: str | None = None, defer_spare: bool = False,
                forbid: tuple[str, ...] = ()) -> tuple[Any, Path, float]:
    """A started kernel (``AsyncKernelManager``) and its empty working dir; launches the next one.

    ``sandbox``: None, or ``(sandbox.Limits, hide_paths)``: the kernel runs in its own Sandbox.
    ``fork``: with a sandbox, fork the kernel from a template that imported these modules
    (:mod:`autograder.runtime.forkserver`) instead of starting a new interpreter.
    ``template``: the socket of the run's shared template (:class:`forkserver.TemplateClient`).
    ``defer_spare``: the next kernel is launched by :func:`launch_deferred_spare` (once this one runs
    its first cell) instead of now, so that its start-up does not compete with this one's.
    ``forbid``: modules this kernel must not be able to import (taken away by the sandbox).
    The kernel's agent connects to ``km.course_agent`` (:class:`AgentListener`).
    Returns ``(km, workdir, waited_s)``: ``waited_s`` is 0 when a spare was ready to hand.
    """
    global _finalizer
    fork = tuple(fork) if fork is not None and sandbox is not None else None
    forbid = tuple(forbid)
    key = (kernel_name, tuple(modules), sandbox, fork, template, forbid)
    t0 = time.perf_counter()
    got = _spare.pop(key, None)
    if got is not None:
        km, workdir, _ = got
        if not km.has_kernel or not _alive(km):
            _shutdown(km, workdir)  # died while waiting: a fresh one
            got = None
    if got is None:
        km, workdir, _ = _launch(kernel_name, key[1], sandbox, fork, template, forbid)
    waited = time.perf_counter() - t0
    global _deferred
    _deferred = (key, (kernel_name, key[1], sandbox, fork, template, forbid))
    if not defer_spare:
        launch_deferred_spare()
    if _finalizer is None:
        # multiprocessing workers leave through os._exit (no atexit); Finalize still runs
        _finalizer = multiprocessing.util.Finalize(None, _shutdown_spares, exitpriority=10)

        atexit.register(_shutdown_spares)
    return km, workdir, waited


def launch_deferred_spare() -> None:
    """Launch the spare that the last ``take_kernel(..., defer_spare=True)`` left to launch (if any)."""
    global _deferred
    if _deferred is None:
        return
    (key, args), _deferred = _deferred, None
    if key in _spare:
        return
    try:
        _spare[key] = _launch_spare(*args)
    except Exception:  # no spare: the next take_kernel starts its kernel itself
        pass


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def reap_orphans() -> int:
    """Kill the kernels a killed grading run left behind; returns how many.

    Kernels run in their own session (and sandbox), so killing a grading run
    with its process group leaves them running, reparented to init, forever.
    A sandboxed kernel is known by its cgroup: one whose processes all have
    lost their parent (ppid 1, or a parent in the same cgroup) belongs to no live run.  Their working
    directories under ``SANDBOX_BASE`` are removed once nothing uses them.
    """
    groups, orphans = [], set()
    for controller in ("pids", "memory"):
        parent = CGROUP_ROOT / controller / CGROUP_PARENT
        if not parent.is_dir():
            continue
        for cg in parent.iterdir():
            if not cg.is_dir():
                continue
            try:
                pids = [int(p) for p in (cg / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                continue
            # lost: every process's parent is init, gone, or in the cgroup too (the PID-namespace
            # waiter is the kernel's parent; the kernel, its own processes')
            if pids and all(_ppid(p) in (1, None) or _ppid(p) in pids for p in pids):
                orphans.update(pids)
                groups.append(cg)
            elif not pids and time.time() - cg.stat().st_mtime > 60:  # not one a live run is just filling
                groups.append(cg)
    for p in orphans:
        try:
            os.kill(p, 9)
        except OSError:
            pass
    time.sleep(0.3 if orphans else 0)
    for cg in groups:
        try:
            cg.rmdir()
        except OSError:
            pass
    killed = len(orphans)
    if SANDBOX_BASE.is_dir():
        in_use: set[str] = set()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    in_use.update(a for a in (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                                  if a.startswith(str(SANDBOX_BASE)))
                except OSError:
                    pass
                # a kernel forked from a template has the template's command line, not its directory:
                # its working directory says where it lives (another run's kernel, busy for minutes)
                try:
                    in_use.add(os.readlink(proc / "cwd") + "/")
                except OSError:
                    pass
        for d in SANDBOX_BASE.glob("course-kernel-*"):
            if not any(u.startswith(str(d) + "/") for u in in_use) and time.time() - d.stat().st_mtime > 60:
                shutil.rmtree(d, ignore_errors=True)
    return killed


def _alive(km) -> bool:
    try:
        return bool(run_sync(km.is_alive)())
    except Exception:
        return False


def release_kernel(km: Any, workdir: Path | None = None) -> None:
    """Shut the kernel down (it graded its one submission) and remove its directory."""
    _shutdown(km, workdir)


if os.environ.get("COURSE_NO_WARM_FINALIZER"):  # pragma: no cover - debugging aid
    _finalizer = True
