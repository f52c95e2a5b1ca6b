"""Pipeline step on its own, fast (no kernel): intake: the submission's files into a private directory."""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.pipeline.job import GradeJob
from autograder.pipeline.steps import intake

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def test_intake_copies_the_submission_without_links_ignored_or_huge_files(tmp_path):
    sub, src, work = tmp_path / "sub", tmp_path / "src", tmp_path / "work"
    for d in (sub, src, work):
        d.mkdir()
    (sub / "99_tiny.ipynb").write_text("{}")
    (sub / "notes.txt").write_text("mine")
    (sub / "big.bin").write_bytes(b"x" * 3000)
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "a.pyc").write_bytes(b"")
    (sub / "secret.ipynb").symlink_to(SOURCE)
    (sub / "json.py").write_text("raise SystemExit")      # would shadow the standard library
    (src / "data.csv").write_text("from the instructor")
    (sub / "data.csv").write_text("from the student")
    job = GradeJob("s", "99_tiny", str(sub), str(src), ["99_tiny"], "sqlite://", max_file_size=2)
    shadowing = intake.prepare(job, work)
    names = sorted(p.name for p in work.iterdir())
    assert names == ["99_tiny.ipynb", "data.csv", "notes.txt"], names
    assert shadowing == ["json.py"]
    assert (work / "data.csv").read_text() == "from the instructor"


def test_intake_from_remote_files(tmp_path):
    job = GradeJob("s", "u", str(tmp_path / "nowhere"), str(tmp_path / "nosrc"), ["u"], "sqlite://",
                   files={"u.ipynb": b"{}", "sub/x.txt": b"1"})
    intake.prepare(job, tmp_path)
    assert (tmp_path / "sub" / "x.txt").read_bytes() == b"1"


def test_a_remote_worker_is_sent_what_a_local_one_copies(tmp_path):
    """The files a Dask worker gets (read by the parent) follow copy_tree's rules: a symlink is never
    followed (it could point at the instructor's notebook or the gradebook), ignored and huge files stay."""
    sub, work = tmp_path / "sub", tmp_path / "work"
    (sub / "data").mkdir(parents=True)
    (sub / "99_tiny.ipynb").write_text("{}")
    (sub / "data" / "x.txt").write_text("1")
    (sub / "big.bin").write_bytes(b"x" * 3000)
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "a.pyc").write_bytes(b"")
    (sub / "secret.ipynb").symlink_to(SOURCE)
    (sub / "linked").symlink_to(SOURCE.parent, target_is_directory=True)
    work.mkdir()
    intake.copy_tree(sub, work, max_kb=2)
    sent = intake.read_tree(sub, max_kb=2)
    assert sorted(sent) == ["99_tiny.ipynb", "data/x.txt"]
    assert sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file()) == sorted(sent)


def test_the_resume_hash_reads_no_symlink(tmp_path):
    from autograder.pipeline.state import submission_hash

    sub, target = tmp_path / "sub", tmp_path / "target.txt"
    sub.mkdir()
    (sub / "a.ipynb").write_text("{}")
    target.write_text("one")
    (sub / "link.txt").symlink_to(target)
    before = submission_hash(sub)
    target.write_text("two")                      # what the link points at is not the submission
    assert submission_hash(sub) == before
    (sub / "a.ipynb").write_text('{"cells": []}')
    assert submission_hash(sub) != before
