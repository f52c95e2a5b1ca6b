"""``course feedback``: one redacted HTML page per student and notebook, written in parallel.

nbgrader's generate_feedback shows the autograded notebook, hidden tests and their tracebacks
included (jupyter/nbgrader#1363). Here each grade cell shows only its visible part (the hidden
region is replaced by one comment line, using the source cells stored in the gradebook), every
traceback is cut to its last line (the assertion message), a test cell shows nothing that was
printed while it ran, and a table at the top gives, per task,
its name, points earned / possible, pass or fail and that message.

Fast and bounded: the gradebook is read once in this process; the pages are rendered by
nbconvert in ``workers`` processes; a page shows at most ``MAX_CELLS`` cells and
``MAX_OUTPUT_CHARS`` characters of each output, and says so where it cut.
"""
from __future__ import annotations

import functools
import html
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbgrader.api import MissingEntry

from autograder.cells import HIDDEN_BEGIN, course_metadata, grade_id, is_graded, nbgrader_metadata, task_of, without_hidden
from autograder.course import CourseError
from autograder.instance import Instance

if TYPE_CHECKING:
    from nbformat import NotebookNode

REDACTED = "# (hidden tests: not shown)"
MAX_CELLS = 500             # cells shown on one page (an assignment has about 60); graded cells kept
MAX_OUTPUT_CHARS = 20_000   # characters of one text output (stream, error, text/plain, text/html)
MAX_OUTPUTS = 20            # outputs shown per cell
MAX_NOTEBOOK_BYTES = 50 * 2**20   # a bigger autograded notebook is not rendered at all


def visible_source(source: str) -> str:
    """``source`` with each hidden-test region replaced by one comment line."""
    return without_hidden(source, REDACTED)


def _last_line(output: dict) -> str:
    ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
    return f"{ename}: {evalue}" if evalue else ename


def _task_titles(inst: Instance, unit: str) -> dict[str, str]:
    """Task titles from the instance's copy of the instructor's notebooks (what was graded, even
    after ``solutions/`` changed)."""
    titles = {}
    for src in sorted((inst.source_dir / unit).glob("*.ipynb")):
        for cell in nbformat.read(str(src), as_version=4).cells:
            meta = course_metadata(cell)
            if meta.get("task"):
                titles[meta["task"]] = meta.get("title", "")
    return titles


def redact(nb: NotebookNode, source_cells: dict[str, str]) -> None:
    """In place: grade cells show only their visible source; a test cell keeps only its error (the
    test's outcome and message), never what was printed while it ran: that is the test's own
    output or the student's code called with hidden inputs (its arguments, the caller's source it
    dug out); tracebacks keep only their last line."""
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in source_cells and is_graded(cell):
            cell.source = visible_source(source_cells[gid])
        if is_graded(cell) and not nbgrader_metadata(cell).get("solution") and cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if o.get("output_type") == "error"]
        if HIDDEN_BEGIN in cell.source:  # a cell we could not match: never show its hidden part
            cell.source = visible_source(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                # a traceback quotes the code it passed through, hidden tests included
                out["traceback"] = [_last_line(out)]


def _result_for(cell: NotebookNode) -> tuple[bool, str]:
    errs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errs:
        return False, _last_line(errs[-1])
    if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in cell.get("outputs", [])):
        return False, "output on stderr (a warning or error message) counts as a failure"
    return True, ""


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def _cut_text(text: Any) -> tuple[Any, bool]:
    if isinstance(text, list):
        text = "".join(text)
    if isinstance(text, str) and len(text) > MAX_OUTPUT_CHARS:
        return text[:MAX_OUTPUT_CHARS] + f"\n[... {len(text) - MAX_OUTPUT_CHARS:,} more characters not shown]", True
    return text, False


