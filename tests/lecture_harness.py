"""The unit contract's checks on a lecture notebook (docs/unit-contract.md, items 1-4), shared by the
tests/test_lectureNN.py files and the lecture checks of tests/test_unitNN.py.

The notebook is read, not run (nbval runs it): its sections in order, each major one ending with 2-4
exercises and a Pitfalls note; the phrases a unit's issue asks for; CI-only checks in collapsed cells
and teaching cells light on asserts; every explorer's "things to try" quoted by a test; and no code
that solves the assignment: no graded function defined, no run of three lines copied from a solution
region (or from a library reference implementation).
"""
from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path

import nbformat

from autograder.cells import python_source

REPO = Path(__file__).resolve().parents[1]
CHECK_MARKER = "# Checks (collapsed)"
_SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def flat(text: str) -> str:
    """Whitespace runs as one space: a phrase broken across lines still matches."""
    return " ".join(text.split())


# ----------------------------------------------------------------------------- near copies
def normalised_lines(source: str) -> list[str]:
    """Code lines without comments, blank lines and all whitespace (so re-indenting or re-spacing a copied line
    does not hide it); magics dropped."""
    src = python_source(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(textwrap.dedent(src)).readline))
        comments = {(t.start[0], t.start[1]) for t in tokens if t.type == tokenize.COMMENT}
    except (tokenize.TokenError, IndentationError, SyntaxError):
        comments = set()
    lines = textwrap.dedent(src).splitlines()
    for row, col in comments:
        lines[row - 1] = lines[row - 1][:col]
    return ["".join(line.split()) for line in lines if line.strip()]


def trivial(line: str) -> bool:
    """A line that says nothing about a solution: too short, or only control flow."""
    return len(line) < 12 or re.fullmatch(r"(return\w*|else:|try:|pass|continue|break|\)+|\]+)", line) is not None


def region_lines(source: str) -> list[str]:
    """The non-trivial normalised lines of a piece of solution code."""
    return [ln for ln in normalised_lines(source) if not trivial(ln)]


def near_copies(code_cells: list[str], regions: dict[str, list[str]], run: int = 3) -> list[str]:
    """(task, lines) for every `run` consecutive non-trivial lines of a solution region that appear, consecutively,
    in one code cell (lines normalised: comments and whitespace removed)."""
    found = []
    for src in code_cells:
        joined = "\n".join(region_lines(src))
        for task, region in regions.items():
            for i in range(len(region) - run + 1):
                window = "\n".join(region[i:i + run])
                if f"\n{window}\n" in f"\n{joined}\n":
                    found.append(f"{task}: {region[i:i + run]}")
    return found


