"""One options object carries a run's settings from the CLI to the worker; each default is declared once.

``RunOptions`` (autograder/options.py) holds a grading run's settings and ``Limits``
(autograder/runtime/sandbox.py) a kernel's resource limits; ``course demo``'s own defaults are
constants of options.py. Nothing else in the package writes one of those defaults as a literal: a
class attribute, a parameter default or an argparse ``default=`` that repeats a number drifts apart
from it the day one of them changes.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

from autograder import options
from autograder.cli import _run_options, make_parser
from autograder.options import RunOptions
from autograder.runtime.sandbox import Limits

REPO = Path(__file__).resolve().parents[1]
# ``force`` is left out: RunOptions' means "regrade", other functions' means "overwrite"
SETTINGS = ({f.name for f in dataclasses.fields(RunOptions)} | {f.name for f in dataclasses.fields(Limits)}
            | {"students"}) - {"force"}
HOMES = {("autograder/options.py", "RunOptions"), ("autograder/runtime/sandbox.py", "Limits")}


def _literal(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is not None and not isinstance(node.value, str)


def _repeated_defaults(path: Path, root: Path = REPO) -> list[str]:
    rel = str(path.relative_to(root))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
        if (rel, cls.name) in HOMES:
            continue
        for st in cls.body:
            target = st.target if isinstance(st, ast.AnnAssign) else st.targets[0] if isinstance(st, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id in SETTINGS and _literal(st.value):
                out.append(f"{rel}:{st.lineno} {cls.name}.{target.id} = {ast.unparse(st.value)}")
    for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        a = fn.args
        pos = [*a.posonlyargs, *a.args]
        pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
        out += [f"{rel}:{fn.lineno} {fn.name}({arg.arg}={ast.unparse(d)})" for arg, d in pairs
                if arg.arg in SETTINGS and _literal(d)]
    for call in [n for n in ast.walk(tree) if isinstance(n, ast.Call)]:
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument":
            out += [f"{rel}:{call.lineno} add_argument(default={ast.unparse(k.value)})" for k in call.keywords
                    if k.arg == "default" and _literal(k.value) and not isinstance(k.value.value, bool)]
    return out


def test_each_default_of_a_run_is_declared_once():
    problems = [p for path in sorted((REPO / "autograder").rglob("*.py")) for p in _repeated_defaults(path)]
    assert not problems, "take these defaults from RunOptions / Limits / options.py instead:\n" + "\n".join(problems)


def test_the_check_finds_a_repeated_default(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text("class E:\n    notebook_timeout = 600.0\n    plan = {}\n\n\n"
                   "def f(x, cell_timeout: int = 20, *, workers=None, memory_mb=2048):\n    pass\n\n\n"
                   "def g(p):\n    p.add_argument('--n', default=22)\n"
                   "    p.add_argument('--q', action='store_true', default=False)\n")
    assert [p.split(" ", 1)[1] for p in _repeated_defaults(mod, tmp_path)] == [
        "E.notebook_timeout = 600.0", "f(cell_timeout=20)", "f(memory_mb=2048)", "add_argument(default=22)"]


def _parsed(*argv: str):
    return make_parser().parse_args(list(argv))


def test_flags_not_given_are_the_options_defaults():
    assert _run_options(_parsed("autograde", "01_linear_classifiers")) == RunOptions()
    assert RunOptions().limits() == Limits(notebook_timeout=RunOptions().notebook_seconds)


def test_the_demo_takes_its_defaults_from_one_place():
    from autograder.commands.demo import run_demo

    args = _parsed("demo")
    params = inspect.signature(run_demo).parameters
    assert args.timeout == params["cell_timeout"].default == options.DEMO_CELL_TIMEOUT
    assert args.students == params["students"].default == options.DEMO_STUDENTS
