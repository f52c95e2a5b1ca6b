"""Step 1: the submission's files, copied into a private working directory.

Symlinks are never followed (one could point at the instructor's notebook or
the gradebook), ignored and oversized files are left out, files that would
shadow a module are set aside, and the unit's supporting files come from the
instructor's source, as nbgrader's autograde does.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from autograder.pipeline.job import GradeJob, ignored

__all__ = ["copy_tree", "read_tree", "drop_shadowing", "add_source_files", "prepare"]


def _walk(src: Path, max_kb: int) -> Iterator[tuple[Path, list[str]]]:
    """``(folder relative to src, the names of its files grading takes)``, folder by folder: no
    symlinks, no ignored names, no file over ``max_kb``."""
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not ignored(d) and not os.path.islink(os.path.join(root, d))]
        kept = []
        for f in files:
            p = Path(root) / f
            # a symlink could point at the instructor's source notebook or the gradebook: never follow one
            if ignored(f) or p.is_symlink() or not p.is_file() or p.stat().st_size > max_kb * 1024:
                continue
            kept.append(f)
        yield Path(root).relative_to(src), kept


def copy_tree(src: Path, dest: Path, max_kb: int) -> None:
    """Copy ``src`` into ``dest``: no symlinks, no ignored names, no file over ``max_kb``."""
    for rel, files in _walk(src, max_kb):
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(src / rel / f, dest / rel / f)


def read_tree(src: Path, max_kb: int) -> dict[str, bytes]:
    """The files :func:`copy_tree` would copy, as ``{relative path: bytes}`` (what a remote worker is sent)."""
    return {str(rel / f): (src / rel / f).read_bytes() for rel, files in _walk(src, max_kb) for f in files}


def drop_shadowing(workdir: Path) -> list[str]:
    """Remove submitted files that would shadow a module (``json.py``, ``numpy/``, ``course_lib/``).

    The kernel starts with its working directory first on ``sys.path``, so a
    submitted ``json.py`` or ``hmac.py`` would run inside the kernel while it
    starts, before any check of ours, and a ``course_lib/`` would replace the
    grading helpers.  Returns the names removed (recorded for the instructor).
    """
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


def add_source_files(source_dir: Path, workdir: Path) -> None:
    """The unit's supporting files (not notebooks) from the instructor's source, over the student's."""
    src = Path(source_dir)
    if not src.is_dir():
        return
    for p in src.rglob("*"):
        if p.is_file() and p.suffix != ".ipynb" and not any(ignored(x) for x in p.relative_to(src).parts):
            dest = workdir / p.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)


def prepare(job: GradeJob, workdir: Path) -> list[str]:
    """Fill ``workdir`` with the submission and the source's files; returns the names set aside."""
    if job.files is not None:
        for rel, data in job.files.items():
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (workdir / rel).write_bytes(data)
    else:
        copy_tree(Path(job.submission_dir), workdir, job.max_file_size)
    shadowing = drop_shadowing(workdir)  # before the source's own supporting files are added
    add_source_files(Path(job.source_dir), workdir)
    return shadowing