def solution_regions(solution: Path) -> dict[str, list[str]]:
    """grade_id -> the non-trivial lines of the solution regions of each code cell of an instructor notebook
    (written answers are prose, not code to copy)."""
    regions: dict[str, list[str]] = {}
    for cell in nbformat.read(str(solution), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        task = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        for part in _SOLUTION_REGION.findall(cell.source):
            regions.setdefault(task, []).extend(region_lines(part))
    return regions


def defined_names(source: str) -> set[str]:
    """Functions and classes a code cell defines, and names it binds to a lambda."""
    src = python_source(source)
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return set(re.findall(r"^\s*(?:def|class)\s+(\w+)", src, re.M))
    names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


# ----------------------------------------------------------------------------- the lecture
class Lecture:
    """One lecture notebook, ``notebooks/lectures/<name>.ipynb``, and its unit's solution notebook."""

    def __init__(self, name: str, unit: str | None = None):
        self.path = REPO / "notebooks" / "lectures" / f"{name}.ipynb"
        unit = unit or name
        self.solution = REPO / "solutions" / unit / f"{unit}.ipynb"

    @cached_property
    def notebook(self) -> nbformat.NotebookNode:
        return nbformat.read(str(self.path), as_version=4)

    @property
    def cells(self) -> list:
        return self.notebook.cells

    @cached_property
    def markdown(self) -> str:
        return "\n\n".join(c.source for c in self.cells if c.cell_type == "markdown")

    @property
    def code_cells(self) -> list:
        return [c for c in self.cells if c.cell_type == "code"]

    @property
    def code(self) -> list[str]:
        return [c.source for c in self.code_cells]

    @staticmethod
    def is_check(cell) -> bool:
        return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))

    @property
    def checks(self) -> list:
        return [c for c in self.code_cells if self.is_check(c)]

    def section(self, sections: list[str], number: int) -> str:
        """The markdown of section ``number`` (1-based) of ``sections``, up to the next one."""
        md = self.markdown
        return md[md.index(sections[number - 1]):md.index(sections[number])]

    # -- item 1: a lecture ------------------------------------------------------------------
    def check_setup(self, needed: Iterable[str] = (), timer: str = "LECTURE_T0") -> None:
        """The device line, %matplotlib and the CPU timer (``timer``) in the first code cell; ``needed`` (explorers
        displayed, demos through course_lib) somewhere in the code; committed without outputs."""
        first = self.code[0]
        assert "%matplotlib inline" in first and "describe()" in first and timer in first, first[:300]
        text = "\n".join(self.code)
        missing = [n for n in needed if n not in text]
        assert not missing, f"the lecture's code does not contain: {missing}"
        for cell in self.code_cells:
            assert not cell.get("outputs") and cell.get("execution_count") is None, "commit the lecture without outputs"

    def check_sections(self, sections: list[str], major: int, words: int) -> None:
        """Sections in order; each of sections 1..major ends with 2-4 exercises and has a Pitfalls note; at least
        ``words`` words of prose."""
        md = self.markdown
        missing = [s for s in sections if s not in md]
        assert not missing, f"sections missing: {missing}"
        positions = [md.index(s) for s in sections]
        assert positions == sorted(positions), "sections out of order"
        for number in range(1, major + 1):
            body = self.section(sections, number)
            assert "### Exercises" in body, f"section {number} has no exercises"
            items = re.findall(r"^\d+\. ", body[body.rindex("### Exercises"):], re.M)
            assert 2 <= len(items) <= 4, f"section {number}: {len(items)} exercises, expected 2-4"
            assert "**Pitfalls.**" in body, f"section {number} has no Pitfalls note"
        assert len(md.split()) >= words, f"{len(md.split())} words of prose, expected at least {words}"

    def check_phrases(self, phrases: Mapping[str, str] | Iterable[tuple[str, str]], what: str = "topic",
                      ordered: bool = False) -> None:
        """Each (name, phrase) is in the markdown (whitespace normalised); with ``ordered``, in this order."""
        pairs = list(phrases.items()) if isinstance(phrases, Mapping) else list(phrases)
        md = flat(self.markdown)
        found = [md.find(flat(phrase)) for _, phrase in pairs]
        missing = [f"{name} ({phrase!r})" for (name, phrase), at in zip(pairs, found) if at < 0]
        assert not missing, f"{what}s missing: {missing}"
        if ordered:
            assert found == sorted(found), f"{what}s out of the issue's order"

    # -- item 2: checks collapsed -----------------------------------------------------------
    def check_collapsed(self, min_checks: int = 20, counts_as_assert: tuple[str, ...] = ()) -> None:
        """CI-only checks sit in collapsed cells that start with the marker and assert something (an ``assert``,
        or a call named in ``counts_as_assert``); a teaching cell holds at most two asserts; the last check holds
        the lecture to its CPU budget of 60 s."""
        checks = self.checks
        assert len(checks) >= min_checks, f"{len(checks)} collapsed check cells, expected at least {min_checks}"
        for c in self.code_cells:
            asserts = len(re.findall(r"^\s*assert\b", c.source, re.M))
            if self.is_check(c):
                asserting = asserts >= 1 or any(a in c.source for a in counts_as_assert)
                assert c.source.startswith(CHECK_MARKER) and asserting, c.source[:80]
            else:
                assert asserts <= 2, f"a teaching cell with {asserts} asserts:\n{c.source[:200]}"
        assert re.search(r"(cpu|t_total)\s*<\s*60", checks[-1].source), "the last check asserts the 60 s CPU budget"

    def check_checked(self, numbers: Iterable[str]) -> None:
        """Each number (as written in the code) is asserted by a collapsed check."""
        checked = "\n".join(c.source for c in self.checks)
        missing = [n for n in numbers if n not in checked]
        assert not missing, f"no collapsed check asserts: {missing}"

    # -- item 3: explorers --------------------------------------------------------------------
    def suggestions(self, within: str | None = None) -> list[list[str]]:
        """The numbered items of each "**Things to try**" list (of ``within``, default the whole markdown), each
        item's whitespace normalised."""
        blocks = []
        for part in (within or self.markdown).split("**Things to try**")[1:]:
            lines = part.split("\n")[1:]                    # the rest of the heading's line is an aside
            text = "\n".join(lines).lstrip("\n")
            if not re.match(r"\d+\. ", text):               # an introductory line before the list
                text = text.split("\n\n", 1)[1] if "\n\n" in text else ""
            items, seen_list = [], False
            for para in re.split(r"\n\s*\n", text):
                if re.match(r"\d+\. ", para.strip()):
                    seen_list = True
                    items += re.findall(r"^\d+\. (.*?)(?=^\d+\. |\Z)", para.strip(), re.M | re.S)
                elif seen_list:
                    break
            blocks.append([flat(t) for t in items])
        return blocks

    def check_suggestions_quoted(self, test_file: str, counts: list[int], within: str | None = None,
                                 normalise: Callable[[str], str] | None = None) -> None:
        """Contract item 3: every "things to try" is quoted by a test in ``tests/<test_file>`` (the texts change
        together); ``counts`` is how many items each list has."""
        norm = normalise or (lambda s: flat(s).replace("`", ""))
        tests = norm((REPO / "tests" / test_file).read_text(encoding="utf-8"))
        blocks = self.suggestions(within)
        assert [len(b) for b in blocks] == counts, [len(b) for b in blocks]
        for item in (i for b in blocks for i in b):
            assert norm(item) in tests, f"no test in {test_file} quotes the suggestion: {item}"

    # -- item 4: the lecture does not solve the assignment -----------------------------------
    def check_defines_none_of(self, graded: Iterable[str]) -> None:
        defined = set().union(*(defined_names(src) for src in self.code))
        bad = sorted(defined & set(graded))
        assert not bad, f"the lecture defines graded functions: {bad}"

    def check_copies_no_solution(self, extra: Mapping[str, list[str]] | None = None) -> None:
        """No code cell holds 3 consecutive non-trivial lines of a solution region of the unit (or of ``extra``)."""
        regions = {**solution_regions(self.solution), **(extra or {})}
        assert regions, f"no solution regions found in {self.solution}"
        copies = near_copies(self.code, regions)
        assert not copies, "lecture code cells copy solution code:\n" + "\n".join(copies)