def cap(nb: NotebookNode) -> list[str]:
    """In place: keep at most ``MAX_CELLS`` cells (every graded cell kept), ``MAX_OUTPUTS`` outputs
    per cell and ``MAX_OUTPUT_CHARS`` characters per text output. Returns what was cut, in words,
    for the page to say."""
    notes = []
    if len(nb.cells) > MAX_CELLS:
        graded = [i for i, c in enumerate(nb.cells) if is_graded(c)]
        keep = sorted(set(range(MAX_CELLS - min(len(graded), MAX_CELLS // 2))) | set(graded[:MAX_CELLS // 2]))
        notes.append(f"{len(nb.cells) - len(keep):,} of the notebook's {len(nb.cells):,} cells are not shown "
                     f"(a page shows {MAX_CELLS:,} at most; the table above covers every task)")
        nb.cells = [nb.cells[i] for i in keep]
    cut_outputs = cut_chars = 0
    for cell in nb.cells:
        outs = cell.get("outputs")
        if not outs:
            continue
        if len(outs) > MAX_OUTPUTS:
            cut_outputs += len(outs) - MAX_OUTPUTS
            cell.outputs = outs = outs[:MAX_OUTPUTS]
        for out in outs:
            if "text" in out:
                out["text"], cut = _cut_text(out["text"])
                cut_chars += cut
            for mime in ("text/plain", "text/html", "text/markdown", "image/svg+xml"):
                if mime in out.get("data", {}):
                    out["data"][mime], cut = _cut_text(out["data"][mime])
                    cut_chars += cut
            if out.get("output_type") == "error":
                out["evalue"], cut = _cut_text(out.get("evalue", ""))
                cut_chars += cut
    if cut_outputs:
        notes.append(f"{cut_outputs:,} outputs are not shown (a cell shows {MAX_OUTPUTS} at most)")
    if cut_chars:
        notes.append(f"{cut_chars:,} outputs are cut at {MAX_OUTPUT_CHARS:,} characters")
    return notes


@dataclass
class Page:
    """What one feedback page needs, as plain data (read from the gradebook in the parent)."""

    unit: str
    student: str
    notebook: str
    autograded: str
    out: str
    score: float | None
    max_score: float | None
    penalty: float
    sources: dict[str, str] = field(default_factory=dict)
    grades: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)


_EXPORTER: Any = None


def _exporter() -> Any:
    """One nbconvert HTMLExporter per process (building one reads its templates and theme)."""
    global _EXPORTER
    if _EXPORTER is None:
        # lazy: nbconvert takes seconds to import; only a process that renders a page loads it (the class subclasses it)
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class FeedbackExporter(HTMLExporter):
            """nbconvert's lab HTML, made fit for a class's worth of pages (nbconvert has no option for
            either change):

            * without its last pass, which re-parses the whole page (about 0.8 MB: the lab theme's CSS
              is inlined) with BeautifulSoup to add alt text to images and tabindex to cells: 60% of a
              page's time (1.1 s -> 0.45 s per unit-01 page). ``_alt_text`` adds the alt text;
            * with its costliest filters (bleach's ``clean_html``, pygments' ``highlight_code``)
              memoised on their text: the task texts and locked cells are the same on every
              student's page, so each is sanitised and highlighted once per worker.
            What else this does is HTMLExporter.from_notebook_node's."""

            def default_filters(self) -> Any:
                for name, fn in super().default_filters():
                    yield name, functools.lru_cache(maxsize=4096)(fn) if name == "clean_html" else fn

            def from_notebook_node(self, nb: NotebookNode, resources: dict | None = None,  # type: ignore[override]
                                   **kw: Any) -> tuple[str, dict]:
                langinfo = nb.metadata.get("language_info", {})
                lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
                self.register_filter("highlight_code", _cached_highlight(
                    Highlight2HTML(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                body, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
                return _alt_text(body), resources

        _EXPORTER = FeedbackExporter(template_name="lab")
    return _EXPORTER


def _cached_highlight(highlight: Any) -> Any:
    cache = functools.lru_cache(maxsize=4096)(
        lambda source, language, magics: highlight(source, language=language,
                                                   metadata={"magics_language": magics} if magics else None))

    def highlight_code(source: str, language: str | None = None, metadata: dict | None = None) -> str:
        return cache(source, language, (metadata or {}).get("magics_language"))

    return highlight_code


def _alt_text(body: str) -> str:
    # the lab template writes every image as `<img src=`; screen readers need an alt attribute
    return body.replace("<img src=", '<img alt="an output of your notebook" src=')


def _read(path: Path) -> NotebookNode | None:
    """The autograded notebook, or None. Read without nbformat's schema validation: the grader
    wrote it, and validating a 100,000-cell notebook takes minutes."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("nbformat") == 4 and isinstance(data.get("cells"), list):
            from nbformat.v4.rwbase import rejoin_lines  # what nbformat.read does, less the validation

            return rejoin_lines(nbformat.from_dict(data))
        return nbformat.read(str(path), as_version=4)
    except Exception:
        return None


def render(page: Page) -> str:
    """Write one feedback page; returns its path. Runs in a worker process."""
    path = Path(page.autograded)
    too_big = path.is_file() and path.stat().st_size > MAX_NOTEBOOK_BYTES
    nb = None if too_big else _read(path)
    if nb is None:
        why = (f"is {path.stat().st_size / 2**20:.0f} MB, more than a feedback page shows" if too_big
               else "could not be graded (missing or not a valid notebook)")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
            f"Your notebook {why}; the table above gives every task's score.", id="not-graded")])
    results = {id(c): _result_for(c) for c in nb.cells}  # before redact drops what the tests printed
    redact(nb, page.sources)
    rows: list[tuple] = []
    verdicts: dict[int, NotebookNode] = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if is_graded(cell) and gid in page.grades:
            score, mx = page.grades[gid]
            task = task_of(gid) or gid
            ok, msg = results[id(cell)]
            verdict = "passed" if ok and (score or 0) >= (mx or 0) else "failed"
            rows.append((task, page.titles.get(task, ""), score, mx, verdict, msg))
            verdicts[id(cell)] = nbformat.v4.new_markdown_cell(  # ids fixed: the same grades, the same page
                f"**{task}** — {_fmt(score)} / {_fmt(mx)} points — **{verdict}**" + (f": `{msg}`" if msg else ""),
                id=f"verdict-{len(verdicts)}")
    seen = {r[0] for r in rows}
    for gid, (score, mx) in sorted(page.grades.items()):
        task = task_of(gid) or gid
        if task not in seen:  # its cell is not in the notebook (unreadable or deleted)
            rows.append((task, page.titles.get(task, ""), score, mx, "failed",
                         "not graded: the notebook or this cell is missing or unreadable"))
    notes = cap(nb)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if id(cell) in verdicts:
            cells.append(verdicts[id(cell)])
    table = ["| Task | | Points | Result | Message |", "|---|---|---:|---|---|"]
    for task, title, score, mx, verdict, msg in rows:
        table.append(f"| {task} | {html.escape(title)} | {_fmt(score)} / {_fmt(mx)} | {verdict} | "
                     f"{html.escape(msg[:MAX_OUTPUT_CHARS]).replace('|', '&#124;')} |")
    head = nbformat.v4.new_markdown_cell(
        f"# Feedback: {page.unit} — {page.student}\n\n"
        f"**Score: {_fmt(page.score)} / {_fmt(page.max_score)}**"
        + (f" (late penalty {_fmt(page.penalty)})" if page.penalty else "")
        + "\n\n" + "\n".join(table)
        + "\n\nHidden tests are not shown; each failed task gives the message of its first failing check."
        + "".join(f"\n\n*Not everything is shown: {n}.*" for n in notes), id="feedback-summary")
    nb.cells = [head] + cells
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": f"{page.unit} — {page.student}"}})
    out = Path(page.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    return str(out)


def _pages(inst: Instance, unit: str, students: list[str] | None) -> list[Page]:
    titles = _task_titles(inst, unit)
    pages = []
    with inst.gradebook() as gb:
        try:
            assignment = gb.find_assignment(unit)
        except MissingEntry:
            raise CourseError(f"{unit} is not in the gradebook; run `course autograde {unit}` first") from None
        sources = {nbm.name: {c.name: c.source for c in nbm.source_cells} for nbm in assignment.notebooks}
        base = inst.root / "autograded"
        todo = students or (sorted(d.name for d in base.iterdir() if (d / unit).is_dir()) if base.is_dir() else [])
        for student in todo:
            try:
                sub = gb.find_submission(unit, student)
            except MissingEntry:
                continue
            for nbm in assignment.notebooks:
                subnb = gb.find_submission_notebook(nbm.name, unit, student)
                pages.append(Page(
                    unit=unit, student=student, notebook=nbm.name,
                    autograded=str(inst.autograded_dir(student, unit) / f"{nbm.name}.ipynb"),
                    out=str(inst.feedback_dir(student, unit) / f"{nbm.name}.html"),
                    score=sub.score, max_score=sub.max_score, penalty=sub.late_submission_penalty or 0.0,
                    sources=sources[nbm.name], titles=titles,
                    grades={g.name: (g.score, g.max_score) for g in subnb.grades}))
    return pages


def feedback(inst: Instance, unit: str, students: list[str] | None = None, workers: int | None = None) -> list[Path]:
    """Write ``feedback/<student>/<unit>/<notebook>.html`` for every autograded submission, in
    ``workers`` processes (default: the CPU count); returns the paths."""
    inst.require()
    inst.course.check_units([unit])
    pages = _pages(inst, unit, students)
    workers = max(1, min(workers or os.cpu_count() or 1, len(pages)))
    if workers == 1:
        return [Path(render(p)) for p in pages]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [Path(p) for p in pool.map(render, pages, chunksize=max(1, len(pages) // (4 * workers)))]
