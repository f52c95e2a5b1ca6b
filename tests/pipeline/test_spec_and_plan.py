"""Pipeline step on its own, fast (no kernel): the unit's spec (read once) and the plan of a run
(what runs in the kernel, what in the judge)."""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.pipeline.spec import forbids, kernel_modules, read_spec
from autograder.pipeline.steps.execute import plan_for
from autograder.runtime.kernels import AGENT_MODULE, agent_line

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def test_spec_reads_setup_tasks_references_and_profiles():
    spec = read_spec(_read(SOURCE), "99_tiny")
    assert "import math" in spec.setup
    assert [t.task for t in spec.tasks] == ["task99_1", "task99_2", "task99_3"]
    assert "return a + b" in spec.reference()["task99_1"]
    # task99_2 forbids `statistics`: two profiles, the one holding the last test runs the whole notebook
    assert [p.forbid for p in spec.profiles] == [("statistics",), ()]
    assert spec.profiles[-1].tasks == ("task99_1", "task99_3")
    assert spec.earlier_tasks("task99_3") == ["task99_1", "task99_2"]
    assert kernel_modules(spec, spec.profiles[0])[0] == "course_lib.agent"
    assert forbids("torch.nn.functional", ("torch",)) and not forbids("torchvision", ("torch",))


def test_what_a_kernel_preloads_is_decided_in_one_place():
    """The agent first, from the runtime's one name for it; the spec's modules, or the default without one."""
    spec = read_spec(_read(SOURCE), "99_tiny")
    assert all(kernel_modules(spec, p)[0] == AGENT_MODULE for p in spec.profiles)
    assert kernel_modules(None, None) == kernel_modules(spec, None) == (AGENT_MODULE, "numpy")
    assert agent_line("/x/agent").startswith(f"import {AGENT_MODULE} as ")


def test_the_plan_sends_tests_to_the_judge_and_skips_other_profiles():
    nb = _read(RELEASE)
    spec = read_spec(_read(SOURCE), "99_tiny")
    stats, main = spec.profiles
    gid = {i: c.metadata.get("nbgrader", {}).get("grade_id") for i, c in enumerate(nb.cells)}
    plan = plan_for(nb, spec, main, main=True)
    assert {gid[i]: a for i, a in plan.items() if a == "judge"} == {"test_task99_1": "judge", "test_task99_3": "judge"}
    assert [gid[i] for i, a in plan.items() if a == "skip"] == ["test_task99_2"]
    side = plan_for(nb, spec, stats, main=False)
    assert [gid[i] for i, a in side.items() if a == "judge"] == ["test_task99_2"]
    last = max(i for i, a in side.items() if a == "judge")
    assert all(a == "skip" for i, a in side.items() if i > last), "nothing after its last test runs"
