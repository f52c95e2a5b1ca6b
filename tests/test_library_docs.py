"""Each public function and class of ``course_lib`` points back to the lecture that introduces it.

As d2l's library says where each function is defined, every public symbol's docstring ends with
``Introduced in lecture NN_name.``; the unit is a lecture of ``notebooks/lectures/`` or a unit
the README's table lists as to come. The grading machinery (``agent``, ``wire``, ``grading``,
``probes``) is not lecture material: docs/judge-rules.md documents it.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "course_lib"
GRADING_MACHINERY = {"agent.py", "wire.py", "grading.py", "probes.py"}
POINTER = re.compile(r"Introduced in lecture (\d\d_\w+)\.")


def _units_of_readme() -> set[str]:
    table = REPO.joinpath("README.md").read_text(encoding="utf-8").split("## Units", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\d\d_\w+)` \|", table, flags=re.M))


def _public_symbols(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and not n.name.startswith("_")]


def _modules() -> list[Path]:
    return [p for p in sorted(LIB.rglob("*.py"))
            if str(p.relative_to(LIB)) not in GRADING_MACHINERY and (p.name == "__init__.py" or not p.name.startswith("_"))]


def _missing_pointers(path: Path, units: set[str]) -> list[str]:
    out = []
    for node in _public_symbols(path):
        m = POINTER.search(ast.get_docstring(node) or "")
        where = f"{path.relative_to(path.parents[1])}:{node.lineno} {node.name}"
        if not m:
            out.append(f"{where}: no 'Introduced in lecture NN_name.' line in its docstring")
        elif m.group(1) not in units:
            out.append(f"{where}: lecture {m.group(1)} is neither in notebooks/lectures/ nor in the README's units")
    return out


def test_every_public_symbol_points_to_its_lecture():
    lectures = {p.stem for p in (REPO / "notebooks" / "lectures").glob("*.ipynb")}
    units = lectures | _units_of_readme()
    assert {"01_linear_classifiers", "04_rnn"} <= units
    problems = [line for p in _modules() for line in _missing_pointers(p, units)]
    assert not problems, "\n".join(problems)


def test_every_lecture_in_the_repository_is_in_the_readme():
    lectures = {p.stem for p in (REPO / "notebooks" / "lectures").glob("*.ipynb")}
    assert lectures <= _units_of_readme(), f"add to README's Units table: {sorted(lectures - _units_of_readme())}"


def test_the_check_fails_on_a_symbol_without_pointer(tmp_path):
    bad = tmp_path / "mod.py"
    bad.write_text('def f():\n    """Does f."""\n\n\ndef g():\n    """Introduced in lecture 99_nothing."""\n\n\n'
                   'def h():\n    """Introduced in lecture 01_linear_classifiers."""\n\n\ndef _private():\n    pass\n')
    problems = _missing_pointers(bad, {"01_linear_classifiers"})
    assert len(problems) == 2 and "f: no" in problems[0] and "99_nothing" in problems[1]


# ---------------------------------------------------------------- docs that point at the code

DOTTED = re.compile(r"\b(autograder(?:\.[A-Za-z_]\w*)+)")
# paths of the code and the docs (those under tests/ and bench/ are often examples: test_unit08.py)
PATHS = re.compile(r"\b((?:autograder|course_lib|tools|docs)/[\w./-]*\w)")


def _stale_references(text: str, where: str) -> list[str]:
    """Dotted names ``autograder.x.y`` that import nowhere, and repository paths that do not exist."""
    import importlib

    out = []
    for name in sorted(set(DOTTED.findall(text))):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                out.append(f"{where}: {name} (no {'.'.join(parts[i:])} in {'.'.join(parts[:i])})")
            break
        else:
            out.append(f"{where}: {name} (no such module)")
    for path in sorted(set(PATHS.findall(text))):
        if not (REPO / path).exists() and not any((REPO / path).parent.glob((REPO / path).name + ".*")):
            out.append(f"{where}: {path} (no such file)")
    return out


def test_docs_and_docstrings_name_modules_and_files_that_exist():
    """After the package was split into layers, old names (``autograder.judge``, ``autograder/pgserver.py``)
    lingered in docstrings and docs; every name and path a reader is sent to must exist."""
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "autograder").rglob("*.py")),
             *sorted((REPO / "tools").glob("*.py"))]
    problems = [p for f in files for p in _stale_references(f.read_text(encoding="utf-8"), str(f.relative_to(REPO)))]
    assert not problems, "\n".join(problems)


def test_the_reference_check_finds_stale_names():
    found = _stale_references("see autograder.judge.Judge, autograder.options.RunOptions, autograder.cells.nope "
                              "and autograder/pgserver.py, autograder/cells.py, docs/ARCHITECTURE.md", "x")
    assert [f.split(" ")[1] for f in found] == ["autograder.cells.nope", "autograder.judge.Judge",
                                                "autograder/pgserver.py"], found


def test_readme_and_docs_link_only_inside_the_repository():
    """A clone from anywhere has what the README and docs/ link to: no absolute paths, no folder
    beside the repository, every relative link resolves."""
    problems = []
    for md in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = md.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            if target.startswith("/") or not (md.parent / target.split("#")[0]).exists():
                problems.append(f"{md.relative_to(REPO)}: link to {target}")
        if re.search(r"/work/|shared folder|beside this repository", text):
            problems.append(f"{md.relative_to(REPO)}: points outside the repository")
    assert not problems, "\n".join(problems)
