"""course_lib: the verified library every unit of the course builds on.

Modules are imported lazily so that ``import course_lib`` stays cheap (PyTorch is
only loaded by the modules that need it)."""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "data", "grading", "device", "nn", "autograd", "optim", "init", "train",
    "models", "viz", "widgets",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
