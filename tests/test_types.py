"""Types on every public function of ``autograder`` and ``course_lib`` (mypy then checks them).

mypy alone does not ask for annotations (``disallow_untyped_defs`` would also demand them on
every private helper and test); this check asks them of the public surface only: module-level
functions and methods of public classes whose names do not start with ``_`` (``__init__``'s
parameters included), every parameter but ``self``/``cls``, and the return type.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _unannotated(path: Path, root: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                a = node.args
                params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
                missing = [p.arg for p in params if p.annotation is None and p.arg not in ("self", "cls")]
                if node.returns is None and node.name != "__init__":
                    missing.append("return")
                if missing:
                    out.append(f"{path.relative_to(root)}:{node.lineno} {prefix}{node.name}: "
                               f"{', '.join(missing)}")

    visit(tree.body, "")
    return out


def test_every_public_function_is_annotated():
    problems = [line for package in ("autograder", "course_lib")
                for path in sorted((REPO / package).rglob("*.py")) for line in _unannotated(path, REPO)]
    assert not problems, "annotate these public functions:\n" + "\n".join(problems)


def test_the_check_finds_a_missing_annotation(tmp_path):
    mod = tmp_path / "pkg" / "mod.py"
    mod.parent.mkdir()
    mod.write_text("def f(x: int) -> int:\n    return x\n\n\ndef g(x, *, y: int = 0):\n    pass\n\n\n"
                   "class C:\n    def m(self, z) -> None:\n        pass\n\n    def _p(self, q):\n        pass\n\n\n"
                   "def _private(a):\n    pass\n")
    assert _unannotated(mod, tmp_path) == ["pkg/mod.py:5 g: x, return", "pkg/mod.py:10 C.m: z"]
