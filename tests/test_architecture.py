"""The shape of the code: layers that import downward only, no cycles, no tests in the package.

``autograder`` has three layers under its commands: ``commands`` (what the CLI runs) may use
``pipeline`` (the grading of one submission and the run's state), which may use ``runtime``
(sandbox, kernel template, kernel pool), which imports nothing above it. The modules at the
package's top (course, instance, options, cells, cli...) are shared vocabulary. Imports inside
functions count as much as those at the top: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _module(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module(path).split(".")
    pkg = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)   # `from pkg import module`
    return out


def _graph(package: str) -> dict[str, set[str]]:
    files = sorted((REPO / package).rglob("*.py"))
    mods = {_module(p): p for p in files}
    graph = {}
    for mod, path in mods.items():
        graph[mod] = {m for m in _imports(path) if m in mods and m != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


LAYERS = {"autograder.runtime": ("autograder.pipeline", "autograder.commands", "autograder.cli"),
          "autograder.pipeline": ("autograder.commands", "autograder.cli")}


def _violations(graph: dict[str, set[str]]) -> list[str]:
    """``module -> dependency`` pairs where a layer imports one above it, or runtime anything above."""
    bad = []
    for mod, deps in graph.items():
        for layer, forbidden in LAYERS.items():
            if mod == layer or mod.startswith(layer + "."):
                bad += [f"{mod} -> {d}" for d in sorted(deps) if d.startswith(forbidden)]
        shared = mod.count(".") == 1 and mod not in ("autograder.cli", "autograder.__main__")
        if shared:   # the vocabulary at the package's top: used by every layer, so it uses none above
            bad += [f"{mod} -> {d}" for d in sorted(deps) if d.startswith(("autograder.commands", "autograder.cli"))]
        if mod.startswith("autograder.runtime"):
            bad += [f"{mod} -> {d}" for d in sorted(deps)
                    if d.startswith("autograder") and not d.startswith("autograder.runtime")]
    return sorted(set(bad))


def test_no_import_cycles_in_the_packages():
    for package in ("autograder", "course_lib"):
        graph = _graph(package)
        assert graph, package
        assert _cycles(graph) == [], f"{package} has import cycles: {_cycles(graph)}"


def test_layers_import_downward_only():
    bad = _violations(_graph("autograder"))
    assert not bad, "a lower layer imports a higher one:\n" + "\n".join(bad)


def test_nothing_in_the_packages_imports_the_tests():
    for package in ("autograder", "course_lib"):
        for path in (REPO / package).rglob("*.py"):
            bad = sorted(m for m in _imports(path) if m == "tests" or m.startswith(("tests.", "bench", "tools")))
            assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_the_checker_finds_a_cycle_and_a_layer_violation():
    """The checks above can fail: made-up graphs with each fault are caught."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert _violations({"autograder.runtime.kernels": {"autograder.pipeline.worker", "autograder.course"},
                        "autograder.pipeline.worker": {"autograder.commands.autograde"},
                        "autograder.commands.autograde": {"autograder.pipeline.worker"},
                        "autograder.instance": {"autograder.commands.build"}}) == [
        "autograder.instance -> autograder.commands.build",
        "autograder.pipeline.worker -> autograder.commands.autograde",
        "autograder.runtime.kernels -> autograder.course",
        "autograder.runtime.kernels -> autograder.pipeline.worker"]


# ---------------------------------------------------------------- the notebook vocabulary, once

MARKER_WORDS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _vocabulary_repeats(path: Path, root: Path = REPO) -> list[str]:
    """Where ``path`` writes notebook knowledge that ``autograder.cells`` (or, for nbgrader's log,
    ``autograder.nbgrader_glue``) holds: a read of a cell's ``nbgrader``/``course`` metadata, an
    nbgrader marker, the ``test_`` of a test cell's id, an import reader, a log handler."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    rel = path.relative_to(root)
    out: list[str] = []
    for node in sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset)):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            key = node.args[0]
        elif isinstance(node, ast.Subscript):
            key = node.slice
        if isinstance(key, ast.Constant) and key.value in ("nbgrader", "course"):
            out.append(f"{rel}:{node.lineno} reads metadata[{key.value!r}] (use cells.nbgrader_metadata/course_metadata)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if any(m in node.value for m in MARKER_WORDS):
                out.append(f"{rel}:{node.lineno} spells an nbgrader marker (use cells' regions and constants)")
            if node.value.startswith("test_"):
                out.append(f"{rel}:{node.lineno} spells a test cell's 'test_' (use cells.test_id/task_name/task_of)")
        if isinstance(node, ast.Attribute) and node.attr in ("Import", "ImportFrom") \
                and isinstance(node.value, ast.Name) and node.value.id == "ast":
            out.append(f"{rel}:{node.lineno} reads imports itself (use cells.imported_modules/names_used)")
        if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("Handler") for b in node.bases):
            out.append(f"{rel}:{node.lineno} captures a log itself (use nbgrader_glue.quiet_logger)")
    return out


def test_the_notebook_vocabulary_is_written_once():
    """Hidden regions, markers, task ids, metadata reads and import readers live in autograder/cells.py
    (on top of nbgrader.utils), nbgrader's log capture in nbgrader_glue.py; nothing else repeats them."""
    homes = {REPO / "autograder" / "cells.py", REPO / "autograder" / "nbgrader_glue.py"}
    problems = [p for path in sorted((REPO / "autograder").rglob("*.py")) if path not in homes
                for p in _vocabulary_repeats(path)]
    assert not problems, "\n".join(problems)


