"""Devices, seeding and timing: CUDA > MPS > CPU, overridable, never required.

``COURSE_DEVICE=cpu`` (or ``cuda``, ``cuda:1``, ``mps``) overrides the automatic
choice; so does the ``prefer`` argument of :func:`get_device`.
"""
from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["get_device", "seed_everything", "describe", "ENV_VAR"]

ENV_VAR = "COURSE_DEVICE"


def _torch():
    import torch
    return torch


def get_device(prefer: str | None = None):
    """The ``torch.device`` to compute on.

    Order: ``prefer`` argument, then ``$COURSE_DEVICE``, then CUDA > MPS > CPU.
    An explicit request for a device that is not available raises ``RuntimeError``
    saying what is available, rather than silently falling back.
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
    deterministic kernels, which can be slower.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch:
        t = _torch()
        t.manual_seed(seed)
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            t.use_deterministic_algorithms(True)
            if hasattr(t.backends, "cudnn"):
                t.backends.cudnn.deterministic = True
                t.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)


def describe(device=None) -> str:
    """One line for the top of a notebook: device, its name and memory, library versions."""
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
