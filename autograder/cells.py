"""The notebook vocabulary of the course, in one place: which cell is what, and its parts.

nbgrader decides what a cell is (``nbgrader.utils.is_grade``, ``is_solution``,
``is_locked``); this module adds what the course layers on top of it: task ids,
the hidden-test region of a test cell, the forbidden modules of a task
(``metadata.course.forbid``), and Python source without IPython's magics.
"""
from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbgrader import utils as nbutils

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["python_source", "cell_source", "grade_id", "is_test_cell", "is_solution_cell", "is_locked_cell",
           "is_written_question", "hidden_tests", "visible_tests", "task_of", "TaskInfo", "tasks_of",
           "forbidden_modules", "imported_modules", "HIDDEN_BEGIN", "HIDDEN_END", "MARKERS",
           "SOLUTION_BEGIN", "SOLUTION_END", "hidden_regions", "solution_regions", "outside_regions",
           "without_hidden", "without_solution_markers", "nbgrader_metadata", "course_metadata", "is_graded",
           "task_name", "test_id", "names_used", "forbidden_names_used"]

# nbgrader's delimiters (ClearSolutions / ClearHiddenTests), matched anywhere in a line as nbgrader does
SOLUTION_BEGIN = "BEGIN SOLUTION"
SOLUTION_END = "END SOLUTION"
HIDDEN_BEGIN = "BEGIN HIDDEN TESTS"
HIDDEN_END = "END HIDDEN TESTS"
MARKERS = (SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END)


