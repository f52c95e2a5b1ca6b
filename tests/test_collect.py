"""``course collect``: from a synthesised nbgrader exchange and synthesised LMS zips."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.commands import collect as C
from autograder.course import Course, CourseError
from autograder.instance import Instance

REPO = Path(__file__).resolve().parents[1]
FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
UNIT = "99_tiny"
NB = f"{UNIT}.ipynb"


def notebook(answer: str = "pass") -> str:
    """A small valid notebook whose one code cell is ``answer`` (so versions differ)."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(answer))
    return nbformat.writes(nb)


@pytest.fixture
def inst(tmp_path) -> Instance:
    root = tmp_path / "instance"
    root.mkdir()
    return Instance(root, course=Course(FIXTURE_COURSE))


def submitted(inst: Instance, student: str) -> str:
    nb = nbformat.read(inst.submitted_dir(student, UNIT) / NB, as_version=4)
    return nb.cells[0].source


# ---------------------------------------------------------------- exchange


def submit(xroot: Path, student: str, when: dt.datetime, text: str | None, name: str | None = None) -> Path:
    """What ``nbgrader submit`` leaves in the exchange: inbound/<student>+<unit>+<timestamp>+<random>/."""
    stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    d = xroot / "dl-course" / "inbound" / (name or f"{student}+{UNIT}+{stamp}+{os.urandom(4).hex()}")
    d.mkdir(parents=True)
    (d / "timestamp.txt").write_text(stamp)
    if text is not None:
        (d / NB).write_text(text)
    return d


T0 = dt.datetime(2026, 11, 20, 10, 0, 0)


def test_exchange_takes_newest_and_reports_skips(inst, tmp_path):
    xroot = tmp_path / "exchange"
    submit(xroot, "alice", T0, notebook("alice v1"))
    submit(xroot, "alice", T0 + dt.timedelta(hours=1), notebook("alice v2"))
    submit(xroot, "bob", T0, notebook("bob v1"))
    submit(xroot, "carol", T0, "")                          # an empty notebook file
    submit(xroot, "dave", T0, None, name=f"dave+{UNIT}+not-a-time+x")

    rep = C.collect(inst, UNIT, exchange=True, exchange_dir=xroot)

    assert rep.students == ["alice", "bob", "carol"]
    assert submitted(inst, "alice") == "alice v2" and submitted(inst, "bob") == "bob v1"
    assert "2026-11-20 11:00:00" in (inst.submitted_dir("alice", UNIT) / "timestamp.txt").read_text()
    [carol] = [t for t in rep.taken if t.student == "carol"]
    assert any("empty file" in n for n in carol.notes), carol.notes
    reasons = {(s.student, s.reason) for s in rep.skipped}
    assert reasons == {("alice", C.OLDER), (None, C.BAD_EXCHANGE_NAME)}
    assert [s.source for s in rep.skipped if s.reason == C.BAD_EXCHANGE_NAME] == [f"inbound/dave+{UNIT}+not-a-time+x"]
    text = rep.text()
    assert "took 3 submission(s) (3 new, 0 replaced)" in text and "older duplicate" in text

    # rerun: nothing new; then a newer submission of bob replaces the collected one
    rep2 = C.collect(inst, UNIT, exchange=True, exchange_dir=xroot)
    assert rep2.taken == [] and [s.reason for s in rep2.problems] == [C.BAD_EXCHANGE_NAME]
    assert {s.student for s in rep2.skipped if s.reason == C.UNCHANGED} == {"alice", "bob", "carol"}
    submit(xroot, "bob", T0 + dt.timedelta(days=1), notebook("bob v2"))
    rep3 = C.collect(inst, UNIT, exchange=True, exchange_dir=xroot)
    assert [(t.student, t.replaced) for t in rep3.taken] == [("bob", True)]
    assert submitted(inst, "bob") == "bob v2"


def test_exchange_keeps_a_newer_collected_submission(inst, tmp_path):
    z = zip_with(tmp_path / "late.zip", [("bob_1_2_99_tiny.ipynb", notebook("bob from the LMS"), D2)])
    assert C.collect(inst, UNIT, zip_path=z).students == ["bob"]
    xroot = tmp_path / "exchange"
    submit(xroot, "bob", T0, notebook("bob early"))        # 10:00, the LMS copy is from 12:00
    rep = C.collect(inst, UNIT, exchange=True, exchange_dir=xroot)
    assert rep.taken == [] and [s.reason for s in rep.skipped] == [C.NEWER_COLLECTED]
    assert submitted(inst, "bob") == "bob from the LMS"


