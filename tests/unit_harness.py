"""In-process harness for a unit's nbgrader source notebook, shared by tests/test_unitNN.py.

A unit's tests run the solution notebook ``solutions/NN_name/NN_name.ipynb`` without a Jupyter
kernel, but graded the way ``course autograde`` grades it: the student's cells (IPython ``%`` magics
and ``!`` shell lines blanked out) are exec'd in order in one namespace, the *kernel's*, and every
test cell is run by the judge (:class:`autograder.judge.Judge`) against that namespace through the
same data format and proxies as real grading (``autograder.judge.direct_link``), with the earlier
tasks' functions answered by the instructor's solution. So a test that breaks the judge's rules
(``docs/judge-rules.md``) fails here, fast. The shared notebook tests run the real kernel (nbval),
and tests/test_units_grading.py grades every unit through ``course autograde`` for real.

For each mutant of ``tests/mutants/unitNN.py`` the mutant's source replaces its task's solution
cell and the task's test cell (visible + hidden tests) must fail, and so must the hidden tests
run alone (what nbgrader grades is the whole cell, but DESIGN asks the hidden tests to catch
wrong implementations, not the visible asserts), while the test cells of the later tasks still
pass (a bug costs its own task only); for each correct alternative its test cell must pass. The
solution cell is exec'd again afterwards, so the namespace is left as the solution made it.
:class:`UnitNotebook` also checks the notebook's structure against the unit contract (nbgrader
metadata, points, headings, no outputs), that the student release holds no solutions or hidden
tests, and that the release's stubs score 0 on every grade cell.
"""
from __future__ import annotations

import ast
import io
import re
import textwrap
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

from autograder.cells import task_of
from autograder.pipeline.spec import read_spec
from autograder.pipeline.steps.judge import CellVerdict, Judge, direct_link, shortcut_by_name

REPO = Path(__file__).resolve().parents[1]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
SETUP_NBGRADER = {"grade": False, "solution": False, "locked": True, "grade_id": "setup", "schema_version": 3}
# A mutant killed by one of these says nothing about the tests: it only shows the cell is broken.
TRIVIAL_KILLS = (NameError, SyntaxError, NotImplementedError)
RELEASE_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS")
NOTEBOOK_BUDGET_S, TESTS_BUDGET_S = 90.0, 60.0   # DESIGN, unit contract 6


def cell_source(cell) -> str:
    """A cell's source as one string (the JSON form may hold a list of lines)."""
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def python_source(source: str) -> str:
    """Cell source without IPython magics and shell escapes: lines starting with % or ! are
    blanked, so line numbers in tracebacks still match the notebook."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def nbgrader(cell) -> dict:
    """A cell's ``metadata.nbgrader`` ({} for cells nbgrader does not track)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def exec_cell(source: str, ns: dict, name: str, *, check_stderr: bool = True,
              check_warnings: bool = True) -> list:
    """Exec ``source`` (magics stripped) in ``ns``; return the warnings it emitted.

    With ``check_stderr`` its stdout is swallowed and anything written to stderr fails the
    test; with ``check_warnings`` any warning fails it (nbgrader scores such a cell 0).
    Exceptions raised by the cell propagate.
    """
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if check_stderr:
            with redirect_stdout(io.StringIO()), redirect_stderr(err):
                exec(compile(python_source(source), f"<{name}>", "exec"), ns)
        else:
            exec(compile(python_source(source), f"<{name}>", "exec"), ns)
    assert not err.getvalue(), f"{name} wrote to stderr: {err.getvalue()[:500]}"
    if check_warnings:
        assert not caught, f"{name} emitted warnings: {[str(w.message) for w in caught][:3]}"
    return list(caught)


def hidden_tests(test_source: str) -> str:
    """The hidden tests of a test cell: the lines between ``### BEGIN HIDDEN TESTS`` and
    ``### END HIDDEN TESTS`` (the marker lines themselves are comments), dedented as one block."""
    begin = test_source.index("### BEGIN HIDDEN TESTS")
    end = test_source.index("### END HIDDEN TESTS", begin)
    body = test_source[test_source.index("\n", begin) + 1:end]
    return textwrap.dedent(body.rsplit("\n", 1)[0] if "\n" in body else body)


def mutant_ids(mutants) -> list[str]:
    """pytest ids ``task-name`` for a list of mutants or alternatives."""
    return [f"{m.task}-{m.name}" for m in mutants]