def test_the_vocabulary_check_finds_each_repeat(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text('"""Docstrings may say BEGIN SOLUTION and test_."""\nimport ast\nimport logging\n\n\n'
                   'def f(cell, name, node):\n'
                   '    a = cell.metadata.get("nbgrader", {})\n'
                   '    b = cell.metadata["course"]\n'
                   '    c = "### BEGIN HIDDEN TESTS" in cell.source\n'
                   '    d = name[5:] if name.startswith("test_") else name\n'
                   '    e = isinstance(node, ast.ImportFrom)\n'
                   '    return {"nbgrader": a}, b, c, d, e\n\n\n'
                   'class H(logging.Handler):\n    pass\n')
    found = _vocabulary_repeats(mod, tmp_path)
    assert [f.split(" ", 1)[0] for f in found] == ["mod.py:7", "mod.py:8", "mod.py:9", "mod.py:10", "mod.py:11",
                                                  "mod.py:15"], found


# ---------------------------------------------------------------- imports inside functions

def _unexplained_inner_imports(path: Path, root: Path = REPO) -> list[str]:
    """Imports inside a function or class of ``path`` with no comment saying why they are there.

    An import belongs at the top of its module; one inside a function is a choice (a heavy library
    only some commands need, a module the kernel template must not load, ...) that its comment
    states: on the import's line, or on the line above the group of imports it belongs to."""
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    imports = {n.lineno for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
    inner = sorted({n.lineno for scope in ast.walk(tree)
                    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    for n in ast.walk(scope) if isinstance(n, (ast.Import, ast.ImportFrom))})

    def explained(lineno: int) -> bool:
        # the group: consecutive imports, blank lines between them included (isort's sections)
        first = lineno
        while first - 1 in imports or (not lines[first - 2].strip() and first - 2 in imports):
            first -= 1
        last = lineno
        while last + 1 in imports or (last < len(lines) and not lines[last].strip() and last + 2 in imports):
            last += 1
        group = [re.sub(r"#\s*(noqa|type:\s*ignore)\b.*$", "", ln) for ln in lines[first - 1:last]]
        return lines[first - 2].strip().startswith("#") or any("#" in ln for ln in group)

    return [f"{path.relative_to(root)}:{n} {lines[n - 1].strip()}" for n in inner if not explained(n)]


def test_every_import_inside_a_function_says_why():
    problems = [p for package in ("autograder", "course_lib") for path in sorted((REPO / package).rglob("*.py"))
                for p in _unexplained_inner_imports(path)]
    assert not problems, ("move these imports to the top of their module, or say in a comment why they wait:\n"
                          + "\n".join(problems))


def test_the_inner_import_check_finds_an_unexplained_one(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text("import os\n\n\ndef f():\n    import json\n    return json\n\n\n"
                   "def g():\n    # lazy: torch takes seconds and only g needs it\n    import torch\n    import numpy\n"
                   "    return torch, numpy\n\n\n"
                   "def h():\n    import pickle  # lazy: for the test\n    import copy\n    return pickle, copy\n\n\n"
                   "def k():\n    import zlib  # noqa: F401\n\n\n"
                   "class C:\n    def m(self):\n        from re import compile\n        return compile\n")
    assert [p.split(" ")[0] for p in _unexplained_inner_imports(mod, tmp_path)] == ["mod.py:5", "mod.py:23", "mod.py:28"]


LIGHT = ("autograder.cli", "autograder.commands.collect", "autograder.instance", "autograder.nbgrader_glue",
         "autograder.options", "autograder.runtime.sandbox", "autograder.runtime.forkserver")
HEAVY = ("nbgrader", "nbconvert", "nbclient", "nbformat", "sqlalchemy", "distributed", "ipykernel", "torch")


def test_the_command_line_and_the_kernel_launchers_import_light():
    """What the lazy imports above are for: ``course --help`` (the CLI, with collect's parser), an
    Instance, and the two modules a kernel's process runs (sandbox launcher, fork template) load
    none of the grading stack's heavy libraries until they use them."""
    code = (f"import sys\nfor m in {LIGHT!r}: __import__(m)\n"
            f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing {LIGHT} loaded {out.stdout.strip()}"


NUMPY_ONLY = ("course_lib.data", "course_lib.data.text", "course_lib.device", "course_lib.train", "course_lib.viz",
              "course_lib.nn", "course_lib.classifiers", "course_lib.optim", "course_lib.agent", "course_lib.wire",
              "course_lib.grading")
NOT_YET = ("torch", "sklearn", "matplotlib", "scipy", "tqdm", "ipywidgets", "psutil")


def test_the_numpy_library_loads_without_pytorch_scikit_learn_or_matplotlib():
    """What course_lib's lazy imports are for: a NumPy unit's kernel (or one whose tasks forbid PyTorch or
    scikit-learn) imports the library's NumPy modules, the data and the grading agent without them."""
    code = (f"import sys\nfor m in {NUMPY_ONLY!r}: __import__(m)\n"
            f"print(sorted(h for h in {NOT_YET!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing {NUMPY_ONLY} loaded {out.stdout.strip()}"