def test_exchange_default_root_is_the_instances(inst):
    # The fixture course config points at <course>/instance/exchange: rebased onto this instance.
    assert C.exchange_root(inst) == inst.root / "exchange"
    with pytest.raises(CourseError, match="no inbound directory"):
        C.collect(inst, UNIT, exchange=True)


# ---------------------------------------------------------------- LMS zip


def zip_with(path: Path, entries: list[tuple[str, str | bytes, tuple]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, when in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


D1, D2 = (2026, 11, 20, 9, 0, 0), (2026, 11, 20, 12, 0, 0)


def canvas_zip(path: Path) -> Path:
    return zip_with(path, [
        ("alice_1001_5001_99_tiny.ipynb", notebook("alice"), D1),
        ("bob_1002_5002_99_tiny.ipynb", notebook("bob old"), D1),
        ("bob_1002_5002_99_tiny-1.ipynb", notebook("bob new"), D2),        # Canvas resubmission
        ("frank_LATE_1006_5006_99_tiny.ipynb", notebook("frank"), D2),      # late: still taken
        ("carol_1003_5003_homework.ipynb", notebook("carol"), D1),          # not this unit's notebook
        ("dave_1004_5004_99_tiny.ipynb", b"", D1),                         # empty
        ("erin_1005_5005_99_tiny.ipynb", b"{not json", D1),                # unreadable
        ("readme.txt", b"hello", D1),                                      # not a notebook
        ("Untitled.ipynb", notebook(), D1),                                # name the regex does not read
    ])


def test_zip_canvas_download(inst, tmp_path):
    z = canvas_zip(tmp_path / "submissions.zip")
    rep = C.collect(inst, UNIT, zip_path=z)

    assert rep.students == ["alice", "bob", "frank"]
    assert submitted(inst, "bob") == "bob new"
    assert (inst.submitted_dir("bob", UNIT) / "timestamp.txt").read_text().startswith("2026-11-20 12:00:00")
    why = {Path(s.source.split(":")[-1]).name: s.reason for s in rep.skipped}
    assert why == {
        "bob_1002_5002_99_tiny.ipynb": C.OLDER,
        "carol_1003_5003_homework.ipynb": C.UNKNOWN_NOTEBOOK,
        "dave_1004_5004_99_tiny.ipynb": C.EMPTY,
        "erin_1005_5005_99_tiny.ipynb": C.UNREADABLE,
        "readme.txt": C.NOT_NOTEBOOK,
        "Untitled.ipynb": C.NO_MATCH,
    }
    assert not (inst.root / "submitted" / "carol").exists() and not (inst.root / "submitted" / "dave").exists()
    assert "homework.ipynb" in rep.text() and "99_tiny.ipynb" in rep.text()

    rep2 = C.collect(inst, UNIT, zip_path=z)            # same download again: nothing changes
    assert rep2.taken == [] and {s.student for s in rep2.skipped if s.reason == C.UNCHANGED} == {
        "alice", "bob", "frank"}


def test_zip_directory_with_bad_archives_and_loose_files(inst, tmp_path):
    d = tmp_path / "download"
    d.mkdir()
    zip_with(d / "part1.zip", [("alice_1_2_99_tiny.ipynb", notebook("alice"), D1)])
    (d / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (d / "empty.zip").write_bytes(b"")
    zip_with(d / "slip.zip", [("../../bob_9_9_99_tiny.ipynb", notebook("evil"), D1)])
    (d / "bob_3_4_99_tiny.ipynb").write_text(notebook("bob loose"))
    rep = C.collect(inst, UNIT, zip_path=d)
    assert rep.students == ["alice", "bob"]
    bad = {s.source: s.reason for s in rep.skipped}
    assert bad == {"download/broken.zip": C.BAD_ZIP, "download/empty.zip": C.BAD_ZIP,
                   "download/slip.zip": C.BAD_ZIP}
    assert "unsafe member path" in rep.text()
    assert submitted(inst, "bob") == "bob loose"
    assert not (tmp_path / "bob_9_9_99_tiny.ipynb").exists()


def test_zip_custom_regex_with_timestamp_and_names(inst, tmp_path):
    z = zip_with(tmp_path / "moodle.zip", [
        ("Ada Lovelace_s001_2026-11-20T10:00:00_99_tiny.ipynb", notebook("ada 1"), D2),
        ("Ada Lovelace_s001_2026-11-20T11:00:00_99_tiny.ipynb", notebook("ada 2"), D1),
    ])
    regex = (r"^(?P<first_name>\w+) (?P<last_name>\w+)_(?P<student_id>s\d+)_"
             r"(?P<timestamp>[0-9T:-]+)_(?P<file_id>.+)\.ipynb$")
    rep = C.collect(inst, UNIT, zip_path=z, regex=regex)
    assert rep.students == ["s001"]
    assert submitted(inst, "s001") == "ada 2"        # the regex timestamp wins over the zip entry dates
    with inst.gradebook() as gb:
        assert gb.find_student("s001").last_name == "Lovelace"


def test_zip_moodle_folders(inst, tmp_path):
    """A regex may read the path inside the download (Moodle puts each student in a folder)."""
    z = zip_with(tmp_path / "moodle.zip", [
        ("Grace Hopper_2001_assignsubmission_file_/99_tiny.ipynb", notebook("grace"), D1),
        ("Grace Hopper_2001_assignsubmission_file_/notes.ipynb", notebook("notes"), D1),
        ("Alan Turing_2002_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>", D1),
    ])
    regex = r"^[^_]+_(?P<student_id>\d+)_assignsubmission_file_/(?P<file_id>[^/]+)$"
    rep = C.collect(inst, UNIT, zip_path=z, regex=regex)
    assert rep.students == ["2001"] and submitted(inst, "2001") == "grace"
    assert sorted(s.reason for s in rep.skipped) == sorted([C.UNKNOWN_NOTEBOOK, C.NOT_NOTEBOOK])


def test_bad_arguments(inst, tmp_path):
    with pytest.raises(CourseError, match="--from-exchange or --zip"):
        C.collect(inst, UNIT)
    with pytest.raises(CourseError, match="--from-exchange or --zip"):
        C.collect(inst, UNIT, exchange=True, zip_path=tmp_path)
    with pytest.raises(CourseError, match="named groups"):
        C.collect(inst, UNIT, zip_path=tmp_path, regex=r"(?P<student_id>\w+)")
    with pytest.raises(CourseError, match="no such file"):
        C.collect(inst, UNIT, zip_path=tmp_path / "nope.zip")
    with pytest.raises(CourseError, match="unknown unit"):
        C.collect(inst, "42_nothing", zip_path=tmp_path)


def test_cli_parser_and_exit_status(inst, tmp_path, capsys, monkeypatch):
    parser = argparse.ArgumentParser(prog="course")
    parser.add_argument("--instance")                    # a global option the CLI may have
    C.add_parser(parser.add_subparsers(dest="command", required=True))
    monkeypatch.chdir(FIXTURE_COURSE)

    z = canvas_zip(tmp_path / "s.zip")
    args = parser.parse_args(["--instance", str(inst.root), "collect", UNIT, "--zip", str(z)])
    assert args.instance == str(inst.root)               # not overwritten by the subcommand's default
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{UNIT}: took 3 submission(s)") and "not a notebook" in out

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"junk")
    args = parser.parse_args(["collect", UNIT, "--zip", str(bad), "--instance", str(inst.root)])
    assert args.func(args) == 1                          # nothing taken, something wrong
    assert "unreadable zip" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["collect", UNIT])             # a source is required


def test_course_cli_collect(inst, tmp_path, capsys):
    """`course collect` through the real CLI (autograder.cli registers collect.register)."""
    from autograder import cli

    z = canvas_zip(tmp_path / "s.zip")
    rc = cli.main(["--root", str(FIXTURE_COURSE), "collect", UNIT, "--zip", str(z), "--instance", str(inst.root)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.startswith(f"{UNIT}: took 3 submission(s)")
    assert (inst.submitted_dir("alice", UNIT) / NB).is_file()
    rc = cli.main(["--root", str(FIXTURE_COURSE), "collect", UNIT, "--from-exchange", "--instance", str(inst.root)])
    assert rc == 1 and "no inbound directory" in capsys.readouterr().err
