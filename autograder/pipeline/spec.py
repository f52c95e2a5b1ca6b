"""What grading needs to know about a unit, read once from the instructor's notebooks.

The grading run reads each source notebook of the unit (``source/<unit>/*.ipynb``
in the instance, the instructor's version with solutions and hidden tests)
once, in the parent, and hands every worker the same :class:`NotebookSpec`:
the setup cell and the other locked cells the judge runs on its side, the
tasks with their forbidden modules (``metadata.course.forbid``), the
instructor's solution of each task (the judge answers calls to an earlier
task's functions with it), and the *profiles*: the distinct sets of forbidden
modules, each graded in a kernel of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder import cells
from autograder.runtime.kernels import AGENT_MODULE

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["NotebookSpec", "Profile", "read_spec", "unit_spec", "kernel_modules"]

#: What a kernel imports ahead of time when there is no spec to read (no instructor's notebook).
DEFAULT_KERNEL_MODULES = (AGENT_MODULE, "numpy")


@dataclass(frozen=True)
class Profile:
    """A set of forbidden modules and the tasks graded under it (in one kernel)."""

    forbid: tuple[str, ...]
    tasks: tuple[str, ...]
    last_test_index: int          # the kernel of this profile need not run cells after it


@dataclass
class NotebookSpec:
    """One notebook of a unit, as grading sees it."""

    name: str
    setup: str = ""                                          # the locked setup cell (grade id "setup")
    locked: dict[str, str] = field(default_factory=dict)     # other locked, non-graded code cells by grade id
    tasks: list[cells.TaskInfo] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)    # the last one runs the whole notebook
    imports: tuple[str, ...] = ()                            # modules the setup and locked cells import
    imports_at: tuple[tuple[int, str], ...] = ()             # (cell index, module) for each of them

    def task(self, name: str) -> cells.TaskInfo | None:
        return next((t for t in self.tasks if t.task == name), None)

    def reference(self) -> dict[str, str]:
        """The instructor's solution cells in order, ``{task: source}``."""
        return {t.task: t.source for t in self.tasks}

    def earlier_tasks(self, task: str) -> list[str]:
        names = [t.task for t in self.tasks]
        return names[:names.index(task)] if task in names else []

    def profile_of(self, task: str) -> Profile | None:
        return next((p for p in self.profiles if task in p.tasks), None)


def read_spec(nb: NotebookNode, name: str) -> NotebookSpec:
    """The spec of one instructor notebook (an ``nbformat`` notebook)."""
    spec = NotebookSpec(name)
    imports: list[tuple[int, str]] = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        if cells.is_locked_cell(cell) and not cells.is_test_cell(cell) and not cells.is_solution_cell(cell):
            src = cells.cell_source(cell)
            gid = cells.grade_id(cell)
            if gid == "setup" and not spec.setup:
                spec.setup = src
            elif gid:
                spec.locked[gid] = src
            imports += [(i, m) for m in cells.imported_modules(src)]
    spec.tasks = cells.tasks_of(nb)
    spec.imports_at = tuple(imports)
    spec.imports = tuple(dict.fromkeys(m for _i, m in imports))
    groups: dict[tuple, list] = {}
    for t in spec.tasks:
        groups.setdefault(tuple(sorted(t.forbid)), []).append(t)
    profiles = [Profile(forbid, tuple(t.task for t in ts), max((t.test_index or t.index) for t in ts))
                for forbid, ts in groups.items()]
    # the profile whose last test comes last runs the whole notebook: its outputs are the ones kept
    spec.profiles = sorted(profiles, key=lambda p: p.last_test_index)
    return spec


def unit_spec(source_dir: Path, notebooks: list[str]) -> dict[str, NotebookSpec]:
    """Specs of a unit's notebooks from the instructor's directory (missing ones are skipped)."""
    out = {}
    for name in notebooks:
        path = Path(source_dir) / f"{name}.ipynb"
        if path.is_file():
            out[name] = read_spec(nbformat.read(str(path), as_version=4), name)
    return out


def forbids(module: str, forbid: tuple[str, ...]) -> bool:
    """True when importing ``module`` is ruled out by ``forbid`` (a module or any of its parents)."""
    return any(module == f or module.startswith(f + ".") for f in forbid)


def kernel_modules(spec: NotebookSpec | None, profile: Profile | None) -> tuple[str, ...]:
    """What a kernel of ``profile`` imports ahead of time: the agent and the setup's imports that the
    profile allows (a template that imported a forbidden module would hand it to every kernel).
    Only cells the profile's kernel runs count: a locked cell after its last test (unit 03's
    ``setup_pytorch``, say) may import what the profile forbids, directly or through course_lib.
    Without a spec (or a profile): :data:`DEFAULT_KERNEL_MODULES`."""
    if spec is None or profile is None:
        return DEFAULT_KERNEL_MODULES
    if spec.imports_at:
        wanted = [m for i, m in spec.imports_at if i < profile.last_test_index]
    else:
        wanted = list(spec.imports)
    mods = [AGENT_MODULE] + [m for m in wanted if not forbids(m, profile.forbid)]
    return tuple(dict.fromkeys(mods))