class UnitNotebook:
    """The source notebook of one unit, described by its mutants module ``tests.mutants.unitNN``.

    ``strict`` (the default) makes every code cell of the notebook, and every alternative and
    test cell run by :meth:`expect_passes`, fail on stderr output or warnings. With
    ``strict=False`` (unit 01, whose training cells may log) stderr is not checked, and in
    :meth:`run_all` only warnings of the test cells count: they are collected in
    ``ns["__warnings__"]`` for the unit's test to assert on.
    """

    def __init__(self, mutants: ModuleType, *, strict: bool = True):
        self.mutants_module = mutants
        self.unit: str = mutants.UNIT                                  # e.g. "02_backprop"
        self.number = int(self.unit.split("_", 1)[0])
        self.source = REPO / "solutions" / self.unit / mutants.NOTEBOOK
        self.release = REPO / "notebooks" / "assignments" / self.unit / mutants.NOTEBOOK
        self.lecture = REPO / "notebooks" / "lectures" / mutants.NOTEBOOK
        self.task_re = re.compile(rf"^task{self.number}_[1-9][0-9]*$")
        self.mutants = list(mutants.MUTANTS)
        self.alternatives = list(mutants.CORRECT_ALTERNATIVES)
        self.strict = strict
        # test cells that train (seconds each): :meth:`expect_killed` reruns them after the first
        # mutant of each earlier task whose functions their task calls, not after every one (unit
        # 03's training task made the unit's tests four times slower); the real grader's run
        # (tests/test_units_grading.py) still grades every named mutant's whole notebook
        self.expensive: frozenset[str] = frozenset(getattr(mutants, "EXPENSIVE_TESTS", ()))
        self._later_checked: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------------- reading
    def notebook(self):
        """The source notebook, read fresh from disk (nbformat v4, sources as strings)."""
        return nbformat.read(str(self.source), as_version=4)

    def lecture_notebook(self):
        """The unit's lecture notebook (``notebooks/lectures/NN_name.ipynb``)."""
        return nbformat.read(str(self.lecture), as_version=4)

    def cells(self) -> list:
        """All cells of the source notebook."""
        return self.notebook().cells

    def solution_cells(self) -> dict:
        """Solution code cells by grade id (``taskU_K``)."""
        return {nbgrader(c)["grade_id"]: c for c in self.cells()
                if c.cell_type == "code" and nbgrader(c).get("solution")}

    def test_cells(self) -> dict:
        """Grade (test) code cells by grade id (``test_taskU_K``)."""
        return {nbgrader(c)["grade_id"]: c for c in self.cells()
                if c.cell_type == "code" and nbgrader(c).get("grade")}

    def calls(self, task: str, test_id: str) -> bool:
        """Whether the task of test cell ``test_id`` (its solution cell or its tests) calls a function or
        class that ``task``'s solution cell defines: only then can a bug in ``task`` reach that test."""
        solutions = self.solution_cells()
        try:
            tree = ast.parse(python_source(solutions[task].source))
        except SyntaxError:
            return True
        names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        later = solutions.get(test_id.removeprefix("test_"))
        text = self.test_cells()[test_id].source + "\n" + (later.source if later is not None else "")
        return any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)

    # ------------------------------------------------------------------------- executing
    def spec(self):
        """What grading reads from the instructor's notebook (setup, tasks, references, profiles)."""
        return read_spec(self.notebook(), self.source.stem)

    def run_all(self) -> JudgedRun:
        """Run the notebook as grading does: student cells in the kernel's namespace, test cells in
        the judge; every test cell must pass. Returns the run (see :class:`JudgedRun`).

        A failing cell fails with its index and grade id. ``run["__elapsed__"]`` (wall seconds),
        ``run["__cpu__"]`` (CPU seconds of all cells), ``run["__test_cpu__"]`` (CPU seconds of the
        test cells) and ``run["__warnings__"]`` (see the class docstring) are kept with it.
        """
        run = JudgedRun(self)
        t0, cpu0 = time.perf_counter(), time.process_time()
        test_cpu = 0.0
        for i, cell in enumerate(self.cells()):
            if cell.cell_type != "code":
                continue
            meta = nbgrader(cell)
            if meta.get("grade_id") == "setup":
                continue  # run by JudgedRun, in the kernel and in the judge
            label = f"cell {i} ({meta.get('grade_id', 'no id')})"
            c0 = time.process_time()
            if meta.get("grade") and not meta.get("solution"):
                verdict = run.judge_cell(cell.source, meta["grade_id"])
                test_cpu += time.process_time() - c0
                if not verdict.passed:
                    raise AssertionError(f"{label} of the solution notebook failed in the judge: "
                                         f"{verdict.ename}: {verdict.evalue}")
                continue
            try:
                caught = exec_cell(cell.source, run.kernel, f"{self.unit} {label}", check_stderr=self.strict,
                                   check_warnings=self.strict)
            except Exception as exc:
                raise AssertionError(f"{label} of the solution notebook failed: {exc!r}") from exc
            run.warnings += [f"{label}: {w.category.__name__}: {w.message}" for w in caught] if not self.strict else []
            if meta.get("locked") and meta.get("grade_id") in run.spec.locked:
                run.judge.add_setup(run.spec.locked[meta["grade_id"]])
        run.stats.update({"__elapsed__": time.perf_counter() - t0, "__cpu__": time.process_time() - cpu0,
                          "__test_cpu__": test_cpu, "__warnings__": run.warnings})
        return run

    @staticmethod
    def check_budgets(ns) -> None:
        """DESIGN's budgets for a run from :meth:`run_all`, in CPU seconds (wall time on a
        shared 2-core runner measures the neighbours): solution notebook <= 90 s, its test cells
        (visible and hidden) <= 60 s. ``python -m bench notebooks`` measures the real kernel."""
        assert ns["__cpu__"] <= NOTEBOOK_BUDGET_S, f"solution notebook took {ns['__cpu__']:.1f} s of CPU"
        assert ns["__test_cpu__"] <= TESTS_BUDGET_S, f"test cells took {ns['__test_cpu__']:.1f} s of CPU"

    def check_hidden_tests_pass(self, ns) -> None:
        """Each test cell's hidden tests, run alone in the judge on the solution's run from
        :meth:`run_all`, pass: a mutant's failure of the hidden tests alone is then its own."""
        for grade_id, cell in self.test_cells().items():
            verdict = ns.judge_cell(hidden_tests(cell.source), grade_id)
            assert verdict.passed, f"{self.unit} {grade_id} hidden tests alone: {verdict.ename}: {verdict.evalue}"

    def restore(self, ns, task: str) -> None:
        """Exec ``task``'s solution cell again in the kernel's namespace, undoing a mutant or an alternative."""
        kernel = ns.kernel if isinstance(ns, JudgedRun) else ns
        exec(compile(python_source(self.solution_cells()[task].source), f"<{self.unit} {task}>", "exec"), kernel)

    def _assert_differs_from_solution(self, mutant) -> None:
        solution = self.solution_cells()[mutant.task].source
        assert mutant.source not in (solution, python_source(solution)), \
            f"{mutant.task} / {mutant.name}: the mutant equals the solution"

    def expect_killed(self, ns, mutant, *, known_hidden_survivor: bool = False, later: bool = True) -> None:
        """Exec ``mutant`` in place of its solution cell: its task's whole test cell must fail in the
        judge, and so must the cell's hidden tests run alone (DESIGN: the hidden tests fail wrong
        implementations, so a mutant caught only by the visible asserts is not killed); and with
        ``later``, the test cells of every later task must still pass (the judge answers calls to
        the mutated task's functions with the instructor's solution: a bug costs its own task only).

        The kill must not be trivial (:data:`TRIVIAL_KILLS`). ``known_hidden_survivor`` marks a
        mutant listed by its unit as escaping the hidden tests alone: that run must then still let
        it through, so the list cannot go stale. A mutant named ``shortcut...`` is refused by the
        sandbox, which only real grading has (tests/test_units_grading.py): it is skipped here.
        The solution cell is restored afterwards.
        """
        self._assert_differs_from_solution(mutant)
        if mutant.name.startswith("shortcut"):
            pytest.skip("a shortcut is refused by the sandbox: graded in tests/test_units_grading.py")
        tests = self.test_cells()[f"test_{mutant.task}"].source
        try:
            for part, source in (("test cell", tests), ("hidden tests alone", hidden_tests(tests))):
                with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile(python_source(mutant.source), f"<{self.unit} mutant {mutant.name}>", "exec"),
                         ns.kernel)
                verdict = ns.judge_cell(source, f"test_{mutant.task}", solution=mutant.source)
                if part == "hidden tests alone" and known_hidden_survivor:
                    assert verdict.passed, (f"{mutant.task} / {mutant.name} is now killed by the hidden tests "
                                            f"alone ({verdict.ename}: {verdict.evalue}): remove it from the unit's "
                                            "known survivors")
                    continue
                assert not verdict.passed, f"{mutant.task} / {mutant.name}: survives the {part}"
                assert verdict.ename not in {e.__name__ for e in TRIVIAL_KILLS}, \
                    f"{part}: mutant killed for a trivial reason: {verdict.ename}: {verdict.evalue}"
            if later:
                order = list(self.test_cells())
                for grade_id in order[order.index(f"test_{mutant.task}") + 1:]:
                    if grade_id in self.expensive and ((mutant.task, grade_id) in self._later_checked
                                                       or not self.calls(mutant.task, grade_id)):
                        continue
                    verdict = ns.judge_cell(self.test_cells()[grade_id].source, grade_id)
                    assert verdict.passed, (f"{mutant.task} / {mutant.name} also costs {grade_id} "
                                            f"({verdict.ename}: {verdict.evalue}); a bug must cost its own task only")
                    self._later_checked.add((mutant.task, grade_id))
        finally:
            self.restore(ns, mutant.task)

    def expect_passes(self, ns, alt) -> None:
        """Exec the correct alternative ``alt`` in place of its solution cell: it must run without
        an exception or a warning (nor stderr output when strict), and its task's test cell must
        pass in the judge. The solution cell is restored afterwards."""
        self._assert_differs_from_solution(alt)
        tests = self.test_cells()[f"test_{alt.task}"].source
        try:
            exec_cell(alt.source, ns.kernel, f"{self.unit} alternative {alt.name}", check_stderr=self.strict)
            verdict = ns.judge_cell(tests, f"test_{alt.task}", solution=alt.source)
            assert verdict.passed, (f"{self.unit} test_{alt.task} on alternative {alt.name}: "
                                    f"{verdict.ename}: {verdict.evalue}")
        finally:
            self.restore(ns, alt.task)

    def check_release_scores_zero(self) -> None:
        """The student release as handed out (stubs unfilled) scores 0: every grade cell fails.

        Its code cells run in order as grading runs them (student cells in the kernel's namespace,
        errors allowed as nbgrader's autograde allows them, since a stub's NotImplementedError in a
        demo cell must not stop the run; test cells in the judge, with the instructor's test cells
        as the gradebook restores them). A grade cell that passes would give points for nothing.
        Skipped until the release is built.
        """
        if not self.release.exists():
            pytest.skip(f"{self.release.relative_to(REPO)} not built yet (course build {self.unit})")
        nb = nbformat.read(str(self.release), as_version=4)
        run = JudgedRun(self)
        tests = self.test_cells()
        passed = []
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            gid = nbgrader(cell).get("grade_id")
            if gid == "setup":
                continue
            if nbgrader(cell).get("grade") and not nbgrader(cell).get("solution"):
                if run.judge_cell(tests[gid].source, gid).passed:
                    passed.append(gid)
                continue
            try:
                with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile(python_source(cell.source), f"<{self.unit} release cell {i}>", "exec"), run.kernel)
            except Exception:
                continue
        graded = sum(1 for c in nb.cells if c.cell_type == "code" and nbgrader(c).get("grade"))
        assert graded == len(tests), f"release has {graded} grade cells, source {len(tests)}"
        assert not passed, f"grade cells that pass on the release's stubs: {passed}"

    # ------------------------------------------------------------------------- static checks
    def written_questions(self) -> dict:
        """Manually graded answer cells (markdown, nbgrader grade + solution) by grade id (``qU_K``)."""
        return {nbgrader(c)["grade_id"]: c for c in self.cells()
                if c.cell_type == "markdown" and nbgrader(c).get("grade") and nbgrader(c).get("solution")}

    def check_structure(self, *, written: tuple[int, int] = (0, 0)) -> None:
        """The notebook follows the unit contract.

        Valid nbformat, the course kernelspec, the locked ``setup`` cell first; every solution
        cell is a ``taskU_K`` with BEGIN/END SOLUTION and ``course`` metadata (task, title, and
        ``forbid``, a list of dotted module names, where given), and has exactly one locked
        ``test_taskU_K`` grade cell after it, with visible asserts, one HIDDEN TESTS block and no
        bare number as its last line;
        points of the test cells and the written questions sum to 100 and the markdown heading
        ``## Task U.K: ... (P points)`` before each task states its points.

        ``written``: (least, most) number of written questions (manually graded markdown answer
        cells ``qU_K``, each after a heading ``## Question U.K: ... (P points)``, whose rubric sits
        between BEGIN/END SOLUTION so that the release holds none of it); the contract asks for
        2-4 of them, worth 10-20 points together.
        """
        nb = self.notebook()
        nbformat.validate(nb)
        cells = nb.cells
        assert nb.metadata.get("kernelspec") == KERNELSPEC
        first = cells[0]          # `course build` wants the setup cell first of all cells
        assert first.cell_type == "code", "the locked setup cell must be the notebook's first cell"
        assert nbgrader(first) == SETUP_NBGRADER
        solutions, tests = self.solution_cells(), self.test_cells()
        assert solutions, "no solution cells"
        default_forbid = nb.metadata.get("course", {}).get("forbid", [])
        assert isinstance(default_forbid, list) and all(isinstance(m, str) for m in default_forbid)
        for task, cell in solutions.items():
            assert self.task_re.match(task), f"bad task id {task!r}"
            assert nbgrader(cell) == {"grade": False, "solution": True, "locked": False, "grade_id": task,
                                      "schema_version": 3}
            assert cell.metadata.get("course", {}).get("task") == task
            assert cell.metadata["course"].get("title"), f"{task}: course.title is empty"
            forbid = cell.metadata["course"].get("forbid", default_forbid)
            assert isinstance(forbid, list) and all(isinstance(m, str) and m for m in forbid), \
                f"{task}: course.forbid must be a list of dotted module names"
            src = python_source(cell.source)
            assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src
            assert f"test_{task}" in tests, f"{task} has no test cell"
        assert set(tests) == {f"test_{t}" for t in solutions}, "test cells without a solution cell"
        for grade_id, cell in tests.items():
            meta, src = nbgrader(cell), python_source(cell.source)
            assert meta["locked"] is True and not meta["solution"] and meta["schema_version"] == 3
            assert src.count("### BEGIN HIDDEN TESTS") == 1 and src.count("### END HIDDEN TESTS") == 1
            compile(hidden_tests(src), f"{grade_id} hidden tests", "exec")   # runnable on their own
            assert "assert" in src.split("### BEGIN HIDDEN TESTS")[0], f"{grade_id}: no visible test"
            last = [ln for ln in src.strip().splitlines() if ln.strip()][-1]
            assert not re.fullmatch(r"\s*[-+0-9.eE()]+\s*", last), \
                f"{grade_id}: a test cell must not end with a bare number"
        questions = self.written_questions()
        least, most = written
        assert least <= len(questions) <= most, f"{len(questions)} written questions, expected {least}-{most}"
        q_re = re.compile(rf"^q{self.number}_[1-9][0-9]*$")
        for qid, cell in questions.items():
            meta = nbgrader(cell)
            assert q_re.match(qid), f"bad written-question id {qid!r}"
            assert meta["locked"] is False and meta["schema_version"] == 3 and meta.get("points", 0) > 0
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, \
                f"{qid}: the rubric must sit between BEGIN/END SOLUTION (the release must not show it)"
        written_points = sum(nbgrader(c)["points"] for c in questions.values())
        if questions:
            assert 10 <= written_points <= 20, f"written questions are worth {written_points} points, not 10-20"
        assert sum(nbgrader(c)["points"] for c in tests.values()) + written_points == 100
        # Each test cell follows its solution cell, with a markdown "## Task U.K: ... (P points)" before.
        pos = {nbgrader(c)["grade_id"]: i for i, c in enumerate(cells) if nbgrader(c).get("grade_id")}
        all_md = "\n".join(c.source for c in cells if c.cell_type == "markdown")
        for task in solutions:
            assert pos[task] < pos[f"test_{task}"], f"test_{task} must follow {task}"
            u, k = task[len("task"):].split("_")
            heading = f"## Task {u}.{k}:"
            points = nbgrader(tests[f"test_{task}"])["points"]
            md = [c.source for c in cells[:pos[task]] if c.cell_type == "markdown" and heading in c.source]
            assert md, f"no markdown heading {heading!r} before {task}"
            assert re.search(rf"{re.escape(heading)} .+\({points} points\)", md[-1]), \
                f"{task}: heading must state ({points} points)"
            assert re.search(rf"^{re.escape(heading)} .+ \({points} points\)", all_md, re.M), task
        for qid, cell in questions.items():
            u, k = qid[1:].split("_")
            heading = f"## Question {u}.{k}:"
            before = [c.source for c in cells[:pos[qid]] if c.cell_type == "markdown" and heading in c.source]
            assert before, f"no markdown heading {heading!r} before {qid}"
            assert re.search(rf"{re.escape(heading)} .+\({nbgrader(cell)['points']} points\)", before[-1]), \
                f"{qid}: heading must state ({nbgrader(cell)['points']} points)"

    def check_no_outputs(self, path: Path | None = None) -> None:
        """The notebook (default: the source notebook) is committed without outputs or counts."""
        nb = nbformat.read(str(path or self.source), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None

    def check_mutants(self) -> None:
        """Mutants and alternatives are well formed: each replaces an existing task's solution cell
        with different, compilable source; no (task, name) twice; every task has a mutant."""
        solutions = {task: cell.source for task, cell in self.solution_cells().items()}
        names = set()
        for m in self.mutants + self.alternatives:
            assert m.task in solutions, f"mutant for unknown task {m.task}"
            assert m.source != solutions[m.task], f"{m.task} / {m.name}: same as the solution"
            compile(python_source(m.source), m.name, "exec")
            assert (m.task, m.name) not in names, f"duplicate mutant {m.task} / {m.name}"
            names.add((m.task, m.name))
        self.check_every_task_has_mutants()

    def check_named_mutants(self, named: list[tuple[str, str]]) -> None:
        """Every (task, mutant name) an issue names is kept among the unit's mutants."""
        present = {(m.task, m.name) for m in self.mutants}
        missing = [pair for pair in named if pair not in present]
        assert not missing, f"mutants named by the issue are missing: {missing}"

    def check_every_task_has_mutants(self) -> None:
        """Every solution cell has at least one mutant, and no mutant names an unknown task."""
        assert set(self.solution_cells()) == {m.task for m in self.mutants}, "every task needs at least one mutant"

    def check_release(self) -> None:
        """The student release (skipped until built) holds no solution or hidden-test text."""
        if not self.release.exists():
            pytest.skip(f"{self.release.relative_to(REPO)} not built yet (course build {self.unit})")
        text = self.release.read_text(encoding="utf-8")
        for marker in RELEASE_MARKERS:
            assert marker not in text, f"release notebook contains {marker!r}"


class JudgedRun:
    """One run of a unit's notebook as grading runs it, in this process: ``kernel`` is the namespace
    the student's cells run in, ``judge`` the :class:`~autograder.judge.Judge` that runs test cells
    against it through ``direct_link`` (the same encoding and proxies as a real kernel). Indexing
    gives the run's statistics (``run["__cpu__"]``) or a name of the kernel's namespace."""

    def __init__(self, unit: UnitNotebook):
        self.unit = unit
        self.spec = unit.spec()
        self.kernel: dict = {"__name__": "__main__"}
        # the setup cell runs in the kernel, then the judge runs the instructor's own copy
        exec_cell(self.spec.setup, self.kernel, f"{unit.unit} setup", check_stderr=False, check_warnings=False)
        self.link, self.agent = direct_link(self.kernel)
        self.judge = Judge(self.link, self.spec.setup, reference=self.spec.reference())
        assert self.judge.setup_error is None, self.judge.setup_error
        self.stats: dict = {}
        self.warnings: list[str] = []

    def judge_cell(self, source: str, grade_id: str, solution: str | None = None) -> CellVerdict:
        """Run a test cell in the judge; ``solution``: the task's solution cell as submitted (for the
        tasks whose ``course.forbid_names`` are checked on its text; default: the instructor's)."""
        task = task_of(grade_id)
        info = self.spec.task(task) if task else None
        if info is not None and info.forbid_names:
            refused = shortcut_by_name(task, info.forbid_names, solution if solution is not None else info.source)
            if refused is not None:
                return refused
        earlier = self.spec.earlier_tasks(task) if task else []
        return self.judge.run_cell(source, grade_id, earlier_tasks=earlier)

    def __getitem__(self, key: str):
        if key in self.stats:
            return self.stats[key]
        return self.kernel[key]

    def __contains__(self, key: str) -> bool:
        return key in self.stats or key in self.kernel
