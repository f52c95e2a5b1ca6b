"""The gradebook on a real PostgreSQL server.

A private server is started from Debian's binaries (autograder/pgserver.py),
submissions of the fixture unit 99_tiny are graded into it, and the grades read
back through nbgrader's own ``Gradebook`` and ``NbGraderAPI`` (what the
formgrader shows) must equal those of the same grading into SQLite.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.pgserver import PostgresNotFound, PostgresServer, find_pg_bin

pytestmark = [
    pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("postgres"),
    # nbgrader 0.9.6 + SQLAlchemy 2.x warn from inside nbgrader's own Gradebook code
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]

REPO = Path(__file__).resolve().parents[1]
FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
UNIT = "99_tiny"

# What each synthetic student wrote in the three solution cells (grade_id -> source);
# a missing grade_id keeps the release's stub (raise NotImplementedError).
GOOD = {
    "task99_1": "def add(a, b):\n    return a + b\n",
    "task99_2": "def mean(xs):\n    return sum(xs) / len(xs)\n",
    "task99_3": "def clip(x, lo, hi):\n    return max(lo, min(x, hi))\n",
}
STUDENTS = {
    "alice": dict(GOOD),                                                   # 100
    "bob": {**GOOD, "task99_2": "def mean(xs):\n    return 0\n"},          # visible test of 2 fails: 70
    "carol": {**GOOD, "task99_1": "def add(a, b):\n    return a + b if a >= 0 else 0\n"},  # hidden fails: 70
    "dave": {},                                                            # stubs only: 0
}
EXPECTED_TOTAL = {"alice": 100.0, "bob": 70.0, "carol": 70.0, "dave": 0.0}


# -- helpers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_server():
    server = PostgresServer("postgres_tests")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def nbgrader_api(root: Path, db_url: str):
    """NbGraderAPI over the course at ``root`` (its nbgrader_config.py), gradebook at ``db_url``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = db_url
    cfg.Exchange.root = str(root / "instance" / "exchange")
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def make_course(tmp: Path) -> Path:
    root = tmp / "course"
    shutil.copytree(FIXTURE_COURSE, root)
    return root


def write_submissions(root: Path, release_nb: Path, students: dict[str, dict[str, str]],
                      base: Path | None = None) -> None:
    """<base>/submitted/<student>/99_tiny/99_tiny.ipynb (base: <root>/instance) from the release,
    solution cells replaced."""
    for student, answers in students.items():
        nb = nbformat.read(release_nb, as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        dest = (base or root / "instance") / "submitted" / student / UNIT
        dest.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest / f"{UNIT}.ipynb")


def grades_by_cell(db_url: str) -> dict[tuple[str, str], tuple[float, float]]:
    """{(student, grade_id): (score, max_score)} read through nbgrader's Gradebook."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(db_url, course_id="dl-course") as gb:
        for sub in gb.assignment_submissions(UNIT):
            for nb in sub.notebooks:
                for g in nb.grades:
                    out[(sub.student_id, g.name)] = (g.score, g.max_score)
    return out


def nbgrader_sequential(root: Path, db_url: str, students) -> None:
    """The reference: nbgrader's own generate_assignment + autograde, one student after another."""
    api = nbgrader_api(root, db_url)
    res = api.generate_assignment(UNIT)
    assert res["success"], res.get("log", "") + res.get("error", "")
    write_submissions(root, root / "notebooks" / "assignments" / UNIT / f"{UNIT}.ipynb", students)
    for student in students:
        res = api.autograde(UNIT, student)
        assert res["success"], res.get("log", "") + res.get("error", "")


# -- the server itself ----------------------------------------------------------------

def test_server_starts_serves_and_cleans_up():
    import sqlalchemy as sa

    server = PostgresServer("lifecycle")
    with server as url:
        assert url.startswith("postgresql+psycopg2://postgres@127.0.0.1:")
        tmpdir, port = server.tmpdir, server.port
        assert (tmpdir / "data" / "PG_VERSION").is_file()
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar() == "lifecycle"
            listen = conn.execute(sa.text("show listen_addresses")).scalar()
        engine.dispose()
        assert listen == "127.0.0.1"
    assert not tmpdir.exists(), "the server's directory must be deleted on exit"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the server must be stopped on exit"


def test_missing_postgres_says_how_to_install(monkeypatch, tmp_path):
    import tools.pgserver as pgs

    monkeypatch.setenv("COURSE_PG_BIN", str(tmp_path))          # empty: no initdb there
    monkeypatch.setattr(pgs.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pgs.shutil, "which", lambda name: None)
    with pytest.raises(PostgresNotFound, match=r"apt-get install postgresql"):
        find_pg_bin()
    with pytest.raises(PostgresNotFound, match=r"apt-get install postgresql"):
        PostgresServer()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="checks the non-root path from root")
