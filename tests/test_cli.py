"""The `course` CLI: every wrong usage is one line `course: error: ...` and a non-zero exit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

from autograder.cli import main

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


def _autograde_kwargs(monkeypatch, capsys, tmp_path, *flags):
    """The keyword arguments `course autograde` hands to grading.autograde (stubbed: nothing is graded)."""
    from autograder.commands import autograde as grading

    seen = {}

    def fake(inst, unit, students=None, options=None, **kwargs):
        import dataclasses

        seen.update(dataclasses.asdict(options.with_(**kwargs)), unit=unit, students=students)
        return grading.Summary(unit=unit, executor="stub")

    monkeypatch.setattr(grading, "autograde", fake)
    assert main(["--root", FIX, "autograde", H.UNIT, "--instance", str(tmp_path), *flags]) == 0
    capsys.readouterr()
    return seen


def test_limits_reach_autograde(monkeypatch, capsys, tmp_path):
    from autograder.runtime.sandbox import Limits

    kw = _autograde_kwargs(monkeypatch, capsys, tmp_path)
    assert (kw["memory_mb"], kw["max_processes"], kw["max_output_bytes"], kw["sandbox"]) == (
        Limits.memory_mb, Limits.max_processes, Limits.max_output_bytes, True)
    kw = _autograde_kwargs(monkeypatch, capsys, tmp_path, "--memory-mb", "768", "--max-processes", "64",
                           "--max-output-bytes", "200000", "--no-sandbox")
    assert (kw["memory_mb"], kw["max_processes"], kw["max_output_bytes"], kw["sandbox"]) == (768, 64, 200000, False)
    assert kw["unit"] == H.UNIT


@pytest.mark.parametrize("flag", ["--memory-mb", "--max-processes", "--max-output-bytes"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_bad_limits_are_one_line_errors(capsys, flag, value):
    err = _err(capsys, ["--root", FIX, "autograde", H.UNIT, flag, value], code=2)
    assert flag in err


def test_autograde_help_names_the_limits(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--root", FIX, "autograde", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag in ("--memory-mb", "--max-processes", "--max-output-bytes", "--no-sandbox"):
        assert flag in out


def test_demo_refuses_to_wipe_a_directory_it_did_not_make(capsys, tmp_path):
    """`course demo --instance instance` must not destroy a real class's gradebook."""
    real = tmp_path / "instance"
    (real / "submitted" / "alice").mkdir(parents=True)
    (real / "gradebook.db").write_bytes(b"a real class's grades")
    (real / "submitted" / "alice" / "work.ipynb").write_text("{}")
    err = _err(capsys, ["--root", FIX, "demo", "--instance", str(real), "--no-progress"], code=1)
    assert "refusing to wipe" in err and str(real) in err and "--instance" in err
    assert (real / "gradebook.db").read_bytes() == b"a real class's grades"
    assert (real / "submitted" / "alice" / "work.ipynb").read_text() == "{}"
    stray = tmp_path / "a_file"
    stray.write_text("x")
    assert "not a directory" in _err(capsys, ["--root", FIX, "demo", "--instance", str(stray)], code=1)
    assert stray.read_text() == "x"


def test_demo_wipes_only_its_own_instance(tmp_path):
    from autograder.commands.demo import MARKER, prepare_instance_dir

    old = tmp_path / "old_demo"
    (old / "submitted" / "s001").mkdir(parents=True)
    (old / MARKER).write_text("")
    prepare_instance_dir(old)
    assert sorted(p.name for p in old.iterdir()) == [MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_instance_dir(empty)
    assert (empty / MARKER).is_file()
    prepare_instance_dir(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir" / MARKER).is_file()


@pytest.mark.parametrize("n", ["19", "1"])
def test_demo_rejects_fewer_than_20_students(capsys, tmp_path, n):
    target = tmp_path / "demo"
    err = _err(capsys, ["--root", FIX, "demo", "--students", n, "--instance", str(target)], code=1)
    assert "--students must be at least 20" in err and f"got {n}" in err
    assert not target.exists(), "nothing may be created before the arguments are checked"
