"""Step 2: what a submission must not be able to break: malformed input and a mangled structure.

nbgrader's own defences cover part of it: ``OverwriteCells`` puts back locked
cells (sources, types, points) by checksum, ``DeduplicateIds`` drops duplicate
ids.  What they leave open, and this module adds as small functions the worker
calls:

1. **Malformed input** (:func:`inspect_notebook_file`, :func:`read_notebook`):
   a clear, recorded reason (too large, binary, not JSON, wrong nbformat,
   missing / renamed) instead of a crash or a silently skipped file.
2. **Structure** (:func:`structure_issues`): grade cells missing, duplicated,
   out of order, of another cell type, or with changed flags are recorded for
   the instructor.  The repair itself is nbgrader's (OverwriteCells with
   ``add_missing_cells``), except for duplicated grade ids (copy/paste), on
   which nbgrader's sanitize pass fails: :func:`repair_duplicates` keeps one
   copy of each before it runs.

The verdict itself is not decided here or anywhere in the student's kernel:
the judge (:mod:`autograder.pipeline.steps.judge`) runs every test cell in the grader's
process and the kernel only answers with data.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder.cells import nbgrader_metadata

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "inspect_notebook_file", "read_notebook", "missing_notebook_message", "structure_issues", "repair_duplicates",
    "check", "repair", "MAX_NOTEBOOK_MB",
]

MAX_NOTEBOOK_MB = 100  # like nbgrader's max_file_size; hundreds of MB is an attack or a mistake


# ---------------------------------------------------------------- malformed input


def inspect_notebook_file(path: Path, max_mb: float = MAX_NOTEBOOK_MB) -> str | None:
    """Why ``path`` cannot be graded as a notebook (a message for the student), or None if it may be read.

    Checked before nbformat reads it, so that a huge or binary file is refused
    cheaply and with a clear reason instead of a parser's exception.
    """
    path = Path(path)
    if not path.is_file():
        return "not a regular file"
    size = path.stat().st_size
    if size > max_mb * 2**20:
        return f"the notebook is {size / 2**20:.0f} MB, over the {max_mb:g} MB limit; clear its outputs and resubmit"
    if size == 0:
        return "the notebook file is empty"
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"\0" in head:
        return "the file is binary, not a notebook (JSON text)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the 4 KB boundary
            return "the file is not UTF-8 text, so not a notebook"
    if not head.lstrip()[:1] == b"{":
        return "the file is not a notebook (a notebook is a JSON object starting with '{')"
    return None


def read_notebook(path: Path) -> tuple[NotebookNode | None, str | None]:
    """``(notebook, None)`` or ``(None, reason)``; never raises for a bad file."""
    reason = inspect_notebook_file(path)
    if reason:
        return None, reason
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:120]})"
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", []), list):
        return None, "not a notebook: the JSON has no list of cells"
    major = raw.get("nbformat")
    if major not in (4,) and not (major == 3 and "worksheets" in raw):
        return None, f"unsupported nbformat version {major!r} (expected 4)"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, f"not a valid notebook ({exc.__class__.__name__}: {msg[:160]})"
    return nb, None


def missing_notebook_message(workdir: Path, name: str, submitted: Path | None = None) -> str:
    """The record for a notebook that is not in the submission: say what is there instead (renamed?).

    ``submitted``: the original submission dir; a notebook left out of the
    private copy (over the size limit, a symlink) is reported as such.
    """
    if submitted is not None:
        orig = Path(submitted) / f"{name}.ipynb"
        if orig.is_symlink():
            return f"{name}.ipynb is a symbolic link, not a file; it was not graded"
        if orig.exists():
            why = inspect_notebook_file(orig)
            return f"{name}.ipynb was not graded: " + (why or "it is over the submission file size limit")
    others = sorted(p.name for p in Path(workdir).glob("*.ipynb") if p.stem != name)
    if others:
        return (f"no {name}.ipynb in the submission; found {', '.join(others[:5])} "
                "(renamed? notebooks are graded under their original name)")
    return f"no {name}.ipynb in the submission"


# ---------------------------------------------------------------- structure


def structure_issues(submitted: NotebookNode, source: NotebookNode) -> list[str]:
    """What a submission changed in the cells nbgrader tracks, compared with the instructor's source.

    ``submitted``: the notebook as handed in (before nbgrader's sanitize pass);
    ``source``: the source notebook.  Returns short messages; empty when the
    structure is intact.  nbgrader repairs what it can (locked sources, types,
    points, missing grade cells); these messages record that it had to.
    """
    src_meta: dict[str, dict] = {}
    for m in map(nbgrader_metadata, source.cells):
        if m.get("grade_id"):
            src_meta.setdefault(m["grade_id"], m)
    src = [(m["grade_id"], c.cell_type, bool(m.get("grade")), bool(m.get("solution")), bool(m.get("locked")))
           for c, m in ((c, nbgrader_metadata(c)) for c in source.cells) if m.get("grade_id")]
    want = {gid: (ctype, g, s, lk) for gid, ctype, g, s, lk in src}
    seen: list[str] = []
    issues = []
    for c in submitted.cells:
        m = nbgrader_metadata(c)
        gid = m.get("grade_id")
        if not gid:
            continue
        if gid not in want:
            issues.append(f"unknown grade id {gid!r}")
            continue
        if gid in seen:
            issues.append(f"cell {gid} is duplicated")
            continue
        seen.append(gid)
        ctype, g, s, lk = want[gid]
        if c.cell_type != ctype:
            issues.append(f"cell {gid} changed type ({ctype} -> {c.cell_type})")
        flags = (bool(m.get("grade")), bool(m.get("solution")), bool(m.get("locked")))
        if flags != (g, s, lk):
            issues.append(f"cell {gid} changed its nbgrader flags")
        if g and "points" in m and str(m.get("points")) != str(src_meta[gid].get("points")):
            issues.append(f"cell {gid} changed its points")
    missing = [gid for gid, *_ in src if gid not in seen]
    if missing:
        issues.append("cells missing: " + ", ".join(missing))
    order = [gid for gid, *_ in src if gid in seen]
    if [g for g in seen if g in want] != order:
        issues.append("grade/solution cells reordered")
    return issues


def _tracked(cell) -> bool:
    """A cell nbgrader's DeduplicateIds looks at: grade, solution or locked, with a grade id."""
    m = nbgrader_metadata(cell)
    return bool(m.get("grade_id")) and bool(m.get("grade") or m.get("solution") or m.get("locked"))


def _demote(cell, run: bool):
    """``cell`` without its nbgrader metadata.  ``run``: stays a cell of its type (a code cell runs like any
    cell the student added); otherwise a code cell becomes a raw cell, kept for the reader but never run."""
    meta = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("nbgrader", "editable", "deletable")}
    if run or cell.cell_type != "code":
        new = nbformat.from_dict({**cell, "metadata": meta})
    else:
        new = nbformat.v4.new_raw_cell(cell.source)
    if "id" in cell:
        new["id"] = cell["id"]
    elif "id" in new:
        del new["id"]  # nbformat < 4.5 notebooks have no cell ids
    return new


