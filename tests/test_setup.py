"""The set-up a user runs: pinned packages, the same in pip and conda, CI = the README's command."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml  # PyYAML comes with jupyter's dependencies

REPO = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for d in deps:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", d)
        assert m, f"pyproject.toml: {d!r} is not pinned with == (every dependency is pinned)"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def _conda_pip_deps() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    out = {}
    for d in pip_sections[0]:
        name, _, version = d.partition("==")
        out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def test_environment_yml_names_the_same_packages_as_pyproject():
    py, conda = _pyproject_deps(), _conda_pip_deps()
    assert set(py) == set(conda), (
        f"only in pyproject.toml: {sorted(set(py) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(py))}")
    differ = {k: (py[k], conda[k]) for k in py if py[k] != conda[k]}
    assert not differ, f"versions differ (pyproject, environment.yml): {differ}"


def test_environment_yml_is_python_311():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_torch_is_pinned_to_the_cpu_wheel_version():
    # An unpinned torch pulls several GB of CUDA packages.
    assert _pyproject_deps()["torch"] == "2.13.0"
    assert "torch==2.13.0" in (REPO / "Makefile").read_text()


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    wrong = {}
    for name, want in _pyproject_deps().items():
        got = version(name)
        if got.split("+")[0] != want:
            wrong[name] = (want, got)
    assert not wrong, f"installed versions differ from the pins (want, got): {wrong}; run `make setup`"


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert "make test" in commands, ".ci/run must call the README's test command"
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_notebooks_are_committed_without_outputs():
    import json

    with_outputs = []
    for nb_path in [*REPO.glob("notebooks/**/*.ipynb"), *REPO.glob("solutions/**/*.ipynb")]:
        if ".ipynb_checkpoints" in nb_path.parts:
            continue
        nb = json.loads(nb_path.read_text())
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            with_outputs.append(str(nb_path.relative_to(REPO)))
    assert not with_outputs, f"clear the outputs of: {with_outputs} (jupyter nbconvert --clear-output --inplace)"