def test_server_runs_for_an_unprivileged_user():
    """As root we run postgres as the `postgres` user; here a non-root process starts its own server."""
    if not shutil.which("runuser"):
        pytest.skip("no runuser")
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = ["env", f"PYTHONPATH={site}{os.pathsep}{REPO}", "HOME=/tmp"]
    # this interpreter, else the system's of the same version (ours may live under /root)
    pythons = [sys.executable] + [p for p in (f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}",)
                                  if Path(p).exists()]
    probe = "import sqlalchemy, psycopg2, tools.pgserver"
    python = next((py for py in pythons if subprocess.run(
        ["runuser", "-u", "postgres", "--", *env, py, "-c", probe], capture_output=True, cwd="/tmp").returncode == 0),
        None)
    if python is None:
        pytest.skip("no Python with our packages is readable by the postgres user")
    code = (
        "import os, sqlalchemy as sa\n"
        "from tools.pgserver import PostgresServer\n"
        "with PostgresServer('nonroot') as url:\n"
        "    e = sa.create_engine(url)\n"
        "    with e.connect() as c: print(os.geteuid(), c.execute(sa.text('select 1')).scalar())\n"
        "    e.dispose()\n"
    )
    proc = subprocess.run(["runuser", "-u", "postgres", "--", *env, python, "-c", code],
                          capture_output=True, text=True, timeout=120, cwd="/tmp")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    uid, one = proc.stdout.split()
    assert uid != "0" and one == "1"


# -- nbgrader on the server ------------------------------------------------------------

def test_nbgrader_gradebook_roundtrip(pg_server):
    """nbgrader's Gradebook creates its schema on PostgreSQL and stores what we put in."""
    from nbgrader.api import Gradebook

    url = pg_server.create_database("roundtrip")
    with Gradebook(url, course_id="dl-course") as gb:
        gb.add_assignment(UNIT)
        gb.add_student("s1", first_name="Ada", last_name="Lovelace")
        gb.add_student("s2")
        assert sorted(s.id for s in gb.students) == ["s1", "s2"]
    with Gradebook(url, course_id="dl-course") as gb:
        assert gb.find_assignment(UNIT).name == UNIT
        assert gb.find_student("s1").last_name == "Lovelace"


def test_course_autograde_into_postgres_equals_nbgrader_on_sqlite(pg_server, tmp_path, capsys):
    """`course init/autograde --db postgresql://...` (2 workers) against nbgrader's own sequential
    autograde into SQLite: the same grades, cell by cell; nbgrader's Gradebook and the formgrader's
    API (NbGraderAPI) read the submissions and scores back from PostgreSQL; a rerun grades nothing."""
    from autograder import cli
    from autograder.course import Course
    from autograder.instance import Instance

    # the reference: nbgrader autograde, sequentially, SQLite
    sq_root = make_course(tmp_path / "sqlite")
    (sq_root / "instance").mkdir()
    sq_url = "sqlite:///" + str(sq_root / "instance" / "gradebook.db")
    nbgrader_sequential(sq_root, sq_url, STUDENTS)

    # ours, into PostgreSQL, through the CLI
    pg_url = pg_server.create_database("course_autograde")
    inst_dir = tmp_path / "instance"
    common = ["--instance", str(inst_dir), "--db", pg_url]
    assert cli.main(["--root", str(FIXTURE_COURSE), "init", UNIT, *common]) == 0
    write_submissions(inst_dir, inst_dir / "release" / UNIT / f"{UNIT}.ipynb", STUDENTS, base=inst_dir)
    assert cli.main(["--root", str(FIXTURE_COURSE), "autograde", UNIT, *common,
                     "--workers", "2", "--no-progress"]) == 0
    assert "graded 4" in capsys.readouterr().out

    sq, pgg = grades_by_cell(sq_url), grades_by_cell(pg_url)
    assert len(sq) == len(STUDENTS) * 3
    assert pgg == sq
    assert not (inst_dir / "gradebook.db").exists(), "nothing may go to a SQLite file when --db is given"

    # what the formgrader shows: NbGraderAPI over the instance, gradebook on PostgreSQL
    inst = Instance(inst_dir, db_url=pg_url, course=Course(FIXTURE_COURSE))
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = inst.config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    subs = {s["student"]: s for s in api.get_submissions(UNIT)}
    assert set(subs) == set(STUDENTS)
    for student, total in EXPECTED_TOTAL.items():
        assert subs[student]["autograded"] and subs[student]["submitted"], subs[student]
        assert subs[student]["score"] == pytest.approx(total), student
        assert subs[student]["max_score"] == pytest.approx(100.0)
        [mine] = api.get_student_submissions(student)
        assert mine["score"] == pytest.approx(total)
    nbs = api.get_notebook_submissions(UNIT, UNIT)
    assert {n["student"]: n["score"] for n in nbs} == pytest.approx(EXPECTED_TOTAL)

    # resumable on PostgreSQL too: nothing changed, nothing regraded
    assert cli.main(["--root", str(FIXTURE_COURSE), "autograde", UNIT, *common, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "graded 0" in out and "skipped 4" in out, out
    assert grades_by_cell(pg_url) == sq
