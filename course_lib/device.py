"""Devices, seeding and timing: CUDA > MPS > CPU, overridable, never required.

``COURSE_DEVICE=cpu`` (or ``cuda``, ``cuda:1``, ``mps``) overrides the automatic
choice; so does the ``prefer`` argument of :func:`get_device`.

Also: :func:`autocast` (mixed precision as one context manager),
:func:`memory_stats`, :class:`Timer` / :func:`timed` (synchronised timing) and
:func:`to_device` (moves nested batches).
"""
from __future__ import annotations

import contextlib
import os
import random
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    # lazy: NumPy-only units, and kernels whose tasks forbid PyTorch, import course_lib without it
    import torch

    #: what every function here accepts as a device: a torch.device, a name ("cuda:0"), or None for get_device()
    DeviceLike = torch.device | str | None

__all__ = ["get_device", "seed_everything", "describe", "ENV_VAR", "autocast", "memory_stats",
           "synchronize", "Timer", "timed", "to_device"]

ENV_VAR = "COURSE_DEVICE"


def _torch():
    # lazy: NumPy-only units, and kernels whose tasks forbid PyTorch, import course_lib without it
    import torch
    return torch


def get_device(prefer: str | None = None) -> torch.device:
    """The ``torch.device`` to compute on.

    Order: ``prefer`` argument, then ``$COURSE_DEVICE``, then CUDA > MPS > CPU.
    An explicit request for a device that is not available raises ``RuntimeError``
    saying what is available, rather than silently falling back.

    Introduced in lecture 03_cnn.
    """
    torch = _torch()
    want = prefer or os.environ.get(ENV_VAR) or None
    if want:
        dev = torch.device(want)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {want!r} requested but CUDA is not available; "
                               f"unset {ENV_VAR} or use 'cpu'")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {want!r} requested but only {torch.cuda.device_count()} GPU(s) exist")
        if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError(f"device {want!r} requested but MPS is not available; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0, *, deterministic: bool = False, torch: bool = True) -> np.random.Generator:
    """Seed Python's, NumPy's and PyTorch's generators; return a fresh ``numpy.random.Generator``.

    This is for notebooks and scripts (library functions take an RNG or a seed
    and never call this). ``deterministic=True`` also asks PyTorch for
    deterministic kernels, which can be slower; ``deterministic=False`` (the
    default) switches that off again, restoring PyTorch's defaults and the
    ``cudnn.benchmark`` setting that was in force before determinism was turned on.

    Introduced in lecture 03_cnn.
    """
    global _saved_cudnn_benchmark
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch:
        t = _torch()
        t.manual_seed(seed)
        cudnn = getattr(t.backends, "cudnn", None)
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            t.use_deterministic_algorithms(True)
            if cudnn is not None:
                # remember benchmark only on the first switch-on, so on-on-off restores the user's value
                if _saved_cudnn_benchmark is None:
                    _saved_cudnn_benchmark = cudnn.benchmark
                cudnn.deterministic = True
                cudnn.benchmark = False
        else:
            t.use_deterministic_algorithms(False)
            if cudnn is not None:
                cudnn.deterministic = False
                if _saved_cudnn_benchmark is not None:
                    cudnn.benchmark = _saved_cudnn_benchmark
                    _saved_cudnn_benchmark = None
    return np.random.default_rng(seed)


# cudnn.benchmark as it was before seed_everything(deterministic=True) set it to False
_saved_cudnn_benchmark: bool | None = None


def describe(device: DeviceLike = None) -> str:
    """One line for the top of a notebook: device, its name and memory, library versions.

    Introduced in lecture 01_linear_classifiers.
    """
    torch = _torch()
    dev = torch.device(device) if device is not None else get_device()
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        what = f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    elif dev.type == "mps":
        what = "mps (Apple GPU)"
    else:
        what = f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    return f"device: {what} | torch {torch.__version__} | numpy {np.__version__}"


def _as_device(device):
    torch = _torch()
    return get_device() if device is None else torch.device(device)


def autocast(device: DeviceLike = None,
             dtype: torch.dtype | None = None) -> contextlib.AbstractContextManager:
    """Mixed precision as one context manager; a no-op where it does not help.

    - CUDA: ``torch.autocast("cuda", dtype)`` with ``dtype`` bfloat16 if the GPU
      supports it, else float16 (pass ``dtype`` to choose).
    - CPU: a no-op unless ``dtype=torch.bfloat16`` is requested explicitly.
    - MPS: float16 autocast if this PyTorch supports it, else a no-op.

    float16 on CUDA needs a ``torch.amp.GradScaler`` for training; bfloat16 does not.

    Args:
        device: a ``torch.device`` or string (default: :func:`get_device`).
        dtype: ``torch.bfloat16``, ``torch.float16`` or None (choose).

    Returns:
        a context manager.

    Introduced in lecture 01_linear_classifiers.
    """
    torch = _torch()
    dev = _as_device(device)
    if dev.type == "cuda":
        if dtype is None:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    if dev.type == "cpu":
        if dtype == torch.bfloat16:
            return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    if dev.type == "mps":
        try:
            return torch.autocast(device_type="mps", dtype=dtype or torch.float16)
        except (RuntimeError, ValueError):  # older PyTorch: no MPS autocast
            return contextlib.nullcontext()
    return contextlib.nullcontext()


def memory_stats(device: DeviceLike = None) -> dict:
    """Memory in MiB: CUDA ``allocated``/``reserved``/``peak`` (of this process), CPU ``rss``.

    Returns:
        dict with ``device`` and float values in MiB. On CPU (and MPS) the process's
        resident set size via psutil, under ``rss`` (and, for MPS, ``allocated``).

    Introduced in lecture 01_linear_classifiers.
    """
    torch = _torch()
    dev = _as_device(device)
    mib = 2.0 ** 20
    if dev.type == "cuda":
        return {"device": str(dev),
                "allocated": torch.cuda.memory_allocated(dev) / mib,
                "reserved": torch.cuda.memory_reserved(dev) / mib,
                "peak": torch.cuda.max_memory_allocated(dev) / mib}
    # lazy: only the CPU branch of memory_stats needs it
    import psutil
    out: dict = {"device": str(dev), "rss": psutil.Process().memory_info().rss / mib}
    if dev.type == "mps" and hasattr(torch, "mps") and hasattr(torch.mps, "current_allocated_memory"):
        out["allocated"] = torch.mps.current_allocated_memory() / mib
    return out


def synchronize(device: DeviceLike = None) -> None:
    """Wait for queued GPU work on ``device`` to finish (no-op on CPU).

    Introduced in lecture 01_linear_classifiers.
    """
    torch = _torch()
    dev = _as_device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps" and hasattr(torch, "mps"):
        torch.mps.synchronize()


class Timer:
    """Wall-clock timer that synchronises the device before reading the clock.

    GPU kernels run asynchronously, so timing without a synchronise measures
    only the launch. Use as a context manager::

        with Timer(device) as t:
            y = model(x)
        print(t.elapsed)   # seconds

    Attributes:
        elapsed: seconds between enter and exit (None while running).

    Introduced in lecture 01_linear_classifiers.
    """

    def __init__(self, device: DeviceLike = None, name: str = ""):
        self.device = _as_device(device)
        self.name = name
        self.elapsed: float | None = None
        self._start = 0.0

    def __enter__(self) -> Timer:
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.elapsed = time.perf_counter() - self._start

    def __repr__(self) -> str:
        t = "running" if self.elapsed is None else f"{self.elapsed * 1e3:.3f} ms"
        return f"Timer({self.name + ': ' if self.name else ''}{t})"


def timed(device: DeviceLike = None, name: str = "") -> Timer:
    """Shorthand for ``Timer(device, name)``: ``with timed(dev) as t: ...; t.elapsed``.

    Introduced in lecture 01_linear_classifiers.
    """
    return Timer(device, name)


def to_device(batch: Any, device: DeviceLike = None, non_blocking: bool = False) -> Any:
    """Move every tensor in a nested batch (tuples, lists, dicts, namedtuples) to ``device``.

    Anything that is not a tensor (ints, strings, NumPy arrays) is returned unchanged;
    the container types are kept.

    Introduced in lecture 01_linear_classifiers.
    """
    torch = _torch()
    dev = _as_device(device)
    if isinstance(batch, torch.Tensor):
        return batch.to(dev, non_blocking=non_blocking)
    if isinstance(batch, dict):
        moved = {k: to_device(v, dev, non_blocking) for k, v in batch.items()}
        try:
            return type(batch)(moved)
        except TypeError:  # e.g. defaultdict: keep the values, lose the subclass
            return moved
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, dev, non_blocking) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, dev, non_blocking) for v in batch)
    return batch
