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
that is why this module exists.
"""
from __future__ import annotations

import multiprocessing.util
import os
import shutil
import tempfile
import time
from pathlib import Path

KERNEL_ARGS = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]

_spare: dict[tuple, tuple] = {}   # (kernel_name, preimports) -> (km, workdir, launched_at)
_finalizer = None


def preimport_lines(modules: tuple[str, ...]) -> list[str]:
    lines = []
    for i, mod in enumerate(modules):
        alias = f"_course_warm_{i}"
        lines.append(f"try:\n    import {mod} as {alias}\n    del {alias}\nexcept Exception:\n    pass")
    return lines


def _launch(kernel_name: str, modules: tuple[str, ...]):
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    workdir = Path(tempfile.mkdtemp(prefix="course-kernel-")) / "work"
    workdir.mkdir()
    km = AsyncKernelManager(kernel_name=kernel_name)
    args = list(KERNEL_ARGS)
    for line in preimport_lines(modules):
        args.append(f"--IPKernelApp.exec_lines={line}")
    run_sync(km.start_kernel)(extra_arguments=args, cwd=str(workdir))
    return km, workdir, time.perf_counter()


def _shutdown(km, workdir: Path | None) -> None:
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:
        pass
    if workdir is not None:
        shutil.rmtree(workdir.parent, ignore_errors=True)


def _shutdown_spares() -> None:
    while _spare:
        _, (km, workdir, _) = _spare.popitem()
        _shutdown(km, workdir)


def take_kernel(kernel_name: str = "python3", modules: tuple[str, ...] = ("numpy",)):
    """A started kernel (``AsyncKernelManager``) and its empty working dir; launches the next one.

    Returns ``(km, workdir, waited_s)``: ``waited_s`` is 0 when a spare was ready to hand.
    """
    global _finalizer
    key = (kernel_name, tuple(modules))
    t0 = time.perf_counter()
    got = _spare.pop(key, None)
    if got is None:
        km, workdir, _ = _launch(kernel_name, key[1])
    else:
        km, workdir, _ = got
        if not km.has_kernel:  # died while waiting: start a fresh one
            _shutdown(km, workdir)
            km, workdir, _ = _launch(kernel_name, key[1])
    waited = time.perf_counter() - t0
    try:
        _spare[key] = _launch(kernel_name, key[1])
    except Exception:
        pass
    if _finalizer is None:
        # multiprocessing workers leave through os._exit (no atexit); Finalize still runs
        _finalizer = multiprocessing.util.Finalize(None, _shutdown_spares, exitpriority=10)
        import atexit

        atexit.register(_shutdown_spares)
    return km, workdir, waited


def release_kernel(km, workdir: Path | None = None) -> None:
    """Shut the kernel down (it graded its one submission) and remove its directory."""
    _shutdown(km, workdir)


def setup_modules(source_cell: str) -> tuple[str, ...]:
    """Top-level modules imported by a notebook's setup cell (the course's imports)."""
    import ast

    mods = []
    try:
        tree = ast.parse(source_cell)
    except SyntaxError:
        return ("numpy",)
    for node in tree.body:
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.append(node.module)
    return tuple(dict.fromkeys(mods)) or ("numpy",)


if os.environ.get("COURSE_NO_WARM_FINALIZER"):  # pragma: no cover - debugging aid
    _finalizer = True
