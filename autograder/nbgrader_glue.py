"""Every touch of nbgrader's internals outside the grading pipeline: its configuration for
this course (with the NameStubs preprocessor) and GenerateAssignment, run quietly.

nbgrader is imported lazily: importing it costs about a second, and ``course --help`` should
not pay it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.course import CourseError, ensure_bin_on_path

if TYPE_CHECKING:
    from traitlets.config import Config

__all__ = ["quiet_logger", "nbgrader_config", "generate_assignment"]


def _name_stubs_class() -> type:
    # lazy: stubs subclasses nbgrader's preprocessor, and nbgrader takes seconds to import (module docstring)
    from autograder.stubs import NameStubs

    return NameStubs


class _Collect(logging.Handler):
    """Keeps nbgrader's warnings and errors (a failed build says why; a grading result keeps
    what nbgrader said about, e.g., a tampered cell) instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def one_line_each(self) -> list[str]:
        """The messages, each on one line (runs of whitespace become one space), empty ones left out."""
        return [" ".join(m.split()) for m in self.messages if m.strip()]


def quiet_logger(name: str = "course.nbgrader") -> tuple[logging.Logger, _Collect]:
    log = logging.getLogger(name + f".{id(object())}")
    log.propagate = False
    log.setLevel(logging.WARNING)
    handler = _Collect()
    log.handlers[:] = [handler]
    return log, handler


def nbgrader_config(course_root: Path, **coursedir: Any) -> Config:
    """A traitlets Config: the course's own nbgrader_config.py, then ``coursedir`` overrides.

    ``coursedir`` keys are CourseDirectory traits (root, source_directory, ...).
    The NameStubs preprocessor is inserted right after ClearSolutions.
    """
    # lazy: nbgrader takes seconds to import; `course --help` must not pay it (module docstring)
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = Config()
    cfg_file = Path(course_root) / "nbgrader_config.py"
    if cfg_file.is_file():
        cfg.merge(PyFileConfigLoader(cfg_file.name, path=str(cfg_file.parent)).load_config())
    for key, value in coursedir.items():
        setattr(cfg.CourseDirectory, key, value)
    pps = list(GenerateAssignment.class_traits()["preprocessors"].default())
    pps.insert(pps.index(ClearSolutions) + 1, _name_stubs_class())
    cfg.GenerateAssignment.preprocessors = pps
    return cfg


def generate_assignment(cfg: Config, unit: str, force: bool = True) -> None:
    """Run nbgrader's GenerateAssignment for one unit with config ``cfg``; CourseError on failure."""
    ensure_bin_on_path()
    # lazy: nbgrader takes seconds to import; `course --help` must not pay it (module docstring)
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    log, collected = quiet_logger()
    coursedir = CourseDirectory(config=cfg, log=log)
    coursedir.assignment_id = unit
    conv = GenerateAssignment(coursedir=coursedir, config=cfg, log=log)
    conv.force = force
    try:
        conv.start()
    except Exception as exc:  # nbgrader raises NbGraderException after logging the cause
        noise = ("There was an error", "Traceback", "Please see", "Removing failed")
        firsts = [m.strip().splitlines()[0].rstrip(" :.") for m in collected.messages if m.strip()]
        causes = [m for m in firsts if not m.startswith(noise)]
        detail = "; ".join(dict.fromkeys(causes[:2])) or str(exc)
        raise CourseError(f"nbgrader could not generate {unit}: {detail}") from None
    if not conv.assignments:
        raise CourseError(f"nbgrader found no notebook for {unit}")
