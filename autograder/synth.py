"""Synthetic submissions for the demo and the tests, derived from a unit's sources.

* ``perfect``: the release with every solution cell replaced by the source's
  solution (markers dropped): what a student with full marks submits;
* ``blank``: the release as is;
* ``with_tasks``: the release with some tasks solved (others left as stubs);
* ``with_sources``: arbitrary replacement sources, e.g. mutants from
  ``tests/mutants/unitNN.py``, a cell that raises, ``while True: pass``.
"""
from __future__ import annotations

import ast
import copy
import itertools
import os
from types import SimpleNamespace

import nbformat

from autograder import cells


def read(path: str | os.PathLike) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def solution_sources(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> source of each solution cell, marker lines removed (what a student would write)."""
    out = {}
    for cell in source_nb.cells:
        nbg = cells.nbgrader_metadata(cell)
        if nbg.get("solution") and cell.cell_type == "code":
            out[nbg["grade_id"]] = cells.without_solution_markers(cell.source)
    return out


def written_answers(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the instructor's model answer of each written question (the markdown answer cell
    with its solution markers dropped): what a student with full marks writes there."""
    out = {}
    for cell in source_nb.cells:
        if cells.is_written_question(cell):
            out[str(cells.grade_id(cell))] = cells.without_solution_markers(cell.source)
    return out


def task_ids(release_nb: nbformat.NotebookNode) -> list[str]:
    """Solution-cell grade ids in notebook order."""
    return [cells.nbgrader_metadata(c)["grade_id"] for c in release_nb.cells
            if cells.nbgrader_metadata(c).get("solution") and c.cell_type == "code"]


def with_sources(release_nb: nbformat.NotebookNode, sources: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the release with the given solution cells' sources replaced."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if gid in sources and cells.nbgrader_metadata(cell).get("solution"):
            cell.source = sources[gid]
    return nb


def perfect(release_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return with_sources(release_nb, solution_sources(source_nb))


def blank(release_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return copy.deepcopy(release_nb)


def with_tasks(release_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode,
               solved: list[str]) -> nbformat.NotebookNode:
    sols = solution_sources(source_nb)
    return with_sources(release_nb, {t: sols[t] for t in solved})


WRONG = r"""

# --- a subtle bug, made by `course demo`: every answer of {name} is a little off (a model it
# returns answers 0 whatever its input, so that training it cannot succeed)
import numpy as _np_demo

_right_{name} = {name}


def {name}(*args, **kwargs):
    out = _right_{name}(*args, **kwargs)

    def off(v):
        if isinstance(v, (tuple, list)):
            return type(v)(off(x) for x in v)
        if isinstance(v, _np_demo.ndarray) and v.dtype.kind in "fc":
            return v * 1.01 + 1e-3
        if isinstance(v, _np_demo.ndarray) and v.dtype.kind in "iu":
            return v + 1
        if isinstance(v, (float, _np_demo.floating)) and not isinstance(v, bool):
            return float(v) * 1.01 + 1e-3
        if isinstance(v, (int, _np_demo.integer)) and not isinstance(v, bool):
            return int(v) + 1
        if hasattr(v, "is_floating_point") and hasattr(v, "detach") and v.is_floating_point():
            return v.detach() * 1.01 + 1e-3     # a tensor
        if hasattr(v, "register_forward_hook") and hasattr(v, "parameters"):     # a torch module
            v.register_forward_hook(lambda _m, _i, o: o * 0.0 if hasattr(o, "detach") else o)
        return v
    return off(out)
"""


def subtly_wrong(solution_source: str) -> str:
    """A solution cell whose first function answers a little off (1 % and 1e-3 on floats and
    float tensors, +1 on integers, a model's outputs zeroed): the kind of almost-right work hidden
    tests must catch.  Built from the solution itself, so the demo needs no test code of the course
    (the course's mutants live in its tests)."""
    try:
        tree = ast.parse(solution_source)
    except SyntaxError:
        return solution_source + "\nraise RuntimeError('a bug')"
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not names:
        return solution_source + "\nraise RuntimeError('a bug')"
    return solution_source + WRONG.format(name=names[0])


def cohort(release_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode, n: int = 22,
           mutants: list | None = None, malformed: bool = True,
           written: bool = False) -> list[tuple[str, str, nbformat.NotebookNode | str]]:
    """``n`` synthetic students as ``[(student_id, kind, notebook_or_text)]``.

    Kinds: perfect, blank, partial (some tasks stubbed), mutant (one task replaced by a plausible
    wrong implementation: one of ``mutants``, objects with ``task`` and ``source``, else
    :func:`subtly_wrong`), raises (a solution cell that raises), loop (``while True: pass`` in a
    solution cell), malformed (not JSON).  The text for ``malformed`` is a str, every other entry a
    notebook.  With ``written``, every student whose code comes from the solution (perfect, loop,
    raises, mutant) also writes the model answer to each written question; blank and partial
    students leave them as released.
    """
    tasks = task_ids(release_nb)
    sols = solution_sources(source_nb)
    answers = written_answers(source_nb) if written else {}
    if mutants is None:
        mutants = [SimpleNamespace(task=t, name=f"{t} a little off", source=subtly_wrong(sols[t])) for t in tasks]
    mutants = list(mutants)
    plan: list[tuple[str, nbformat.NotebookNode | str]] = []
    sols_all = {**sols, **answers}
    plan += [("perfect", with_sources(release_nb, sols_all))] * 4
    plan += [("blank", blank(release_nb))] * 2
    plan.append(("loop", with_sources(release_nb, {**sols_all, tasks[0]: "while True:\n    pass"})))
    plan.append(("raises", with_sources(release_nb, {**sols_all, tasks[-1]: "raise RuntimeError('something went wrong')"})))
    if malformed:
        plan.append(("malformed", '{"cells": [ this is not json'))
    # partly wrong: mutants round-robin over the tasks (one task wrong, the rest right), leaving
    # room for a few stub subsets (some tasks not attempted)
    by_task: dict[str, list] = {}
    for m in mutants:
        task, src = getattr(m, "task", None), getattr(m, "source", None)
        if task in sols and src is not None:
            by_task.setdefault(task, []).append(m)
    room = max(0, n - len(plan) - min(3, len(tasks) - 1 if len(tasks) > 1 else 0))
    picked: list = []
    while len(picked) < room and any(by_task.values()):
        for task in tasks:
            if by_task.get(task) and len(picked) < room:
                picked.append(by_task[task].pop(0))
    for m in picked:
        plan.append((f"mutant:{getattr(m, 'name', m.task)}", with_sources(release_nb, {**sols_all, m.task: m.source})))
    subsets = [list(c) for r in range(len(tasks) - 1, 0, -1) for c in itertools.combinations(tasks, r)] or [[]]
    i = 0
    while len(plan) < n:
        solved = subsets[i % len(subsets)]
        i += 1
        plan.append((f"partial:{len(solved)}/{len(tasks)}", with_tasks(release_nb, source_nb, solved)))
    plan = plan[:max(n, 9)]
    return [(f"s{i + 1:03d}", kind, nb) for i, (kind, nb) in enumerate(plan)]


FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Karen", "Leslie", "Margaret",
         "Niklaus", "Radia", "Tim", "Yann", "Fei-Fei", "Geoffrey", "Yoshua", "Andrew", "Daphne", "Judea", "Claude",
         "Shafi", "Silvio", "Ken"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Sparck Jones",
        "Lamport", "Hamilton", "Wirth", "Perlman", "Berners-Lee", "LeCun", "Li", "Hinton", "Bengio", "Ng", "Koller",
        "Pearl", "Shannon", "Goldwasser", "Micali", "Thompson"]


def name_for(i: int) -> tuple[str, str]:
    return FIRST[i % len(FIRST)], LAST[i % len(LAST)]
