"""``course collect``: from a synthesised nbgrader exchange and synthesised LMS zips."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import stat
import tarfile
import time
import tracemalloc
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
    z = zip_with(tmp_path / "late.zip", [("bob-99_tiny.ipynb", notebook("bob from the LMS"), D2)])
    regex = r"^(?P<student_id>[a-z]+)-(?P<file_id>.+)\.ipynb$"    # ids as the exchange's unix names
    assert C.collect(inst, UNIT, zip_path=z, regex=regex).students == ["bob"]
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

    assert rep.students == ["alice_1001", "bob_1002", "frank_1006"]      # the Canvas user id in the id
    assert submitted(inst, "bob_1002") == "bob new"
    assert (inst.submitted_dir("bob_1002", UNIT) / "timestamp.txt").read_text().startswith("2026-11-20 12:00:00")
    why = {Path(s.source.split(":")[-1]).name: s.reason for s in rep.skipped}
    assert why == {
        "bob_1002_5002_99_tiny.ipynb": C.OLDER,
        "carol_1003_5003_homework.ipynb": C.UNKNOWN_NOTEBOOK,
        "dave_1004_5004_99_tiny.ipynb": C.EMPTY,
        "erin_1005_5005_99_tiny.ipynb": C.UNREADABLE,
        "readme.txt": C.NOT_NOTEBOOK,
        "Untitled.ipynb": C.NO_MATCH,
    }
    assert sorted(p.name for p in (inst.root / "submitted").iterdir()) == rep.students
    assert "homework.ipynb" in rep.text() and "99_tiny.ipynb" in rep.text()

    rep2 = C.collect(inst, UNIT, zip_path=z)            # same download again: nothing changes
    assert rep2.taken == [] and {s.student for s in rep2.skipped if s.reason == C.UNCHANGED} == {
        "alice_1001", "bob_1002", "frank_1006"}


def test_zip_directory_with_bad_archives_and_loose_files(inst, tmp_path):
    d = tmp_path / "download"
    d.mkdir()
    zip_with(d / "part1.zip", [("alice_1_2_99_tiny.ipynb", notebook("alice"), D1)])
    (d / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (d / "empty.zip").write_bytes(b"")
    zip_with(d / "slip.zip", [("../../bob_9_9_99_tiny.ipynb", notebook("evil"), D1)])
    (d / "bob_3_4_99_tiny.ipynb").write_text(notebook("bob loose"))
    rep = C.collect(inst, UNIT, zip_path=d)
    assert rep.students == ["alice_1", "bob_3"]
    bad = {s.source: s.reason for s in rep.skipped}
    assert bad == {"download/broken.zip": C.BAD_ZIP, "download/empty.zip": C.BAD_ZIP,
                   "download/slip.zip:../../bob_9_9_99_tiny.ipynb": C.UNSAFE_MEMBER}
    assert "unsafe member path" in rep.text()
    assert submitted(inst, "bob_3") == "bob loose"
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
    assert (inst.submitted_dir("alice_1001", UNIT) / NB).is_file()
    rc = cli.main(["--root", str(FIXTURE_COURSE), "collect", UNIT, "--from-exchange", "--instance", str(inst.root)])
    assert rc == 1 and "no inbound directory" in capsys.readouterr().err


# ---------------------------------------------------------------- intake: bad files, caps, ids, names, links


def zip_bytes(entries: list[tuple[str, str | bytes]]) -> bytes:
    """A zip (made in memory) to put inside another zip, as a student's upload."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=D1), data)
    return buf.getvalue()


