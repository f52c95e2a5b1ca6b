"""Pipeline step on its own (no kernel): execute. The notebook's deadline, what a dead kernel leaves
in the cells it never ran, and the working directory handed to the kernel's user. (What the kernel
itself does is covered by tests/test_autograde.py and the unit grading tests.)"""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from autograder.pipeline.steps.execute import GuardedExecute, give_to, move_all


def _nb(n: int) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(n)] + [nbformat.v4.new_markdown_cell("text")]
    return nb


def _runner(notebook_timeout: float) -> GuardedExecute:
    ex = GuardedExecute(timeout=30)
    ex.notebook_timeout = notebook_timeout
    ex._deadline = time.monotonic() + notebook_timeout
    ex._done, ex.outcome, ex.detail = set(), "ok", None
    ex._t_start, ex.kernel_start_s = time.perf_counter(), 0.0
    return ex


def test_a_cell_after_the_notebook_deadline_is_not_run_and_says_why():
    nb = _nb(2)
    ex = _runner(notebook_timeout=5)
    ex._deadline = time.monotonic() - 1          # the notebook's time is up: no kernel is asked
    cell, _ = ex.preprocess_cell(nb.cells[0], {}, 0)
    assert (ex.outcome, ex.detail) == ("timeout", "notebook time limit of 5 s reached")
    assert [o["ename"] for o in cell.outputs] == ["NotebookTimeout"]
    assert "longer than 5 s" in cell.outputs[0]["evalue"]


def test_a_cell_gets_only_what_is_left_of_the_notebooks_time():
    ex = _runner(notebook_timeout=600)
    assert ex._cell_timeout(None) == 30 and not ex._cut_by_deadline
    ex._deadline = time.monotonic() + 4.2
    assert ex._cell_timeout(None) == 5 and ex._cut_by_deadline   # rounded up, never 0


def test_cells_a_dead_kernel_never_ran_say_so_and_finished_ones_are_left_alone():
    nb = _nb(3)
    ex = _runner(notebook_timeout=600)
    ex._done = {0}
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    ex._fail_rest(nb, "DeadKernelError", "The kernel died")
    assert [[o.get("ename") for o in c.outputs] for c in nb.cells[:3]] == [[None], ["DeadKernelError"],
                                                                          ["DeadKernelError"]]
    assert "outputs" not in nb.cells[3]                                 # markdown untouched


def test_move_all_brings_back_the_submissions_files_but_not_the_sandboxs_own(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    for d in ("sub", ".kernel", ".mplconfig"):
        (src / d).mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / ".hidden").write_text("h")
    (src / "sub" / "b.txt").write_text("b")
    dest.mkdir()
    move_all(src, dest)
    assert sorted(os.listdir(dest)) == [".hidden", "a.txt", "sub"] and (dest / "sub" / "b.txt").read_text() == "b"
    assert sorted(os.listdir(src)) == [".kernel", ".mplconfig"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root (as the sandbox does)")
def test_give_to_hands_the_whole_tree_to_the_kernels_uid(tmp_path):
    (tmp_path / "w" / "sub").mkdir(parents=True)
    (tmp_path / "w" / "sub" / "f.txt").write_text("x")
    (tmp_path / "w" / "link").symlink_to("/etc/passwd")       # the link is chowned, never its target
    give_to(54321, tmp_path / "w")
    owners = {p.name: p.lstat().st_uid for p in [tmp_path / "w", *(tmp_path / "w").rglob("*")]}
    assert owners == {"w": 54321, "sub": 54321, "f.txt": 54321, "link": 54321}
    assert Path("/etc/passwd").stat().st_uid == 0
    give_to(None, tmp_path / "w")                               # no sandbox: nothing changes hands
