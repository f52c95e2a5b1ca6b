"""Pipeline step on its own, fast (no kernel): the resume state: a submission's hash follows its content."""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.pipeline.state import submission_hash

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def test_submission_hash_follows_content_not_ignored_files(tmp_path):
    (tmp_path / "a.ipynb").write_text("1")
    h1 = submission_hash(tmp_path)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("junk")
    assert submission_hash(tmp_path) == h1
    (tmp_path / "a.ipynb").write_text("2")
    assert submission_hash(tmp_path) != h1
    assert submission_hash(tmp_path, extra="v2") != submission_hash(tmp_path)
