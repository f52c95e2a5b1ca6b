"""The `course` CLI: every wrong usage is one line `course: error: ...` and a non-zero exit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H  # noqa: E402

from autograder.cli import main  # noqa: E402

FIX = str(H.FIXTURE)


def _err(capsys, argv, code=None):
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors exit through SystemExit
        rc = exc.code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc != 0, captured
    if code is not None:
        assert rc == code
    assert len(err.splitlines()) == 1 and err.startswith("course: error: "), err
    assert "Traceback" not in err
    return err


def test_unknown_unit_lists_the_known_ones(capsys):
    err = _err(capsys, ["--root", FIX, "autograde", "42_nope", "--instance", "/nonexistent"])
    assert "unknown unit 42_nope" in err and "known units: 99_tiny" in err
    assert "unknown unit" in _err(capsys, ["--root", FIX, "build", "42_nope"])


def test_missing_instance_and_missing_gradebook(capsys, tmp_path):
    err = _err(capsys, ["--root", FIX, "autograde", H.UNIT, "--instance", str(tmp_path / "none")])
    assert "no course instance at" in err and "course init" in err
    (tmp_path / "empty").mkdir()
    for cmd in (["autograde", H.UNIT], ["feedback", H.UNIT], ["export"]):
        err = _err(capsys, ["--root", FIX, *cmd, "--instance", str(tmp_path / "empty")])
        assert "no gradebook at" in err


def test_bad_db_urls(capsys, tmp_path):
    (tmp_path / "inst").mkdir()
    err = _err(capsys, ["--root", FIX, "export", "--instance", str(tmp_path / "inst"), "--db", "not a url"])
    assert "bad --db URL" in err
    err = _err(capsys, ["--root", FIX, "export", "--instance", str(tmp_path / "inst"),
                        "--db", "postgresql://nobody@127.0.0.1:9/nothing"])
    assert "cannot open gradebook" in err


def test_usage_errors_are_one_line(capsys):
    err = _err(capsys, ["--root", FIX, "autograde"], code=2)
    assert "required" in err
    _err(capsys, ["--root", FIX, "autograde", H.UNIT, "--workers", "zero"], code=2)
    _err(capsys, ["--root", FIX, "frobnicate"], code=2)


def test_no_course_root_outside_a_course(tmp_path):
    course = os.path.join(os.path.dirname(sys.executable), "course")
    proc = subprocess.run([course, "build", "--check"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert err.startswith("course: error: no course root found") and len(err.splitlines()) == 1


def test_help_lists_the_commands():
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