def corrupt_member_zip() -> bytes:
    """A zip whose one member's data no longer matches its CRC (a truncated upload)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("99_tiny.ipynb", notebook("walter"))
    raw = bytearray(buf.getvalue())
    at = raw.index(b"walter")
    raw[at:at + 6] = b"WALTER"
    return bytes(raw)


def test_one_bad_file_never_stops_a_collect(inst, tmp_path):
    """Students' zips inside the class zip: an escaping member, an over-long member name,
    a corrupt zip, a corrupt member; each is reported for its student and file, the rest collected."""
    long_name = "x" * 300 + ".ipynb"                  # longer than any file system allows
    z = zip_with(tmp_path / "submissions.zip", [
        ("alice_1001_5001_99_tiny.ipynb", notebook("alice"), D1),
        ("mallory_1002_5002_work.zip", zip_bytes([("../../99_tiny.ipynb", notebook("mallory"))]), D1),
        ("oscar_1003_5003_work.zip", zip_bytes([(long_name, notebook("oscar")),
                                                 ("99_tiny.ipynb", notebook("oscar"))]), D1),
        ("trudy_1004_5004_work.zip", b"PK\x03\x04 not a zip at all", D1),
        ("peggy_1005_5005_work.zip", zip_bytes([("work/99_tiny.ipynb", notebook("peggy")),
                                                 ("victor_1007_5007_99_tiny.ipynb", notebook("not victor"))]), D1),
        ("walter_1008_5008_work.zip", corrupt_member_zip(), D1),
    ])
    rep = C.collect(inst, UNIT, zip_path=z)

    assert rep.students == ["alice_1001", "oscar_1003", "peggy_1005"]
    assert submitted(inst, "peggy_1005") == "peggy"       # a student's zip is that student's: victor is untouched
    assert sorted((s.student, s.reason, s.source.split(":")[1]) for s in rep.skipped) == [
        ("mallory_1002", C.UNSAFE_MEMBER, "mallory_1002_5002_work.zip"),
        ("oscar_1003", C.UNKNOWN_NOTEBOOK, "oscar_1003_5003_work.zip"),
        ("peggy_1005", C.UNKNOWN_NOTEBOOK, "peggy_1005_5005_work.zip"),
        ("trudy_1004", C.BAD_ZIP, "trudy_1004_5004_work.zip"),
        ("walter_1008", C.BAD_ZIP, "walter_1008_5008_work.zip"),
    ]
    [walter] = [s for s in rep.skipped if s.student == "walter_1008"]
    assert "corrupt member" in walter.detail and walter.source.endswith(":99_tiny.ipynb")
    assert "(306 characters)" in rep.text()                 # the long name, shortened in the report
    assert not list(tmp_path.glob("*.ipynb")) and not (inst.root / "99_tiny.ipynb").exists()


def big_zip(path: Path, size: int) -> Path:
    """A zip holding ``size`` bytes of zeros as a notebook (a zip bomb's shape), written in chunks."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(zipfile.ZipInfo("alice_1001_5001_99_tiny.ipynb", date_time=D1), notebook("alice"))
        bomb = zipfile.ZipInfo("bomb_1002_5002_99_tiny.ipynb", date_time=D1)
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(bomb, "w") as out:
            chunk = bytes(2**20)
            for _ in range(size // len(chunk)):
                out.write(chunk)
    return path


def test_a_member_past_the_cap_is_refused_after_the_caps_worth(inst, tmp_path):
    z = big_zip(tmp_path / "submissions.zip", 256 * 2**20)
    assert z.stat().st_size < 2 * 2**20                   # 256 MiB inside a zip of under 2 MB
    tracemalloc.start()
    t0 = time.perf_counter()
    rep = C.collect(inst, UNIT, zip_path=z, limits=C.Limits(member_bytes=2**20))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rep.students == ["alice_1001"]
    [bomb] = rep.skipped
    assert (bomb.reason, bomb.student) == (C.TOO_LARGE, "bomb_1002")
    assert "cap of 1 MiB per file" in bomb.detail, bomb.detail
    assert peak < 16 * 2**20, peak                       # never the member's size in memory
    assert elapsed < 10, elapsed                          # stopped at the cap, not after 256 MiB


class Endless(io.RawIOBase):
    """A stream of zeros that never ends, counting what was read from it."""

    def __init__(self) -> None:
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        assert n > 0, "read() without a size would never return"
        self.consumed += n
        return bytes(n)


def test_copy_reads_at_most_one_byte_past_the_cap(tmp_path):
    rep = C.CollectReport(UNIT, "test")
    walk = C._Download(tmp_path, None, C.Limits(member_bytes=100_000, total_bytes=250_000), rep)
    for _ in range(2):
        src = Endless()
        with pytest.raises(C._TooLarge, match="per file"):
            walk.copy(src)
        assert src.consumed == 100_001
    src = Endless()                                       # 50,000 left of the download's total
    with pytest.raises(C._TooLarge, match="in all"):
        walk.copy(src)
    assert src.consumed == 250_000 - 200_002 + 1
    assert list(tmp_path.iterdir()) == []                 # partial copies removed
    assert C.LIMITS.member_bytes <= 64 * 2**20 and C.LIMITS.total_bytes <= 4 * 2**30


def test_too_many_members_and_too_deep(inst, tmp_path):
    inner = zip_bytes([("99_tiny.ipynb", notebook("deep"))])
    for _ in range(3):
        inner = zip_bytes([("again.zip", inner)])
    z = zip_with(tmp_path / "s.zip", [("deep_1_1_work.zip", inner, D1)]
                 + [(f"s{i}_{i}_{i}_99_tiny.ipynb", notebook(f"s{i}"), D1) for i in range(5)])
    rep = C.collect(inst, UNIT, zip_path=z, limits=C.Limits(members=4))
    assert [(s.reason, s.student) for s in rep.problems] == [(C.BAD_ZIP, "deep_1"), (C.TOO_LARGE, None)]
    assert "nested more than 3 deep" in rep.problems[0].detail
    assert len(rep.taken) == 1                            # members 1-4: three zips and one notebook


def test_student_id_problem():
    for bad in ("", ".", "..", ".hidden", "a/b", "a\\b", "a\nb", " a", "x" * 129):
        assert C.student_id_problem(bad), bad
    for good in ("alice", "doejane_12345", "s001", "Grace Hopper", "o'brien"):
        assert C.student_id_problem(good) is None, good


def test_student_ids_never_leave_submitted(inst, tmp_path):
    z = zip_with(tmp_path / "canvas.zip", [(".._1001_5001_99_tiny.ipynb", notebook("dots"), D1)])
    rep = C.collect(inst, UNIT, zip_path=z)               # the default Canvas pattern: the user id is the id
    assert rep.students == ["1001"] and submitted(inst, "1001") == "dots"

    z = zip_with(tmp_path / "other.zip", [
        (f"{sid}-99_tiny.ipynb", notebook(sid), D1) for sid in ("..", ".", ".hidden", "ok", "tab\t")
    ] + [("-99_tiny.ipynb", notebook("empty"), D1)])
    rep = C.collect(inst, UNIT, zip_path=z, regex=r"^(?P<student_id>[^-]*)-(?P<file_id>.+)\.ipynb$")
    assert rep.students == ["ok"]
    assert sorted(s.detail.split(":")[0] for s in rep.skipped if s.reason == C.BAD_STUDENT_ID) == [
        "''", "'.'", "'..'", "'.hidden'", "'tab\\t'"]

    xroot = tmp_path / "exchange"
    submit(xroot, "..", T0, notebook("dots"))
    submit(xroot, "bob", T0, notebook("bob"))
    rep = C.collect(inst, UNIT, exchange=True, exchange_dir=xroot)
    assert rep.students == ["bob"] and [s.reason for s in rep.problems] == [C.BAD_STUDENT_ID]
    assert sorted(p.name for p in inst.root.iterdir()) == ["gradebook.db", "submitted"]
    assert sorted(p.name for p in (inst.root / "submitted").iterdir()) == ["1001", "bob", "ok"]


def test_two_users_of_one_name_never_merge(inst, tmp_path):
    z = zip_with(tmp_path / "canvas.zip", [
        ("smithjohn_1001_5001_99_tiny.ipynb", notebook("john one"), D1),
        ("smithjohn_2002_5002_99_tiny.ipynb", notebook("john two"), D2),
    ])
    rep = C.collect(inst, UNIT, zip_path=z)
    assert rep.students == ["smithjohn_1001", "smithjohn_2002"]
    assert submitted(inst, "smithjohn_1001") == "john one" and submitted(inst, "smithjohn_2002") == "john two"
    assert any(n.startswith("name collision: 2 LMS users are named 'smithjohn'") for n in rep.notes), rep.notes

    # the same user id under another name (a changed name, or another LMS's user): said, never merged
    z = zip_with(tmp_path / "later.zip", [("smithjohnny_1001_5009_99_tiny.ipynb", notebook("john one v2"), D2)])
    rep = C.collect(inst, UNIT, zip_path=z)
    assert rep.students == ["smithjohnny_1001"] and submitted(inst, "smithjohn_1001") == "john one"
    assert "smithjohn_1001 (collected before) has the same user id 1001" in rep.text()

    # names without a user id, two e-mail addresses: refused, never merged
    z = zip_with(tmp_path / "emails.zip", [
        ("jlee-jlee@a.edu-99_tiny.ipynb", notebook("lee a"), D1),
        ("jlee-jlee@b.edu-99_tiny.ipynb", notebook("lee b"), D2),
    ])
    rep = C.collect(inst, UNIT, zip_path=z,
                    regex=r"^(?P<student_id>[a-z]+)-(?P<email>[^-]+)-(?P<file_id>.+)\.ipynb$")
    assert rep.taken == [] and [s.reason for s in rep.skipped] == [C.NAME_COLLISION] * 2
    assert "user_id" in rep.skipped[0].detail and not (inst.root / "submitted" / "jlee").exists()


def test_moodle_and_blackboard_names(inst, tmp_path):
    z = zip_with(tmp_path / "moodle.zip", [
        ("Grace Hopper_2001_assignsubmission_file_/99_tiny.ipynb", notebook("grace 1"), D1),
        ("Grace Hopper_2002_assignsubmission_file_99_tiny.ipynb", notebook("grace 2"), D1),
    ])
    rep = C.collect(inst, UNIT, zip_path=z, lms="moodle")
    assert rep.students == ["gracehopper_2001", "gracehopper_2002"]
    z = zip_with(tmp_path / "bb.zip", [
        ("Homework_1_jdoe_attempt_2026-11-20-10-00-00_99_tiny.ipynb", notebook("jdoe late"), D1),
        ("Homework_1_jdoe_attempt_2026-11-20-09-00-00_99_tiny.ipynb", notebook("jdoe early"), D2),
    ])
    rep = C.collect(inst, UNIT, zip_path=z, lms="blackboard")
    assert rep.students == ["jdoe"] and submitted(inst, "jdoe") == "jdoe late"   # the name's time wins
    with pytest.raises(CourseError, match="unknown LMS"):
        C.collect(inst, UNIT, zip_path=z, lms="sakai")


def test_symlinks_are_never_followed(inst, tmp_path):
    source = FIXTURE_COURSE / "solutions" / UNIT / NB        # the instructor's notebook: solutions, hidden tests
    d = tmp_path / "download"
    d.mkdir()
    (d / "alice_1001_5001_99_tiny.ipynb").write_text(notebook("alice"))
    (d / "eve_1009_5009_99_tiny.ipynb").symlink_to(source)
    (d / "eve_folder").symlink_to(source.parent, target_is_directory=True)
    os.mkfifo(d / "pipe_1010_5010_99_tiny.ipynb")            # reading it would hang the collect
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("mallory_1002_5002_99_tiny.ipynb", date_time=D1)
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(source))
    (d / "links.zip").write_bytes(buf.getvalue())
    rep = C.collect(inst, UNIT, zip_path=d)
    assert rep.students == ["alice_1001"]
    assert sorted((s.source, s.reason) for s in rep.skipped) == [
        ("download/eve_1009_5009_99_tiny.ipynb", C.SYMLINK), ("download/eve_folder", C.SYMLINK),
        ("download/links.zip:mallory_1002_5002_99_tiny.ipynb", C.SYMLINK),
        ("download/pipe_1010_5010_99_tiny.ipynb", C.NOT_NOTEBOOK)]

    xroot = tmp_path / "exchange"
    entry = submit(xroot, "eve", T0, None)
    (entry / NB).symlink_to(source)
    (xroot / "dl-course" / "inbound" / f"eve+{UNIT}+{T0:%Y-%m-%d %H:%M:%S.%f} UTC+ab").symlink_to(source.parent)
    rep = C.collect(inst, UNIT, exchange=True, exchange_dir=xroot)
    assert sorted(s.reason for s in rep.skipped) == [C.SYMLINK, C.SYMLINK]
    assert not (inst.submitted_dir("eve", UNIT) / NB).exists()
    [eve] = rep.taken                                      # eve's folder, without the link: it will score 0
    assert any("no 99_tiny.ipynb" in n for n in eve.notes)


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size, info.mtime = len(e[1]), int(dt.datetime(*D1).timestamp())
                tf.addfile(info, io.BytesIO(e[1]))
    return buf.getvalue()


def test_tar_uploads_read_as_streams(inst, tmp_path):
    link = tarfile.TarInfo("99_tiny.ipynb")
    link.type, link.linkname = tarfile.SYMTYPE, str(FIXTURE_COURSE / "solutions" / UNIT / NB)
    z = zip_with(tmp_path / "submissions.zip", [
        ("ann_1011_5011_work.tar.gz", tar_bytes([("work/99_tiny.ipynb", notebook("ann").encode())]), D1),
        ("ben_1012_5012_work.tar.xz", tar_bytes([link, ("../99_tiny.ipynb", notebook("ben").encode())], "w:xz"),
         D1),
        ("cat_1013_5013_work.tgz", b"\x1f\x8b\x08 not gzip at all", D1),
    ])
    rep = C.collect(inst, UNIT, zip_path=z)
    assert rep.students == ["ann_1011"] and submitted(inst, "ann_1011") == "ann"
    assert sorted((s.student, s.reason) for s in rep.skipped) == [
        ("ben_1012", C.SYMLINK), ("ben_1012", C.UNSAFE_MEMBER), ("cat_1013", C.BAD_ZIP)]


def test_a_tar_bomb_stops_at_the_cap(inst, tmp_path):
    """Skipping a tar member still decompresses it: the decompressed stream is capped as well."""
    zeros = tarfile.TarInfo("zeros.bin")
    zeros.size = 64 * 2**20
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tf:
        tf.addfile(zeros, io.BytesIO(bytes(zeros.size)))
        info = tarfile.TarInfo("99_tiny.ipynb")
        data = notebook("dan").encode()
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "dan_1014_5014_work.tar.gz").write_bytes(buf.getvalue())
    (tmp_path / "dl" / "eva_1015_5015_99_tiny.ipynb").write_text(notebook("eva"))
    rep = C.collect(inst, UNIT, zip_path=tmp_path / "dl", limits=C.Limits(total_bytes=2**20))
    assert rep.students == ["eva_1015"]
    bomb, listed = rep.skipped                            # the cap; the member skipped over before it
    assert (listed.reason, listed.student) == (C.NOT_NOTEBOOK, "dan_1014")
    assert (bomb.reason, bomb.student, bomb.source) == (C.TOO_LARGE, "dan_1014", "dl/dan_1014_5014_work.tar.gz")
    assert "cap of 1 MiB in all" in bomb.detail


def test_a_student_that_cannot_be_stored_does_not_stop_the_others(inst, tmp_path, monkeypatch):
    real = inst.import_submission

    def failing(student, unit, src, timestamp=None):
        if student == "bob_1002":
            raise OSError(28, "No space left on device")
        return real(student, unit, src, timestamp=timestamp)

    monkeypatch.setattr(inst, "import_submission", failing)
    rep = C.collect(inst, UNIT, zip_path=canvas_zip(tmp_path / "s.zip"))
    assert rep.students == ["alice_1001", "frank_1006"]
    [bob] = [s for s in rep.problems if s.student == "bob_1002"]
    assert bob.reason == C.NOT_STORED and "No space left" in bob.detail