def repair_duplicates(nb: NotebookNode, source: NotebookNode | None = None) -> dict[str, str]:
    """Keep one copy of each duplicated grade id; returns ``{grade id: note}`` for the ones repaired.

    Copy/paste in JupyterLab duplicates a cell together with its nbgrader
    metadata.  nbgrader's DeduplicateIds then empties the metadata of every
    copy but the last, and the sanitize pass fails on the emptied cells
    (OverwriteCells ``add_missing_cells``: ``KeyError 'grade_id'``; without it,
    CheckCellMetadata: ``SchemaTooOldError``), so the notebook scored 0.  Run
    before that pass, this keeps, per grade id:

    * a test, setup or other locked cell: the **first** copy (nbgrader keeps
      the last; the first is where the release put it, before what the student
      pasted, and OverwriteCells restores its source from the gradebook
      whichever copy it is).  The other copies become raw cells: never run,
      so a copy edited to ``pass`` neither runs as a test nor hides one, and
      a second setup does not reset the kernel half-way;
    * a solution cell: the **last** copy, as nbgrader does.  The earlier
      copies lose their nbgrader metadata and run as ordinary cells in
      notebook order, as in the student's own Run All, so the definitions in
      force when the tests run are the student's last ones.

    ``source``: the instructor's source notebook, which says which ids are
    solution cells (otherwise the first copy's own flags say).
    """
    groups: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        if _tracked(cell):
            groups.setdefault(nbgrader_metadata(cell)["grade_id"], []).append(i)
    if all(len(idx) < 2 for idx in groups.values()):
        return {}
    kinds = {}
    for cell in (source.cells if source is not None else []):
        m = nbgrader_metadata(cell)
        if m.get("grade_id"):
            kinds[m["grade_id"]] = bool(m.get("solution"))
    notes, demoted = {}, []
    for gid, idx in groups.items():
        if len(idx) < 2:
            continue
        solution = kinds.get(gid, bool(nbgrader_metadata(nb.cells[idx[0]]).get("solution")))
        keep = idx[-1] if solution else idx[0]
        for i in idx:
            if i != keep:
                nb.cells[i] = _demote(nb.cells[i], run=solution)
                demoted.append(i)
        one = len(idx) == 2
        copies = "the other copy" if one else f"the other {len(idx) - 1} copies"
        notes[gid] = (f"duplicated cell {gid} removed (kept the last copy; {copies} "
                      + ("runs as an ordinary cell)" if one else "run as ordinary cells)") if solution else
                      f"duplicated cell {gid} removed (kept the first copy; {copies} "
                      + ("is" if one else "are") + " not run)")
    # a pasted copy may carry its original's cell id: the copies get new ones (ids must be unique)
    taken = {c.get("id") for i, c in enumerate(nb.cells) if i not in demoted}
    for i in demoted:
        if "id" in nb.cells[i]:
            if nb.cells[i]["id"] in taken:
                nb.cells[i]["id"] = nbformat.v4.new_raw_cell().id
            taken.add(nb.cells[i]["id"])
    return notes


def check(nb: NotebookNode, source: NotebookNode | None) -> list[str]:
    """:func:`structure_issues` that never costs the student a grade (a failure becomes a note)."""
    if source is None:
        return []
    try:
        return structure_issues(nb, source)
    except Exception as exc:
        return [f"structure check failed: {exc.__class__.__name__}"]


def repair(nb: NotebookNode, source: NotebookNode | None, structure: list[str]) -> tuple[NotebookNode, list[str]]:
    """:func:`repair_duplicates` before nbgrader's sanitize pass: (notebook, the structure notes with
    "cell X is duplicated" replaced by what the repair did).  Unchanged notebook if the repair fails."""
    try:
        fixed_nb = copy.deepcopy(nb)
        fixed = repair_duplicates(fixed_nb, source)
    except Exception as exc:
        return nb, structure + [f"duplicate repair failed: {exc.__class__.__name__}"]
    said = {f"cell {gid} is duplicated" for gid in fixed}
    return fixed_nb, [s for s in structure if s not in said] + list(fixed.values())