def cell_source(cell: NotebookNode) -> str:
    """A cell's source as one string (the JSON form may hold a list of lines)."""
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def python_source(source: str) -> str:
    """Cell source without IPython magics and shell escapes: lines starting with % or ! are
    blanked, so line numbers in tracebacks still match the notebook."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def nbgrader_metadata(cell: NotebookNode) -> dict:
    """A cell's ``metadata.nbgrader``; ``{}`` when it has none or it is not a mapping (a student's
    hand-edited notebook can hold anything there).  Every read of it in the package goes through here
    or through :mod:`nbgrader.utils`."""
    meta = cell.get("metadata")
    found = meta.get("nbgrader") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def course_metadata(cell: NotebookNode) -> dict:
    """A cell's (or a notebook's) ``metadata.course``: what the course adds to nbgrader's (task id,
    title, forbidden modules and names); ``{}`` when it has none or it is not a mapping."""
    meta = cell.get("metadata")
    found = meta.get("course") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_metadata(cell).get("grade_id")


def is_graded(cell: NotebookNode) -> bool:
    """A cell nbgrader scores: a test cell or a written question (nbgrader's ``is_grade``)."""
    return bool(nbgrader_metadata(cell)) and bool(nbutils.is_grade(cell))


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: a code cell nbgrader grades and that holds no solution."""
    return cell.get("cell_type") == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell)


def is_solution_cell(cell: NotebookNode) -> bool:
    """A code cell where the student writes (a task's solution region)."""
    return cell.get("cell_type") == "code" and nbutils.is_solution(cell) and not nbutils.is_grade(cell)


def is_locked_cell(cell: NotebookNode) -> bool:
    return nbutils.is_locked(cell)


def is_written_question(cell: NotebookNode) -> bool:
    """A manually graded answer cell (markdown, grade and solution)."""
    return cell.get("cell_type") == "markdown" and nbutils.is_grade(cell) and nbutils.is_solution(cell)


def _regions(source: str, begin: str, end: str) -> list[str]:
    out: list[str] = []
    cur: list[str] | None = None
    for line in source.split("\n"):
        if begin in line:
            cur = []
        elif end in line and cur is not None:
            out.append("\n".join(cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    if cur is not None:          # an unclosed region runs to the end of the cell, as in nbgrader
        out.append("\n".join(cur))
    return out


def hidden_regions(source: str) -> list[str]:
    """The text of each hidden-test region of a cell (lines between the markers).

    Markers match anywhere in a line, as nbgrader's ClearHiddenTests matches them."""
    return _regions(source, HIDDEN_BEGIN, HIDDEN_END)


def solution_regions(source: str) -> list[str]:
    """The text of each solution region of a cell (lines between nbgrader's solution markers)."""
    return _regions(source, SOLUTION_BEGIN, SOLUTION_END)


def outside_regions(source: str) -> list[str]:
    """The lines of a cell outside its solution and hidden-test regions (markers dropped too)."""
    out, inside = [], False
    for line in source.split("\n"):
        if SOLUTION_BEGIN in line or HIDDEN_BEGIN in line:
            inside = True
        elif SOLUTION_END in line or HIDDEN_END in line:
            inside = False
        elif not inside:
            out.append(line)
    return out


def hidden_tests(source: str) -> str:
    """The hidden tests of a test cell as one dedented block ('' when the cell has none)."""
    return textwrap.dedent("\n".join(hidden_regions(source)))


def without_hidden(source: str, placeholder: str | None = None) -> str:
    """``source`` without its hidden-test regions (markers included); with ``placeholder``,
    each region becomes that one line, at the marker's indent."""
    out, hidden = [], False
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            hidden = True
            if placeholder is not None:
                out.append(line[: len(line) - len(line.lstrip())] + placeholder)
        elif HIDDEN_END in line and hidden:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def without_solution_markers(source: str) -> str:
    """``source`` without the lines that hold nbgrader's solution markers (the solution itself kept):
    what a student who wrote the instructor's solution hands in."""
    return "\n".join(ln for ln in source.split("\n") if SOLUTION_BEGIN not in ln and SOLUTION_END not in ln)


def visible_tests(source: str) -> str:
    """A test cell without its hidden tests (what the student's release shows)."""
    return without_hidden(source)


_TASK = re.compile(r"^(?:test_)?(task\d+_\d+)$")


def task_of(gid: str | None) -> str | None:
    """``task3_2`` for ``task3_2`` and ``test_task3_2``; None for anything else."""
    m = _TASK.match(gid or "")
    return m.group(1) if m else None


def test_id(task: str) -> str:
    """The grade id of a task's test cell: ``test_task3_2`` for ``task3_2``."""
    return f"test_{task}"


def task_name(grade_name: str) -> str:
    """The name a grade goes by in the grades table and the CSV's columns: a test cell's grade id
    without its ``test_`` (``test_task3_2`` -> ``task3_2``); any other id (a written question's) as is."""
    return grade_name.removeprefix("test_")


@dataclass
class TaskInfo:
    """A task of a notebook: its id, solution source, title, forbidden modules and names."""

    task: str
    source: str
    title: str = ""
    forbid: tuple[str, ...] = ()
    forbid_names: tuple[str, ...] = ()
    index: int = 0                  # position of the solution cell in the notebook
    test_index: int | None = None   # position of its test cell


def forbidden_modules(nb: NotebookNode, cell: NotebookNode) -> tuple[str, ...]:
    """The modules a task may not import: its ``course.forbid``, else the notebook's."""
    course = course_metadata(cell)
    if "forbid" in course:
        return tuple(course.get("forbid") or ())
    return tuple(course_metadata(nb).get("forbid") or ())


def tasks_of(nb: NotebookNode) -> list[TaskInfo]:
    """The notebook's tasks in order (from its solution cells and their test cells)."""
    out: dict[str, TaskInfo] = {}
    for i, cell in enumerate(nb.cells):
        task = task_of(grade_id(cell))
        if task is None:
            continue
        if is_solution_cell(cell) and task not in out:
            course = course_metadata(cell)
            out[task] = TaskInfo(task, cell_source(cell), title=str(course.get("title", "")),
                                 forbid=forbidden_modules(nb, cell),
                                 forbid_names=tuple(course.get("forbid_names") or ()), index=i)
        elif is_test_cell(cell) and task in out and out[task].test_index is None:
            out[task].test_index = i
    return list(out.values())


def imported_modules(source: str) -> tuple[str, ...]:
    """Top-level modules a cell imports at its top level (absolute imports only)."""
    mods = []
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return ()
    for node in tree.body:
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.append(node.module)
    return tuple(dict.fromkeys(mods))


def names_used(source: str) -> set[str]:
    """Dotted names a cell's code refers to, with import aliases resolved: after
    ``import scipy.special as sp`` the expression ``sp.softmax(x)`` uses ``scipy.special.softmax``;
    ``from torch.nn import functional as F`` then ``F.cross_entropy`` uses
    ``torch.nn.functional.cross_entropy``.  A name built at run time (``getattr(m, "soft" + "max")``)
    is not seen: this reads the text, it does not run it."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    alias: dict[str, str] = {}
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                used.add(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                alias[a.asname or a.name] = f"{node.module}.{a.name}"
                used.add(f"{node.module}.{a.name}")

    def dotted(n) -> str | None:
        if isinstance(n, ast.Name):
            return alias.get(n.id, n.id)
        if isinstance(n, ast.Attribute):
            head = dotted(n.value)
            return f"{head}.{n.attr}" if head else None
        return None

    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            d = dotted(node)
            if d:
                used.add(d)
    return used


def forbidden_names_used(source: str, forbidden: Iterable[str]) -> list[str]:
    """Which of ``forbidden`` (dotted names) the source refers to (a name or anything below it)."""
    used = names_used(source)
    return sorted({f for f in forbidden for u in used if u == f or u.startswith(f + ".")})
