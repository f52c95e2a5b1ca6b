"""``course collect UNIT``: bring submissions into ``<instance>/submitted/<student>/<unit>/``.

Two sources:

* ``--from-exchange``: nbgrader's ``ExchangeCollect`` over the exchange's
  ``<root>/<course_id>/inbound/<student>+<unit>+<timestamp>+<random>/``
  (what students' ``nbgrader submit`` / the assignment list's Submit button
  wrote). The newest submission of each student is taken; a rerun takes only
  what is newer than what was collected.  An entry whose student id would
  leave ``submitted/`` (``..``, a leading ``.``), and a symbolic link in an
  entry, are left behind and reported; nbgrader's copy would follow the link.
* ``--zip PATH``: an LMS download (a .zip, or a directory of .zip files and
  loose notebooks).  nbgrader's ``FileNameCollectorPlugin`` regex reads the
  student id and the notebook name from each file name: Canvas names by default
  (``--lms moodle`` / ``blackboard`` for the others, ``--regex`` for any).
  Named groups ``file_id`` and ``student_id`` or ``user_id`` are required;
  ``timestamp``, ``attempt``, ``first_name``, ``last_name``, ``email`` optional.
  With ``user_id`` (the LMS's own id of the user) the student id is
  ``<name>_<user_id>``, so two users of one name never merge; the report says
  when names collide.

The download is not unpacked with nbgrader's ``ExtractorPlugin``: one unsafe or
broken zip inside the class zip aborts it, and it extracts by member name and
holds whole members in memory.  Here archives (zip, and a student's tar, .tar.gz,
.tar.bz2 or .tar.xz) are read as streams (``ZipFile.open``, tarfile's stream
mode) under :class:`Limits`, never written by member name, and a
folder is walked without following a symbolic link (nor reading a fifo).  A zip
inside the download named like a student's file (Canvas:
``alice_1001_5001_work.zip``) is that student's, whatever its members are named.

What nbgrader lacks and this module adds is the account: a :class:`CollectReport`
saying which submission was taken from where, and every file or entry that was
skipped and why, with its student where one can be read (not a notebook, a name
the regex does not read, an unusable student id, a notebook the unit does not
have, an empty or unreadable notebook, an unreadable zip or member, an unsafe
member path, a symbolic link, a file past a cap, a name collision, an older
duplicate, unchanged since the last collect).  One bad file never stops a
collect.  nbgrader's zip_collect aborts on a duplicate without timestamps and on
a non-empty destination; here the newest wins (regex timestamp, else the zip
entry's time, then the ``-N`` resubmission number) and a changed submission
replaces the collected one.
"""
from __future__ import annotations

import argparse
import bz2
import datetime as dt
import glob
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from autograder.course import Course, CourseError, ensure_bin_on_path
from autograder.instance import Instance, default_instance_dir
from autograder.nbgrader_glue import quiet_logger

__all__ = ["BLACKBOARD_REGEX", "CANVAS_REGEX", "LIMITS", "LMS_REGEXES", "MOODLE_REGEX", "CollectReport", "Limits",
           "Skipped", "Taken", "add_parser", "collect", "main", "register", "student_id_problem"]

#: Canvas "Download submissions": ``doejane_12345_67890_01_linear_classifiers.ipynb``,
#: late ones ``doejane_LATE_12345_67890_...``, resubmissions ``...-1.ipynb``; 12345 is
#: the Canvas user id (the student id becomes ``doejane_12345``).
CANVAS_REGEX = (
    r"^(?P<student_id>[^_/]+)(?:_LATE)?_(?P<user_id>\d+)_(?P<submission_id>\d+)_"
    r"(?P<file_id>.+?)(?:-(?P<attempt>\d+))?\.ipynb$"
)
#: Moodle "Download all submissions", in folders or not:
#: ``Grace Hopper_2001_assignsubmission_file_/01_linear_classifiers.ipynb``; 2001 is the
#: participant id (the student id becomes ``gracehopper_2001``).
MOODLE_REGEX = (
    r"^(?P<student_id>[^_/]+)_(?P<user_id>\d+)_assignsubmission_file_/?(?P<file_id>[^/]+)\.ipynb$"
)
#: Blackboard "Download assignment": ``Homework 1_jdoe_attempt_2026-11-20-10-00-00_01_linear_classifiers.ipynb``;
#: jdoe is the Blackboard user name, unique already (one with ``_`` in it is read as its last part).
BLACKBOARD_REGEX = (
    r"^(?P<assignment>[^/]*?)_(?P<student_id>[^_/]+)_attempt_(?P<timestamp>\d{4}(?:-\d\d){5})_"
    r"(?P<file_id>[^/]+)\.ipynb$"
)
LMS_REGEXES = {"canvas": CANVAS_REGEX, "moodle": MOODLE_REGEX, "blackboard": BLACKBOARD_REGEX}
#: nbgrader's Student.id column
MAX_STUDENT_ID = 128

# Reasons are fixed phrases (tests and instructors grep them); details follow a colon.
NOT_NOTEBOOK = "not a notebook"
SYMLINK = "a symbolic link"
UNSAFE_MEMBER = "unsafe member path"
TOO_LARGE = "too large"
BAD_STUDENT_ID = "not a usable student id"
NAME_COLLISION = "name collision"
NOT_STORED = "could not be stored"
NO_MATCH = "file name not read by the regex"
UNKNOWN_NOTEBOOK = "not a notebook of this unit"
EMPTY = "empty file"
UNREADABLE = "unreadable notebook"
BAD_ZIP = "unreadable zip"
OLDER = "older duplicate"
UNCHANGED = "unchanged since last collect"
NEWER_COLLECTED = "a newer submission is collected already"
BAD_EXCHANGE_NAME = "not an nbgrader submission name"
#: skips that are not problems: a rerun skips everything it already has.
BENIGN = {OLDER, UNCHANGED, NEWER_COLLECTED}


@dataclass
class Taken:
    """A submission copied into ``submitted/<student>/<unit>/``."""

    student: str
    source: str                   # exchange entry or zip file/entry it came from
    dest: str
    timestamp: str | None = None
    replaced: bool = False        # an earlier collected submission was replaced
    notes: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A file, archive or exchange entry that was not taken."""

    source: str
    reason: str                   # one of the module's reason phrases
    detail: str = ""
    student: str | None = None

    @property
    def benign(self) -> bool:
        return self.reason in BENIGN


@dataclass
class CollectReport:
    """What ``collect`` did: ``taken`` and ``skipped``, one entry each, with reasons."""

    unit: str
    origin: str
    taken: list[Taken] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def students(self) -> list[str]:
        return sorted(t.student for t in self.taken)

    @property
    def problems(self) -> list[Skipped]:
        """Skips that need the instructor's attention (not older duplicates or unchanged ones)."""
        return [s for s in self.skipped if not s.benign]

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.skipped:
            out[s.reason] = out.get(s.reason, 0) + 1
        return out

    def summary(self) -> str:
        new = sum(not t.replaced for t in self.taken)
        why = ", ".join(f"{n} {r}" for r, n in sorted(self.reasons().items()))
        return (f"{self.unit}: took {len(self.taken)} submission(s) ({new} new, "
                f"{len(self.taken) - new} replaced) from {self.origin}; skipped {len(self.skipped)}"
                + (f" ({why})" if why else ""))

    def text(self) -> str:
        lines = []
        for t in sorted(self.taken, key=lambda t: t.student):
            ts = f"  [{t.timestamp}]" if t.timestamp else ""
            lines.append(f"  took     {t.student:<20} {'replaced' if t.replaced else 'new':<8} <- {t.source}{ts}")
            lines += [f"           note: {n}" for n in t.notes]
        for s in sorted(self.skipped, key=lambda s: (s.benign, s.source)):
            who = f" ({s.student})" if s.student else ""
            lines.append(f"  skipped  {s.source}{who}: {s.reason}" + (f": {s.detail}" if s.detail else ""))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join([self.summary(), *lines])


# ---------------------------------------------------------------- helpers


def unit_notebooks(instance: Instance, unit: str) -> list[str]:
    """File names (``NN_name.ipynb``) of the unit's notebooks: the instance's release, else the course's."""
    for d in (Path(instance.root) / "release" / unit, instance.course.release / unit,
              instance.course.solutions / unit):
        names = sorted(p.name for p in d.glob("*.ipynb")) if d.is_dir() else []
        if names:
            return names
    return []


def check_notebook(path: Path) -> tuple[str, str] | None:
    """``None`` when ``path`` is a readable notebook; else ``(reason, detail)``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return UNREADABLE, str(exc)
    if size == 0:
        return EMPTY, "0 bytes"
    # lazy: the CLI imports this module to register `course collect`; nbformat/nbgrader load when a collect runs
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # JSON errors, wrong schema, binary junk
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        return UNREADABLE, first[:200]
    if not nb.cells:
        return EMPTY, "a notebook with no cells"
    return None


def _tree_digest(path: Path) -> str:
    """Hash of the files under ``path`` except timestamp.txt: unchanged submissions compare equal."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.name != "timestamp.txt":
            h.update(str(p.relative_to(path)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _read_timestamp(d: Path) -> dt.datetime | None:
    # lazy: nbgrader loads when a collect runs, not when the CLI registers the command
    from nbgrader.utils import parse_utc

    try:
        return parse_utc((d / "timestamp.txt").read_text().strip())
    except (OSError, ValueError):
        return None


def _check_unit(instance, unit: str) -> None:
    check = getattr(instance.course, "check_units", None)
    if check is not None:
        check([unit])


# ---------------------------------------------------------------- the exchange


def exchange_root(instance: Instance, override: str | os.PathLike | None = None) -> Path:
    """The exchange the instance collects from.

    ``override``; else the course config's ``Exchange.root``, except that the
    repository default ``<course>/instance/exchange`` is taken relative to this
    instance (so ``--instance DIR`` gets ``DIR/exchange``); else
    ``<instance>/exchange``.
    """
    if override:
        return Path(override).resolve()
    inst_root = Path(instance.root).resolve()
    cfg = instance.config()
    root = cfg.Exchange.get("root") if "Exchange" in cfg else None
    if isinstance(root, str) and root:
        p = Path(root).resolve()
        default_instance = (instance.course.root / "instance").resolve()
        try:
            return inst_root / p.relative_to(default_instance)
        except ValueError:
            return p
    return inst_root / "exchange"


def _exchange_collect_class():
    # lazy: nbgrader's exchange (the base class below) loads when a collect runs, not when the CLI registers the command
    from nbgrader.exchange.default.collect import ExchangeCollect, groupby

    class ReportingCollect(ExchangeCollect):
        """nbgrader's ExchangeCollect, except that an inbound entry whose name does not
        parse is skipped and reported instead of aborting the whole collect."""

        bad_entries: list       # (entry name, reason, detail, student or None)

        def init_src(self):
            self.bad_entries = []
            if self.coursedir.course_id == "":
                self.fail("No course id specified. Re-run with --course flag.")
            self.course_path = os.path.join(self.root, self.coursedir.course_id)
            self.inbound_path = os.path.join(self.course_path, "inbound")
            if not os.path.isdir(self.inbound_path):
                self.fail(f"Course not found: {self.inbound_path}")
            student_id = self.coursedir.student_id if self.coursedir.student_id else "*"
            pattern = os.path.join(self.inbound_path, f"{student_id}+{self.coursedir.assignment_id}+*")
            records = []
            # glob's `*` skips names that start with `.`: list those too, to report them
            hidden = glob.glob(os.path.join(self.inbound_path, f".*+{self.coursedir.assignment_id}+*"))
            for f in sorted(glob.glob(pattern) + (hidden if student_id == "*" else [])):
                name = os.path.basename(f)
                try:
                    rec = self._path_to_record(f)
                except Exception as exc:  # ExchangeError, ValueError from parse_utc
                    detail = str(exc).splitlines()[0] if str(exc) else ""
                    self.bad_entries.append((name, BAD_EXCHANGE_NAME, detail, None))
                    continue
                why = student_id_problem(rec["username"])
                if why:   # `..+unit+...` would be copied beside submitted/ and never graded
                    self.bad_entries.append((name, BAD_STUDENT_ID, f"{rec['username']!r}: {why}", None))
                elif os.path.islink(f) or not os.path.isdir(f):
                    self.bad_entries.append((name, SYMLINK if os.path.islink(f) else NOT_NOTEBOOK,
                                             "never followed" if os.path.islink(f) else "not a folder",
                                             rec["username"]))
                elif self.get_size(f) > 1000 * self.coursedir.max_dir_size:   # checked before a copy replaces anything
                    self.bad_entries.append((name, TOO_LARGE, f"over nbgrader's max_dir_size of "
                                             f"{self.coursedir.max_dir_size} kB", rec["username"]))
                else:
                    records.append(rec)
            self.all_records = records
            usergroups = groupby(records, lambda item: item["username"])
            # Keep nbgrader's choice: the newest submission, or with before_duedate the newest on time.
            from nbgrader.api import Gradebook, MissingEntry

            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                try:
                    self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
                except MissingEntry:
                    self.duedate = None
            self.src_records = []
            for v in usergroups.values():
                recs = self._sort_by_timestamp(v)
                if self.duedate is not None and self.before_duedate:
                    on_time = [r for r in recs if r["timestamp"] <= self.duedate]
                    self.src_records.append((on_time or recs)[0])
                else:
                    self.src_records.append(recs[0])

        links: list             # (path under inbound/, reason, detail, student): left behind by do_copy

        def do_copy(self, src, dest, log=None):
            """nbgrader's copy, except that a symbolic link (or fifo, socket, device) in a
            submission is left behind and reported: copytree would copy what it points at."""
            # lazy: nbgrader loads when a collect runs, not when the CLI registers the command
            from nbgrader.utils import ignore_patterns

            cd = self.coursedir
            nbgrader_ignore = ignore_patterns(exclude=cd.ignore, include=cd.include,
                                              max_file_size=cd.max_file_size, log=self.log)
            student = os.path.basename(src).split("+")[0]

            def ignore(directory, names):
                out = set(nbgrader_ignore(directory, names))
                for name in names:
                    path = os.path.join(directory, name)
                    st = os.lstat(path)
                    if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                        out.add(name)
                        rel = os.path.relpath(path, os.path.dirname(src))
                        detail = (f"points at {os.readlink(path)}; never followed" if stat.S_ISLNK(st.st_mode)
                                  else "not a regular file (a fifo, socket or device)")
                        self.links.append((rel, SYMLINK if stat.S_ISLNK(st.st_mode) else NOT_NOTEBOOK,
                                           detail, student))
                return out

            try:
                shutil.copytree(src, dest, ignore=ignore)
            except (OSError, shutil.Error) as exc:   # e.g. a file the grader may not read
                shutil.rmtree(dest, ignore_errors=True)
                self.links.append((os.path.basename(src), NOT_STORED, f"{exc.__class__.__name__}: {exc}", student))
                return
            for root, dirs, files in os.walk(dest):   # a link swapped in during the copy: gone all the same
                for name in dirs + files:
                    if os.path.islink(os.path.join(root, name)):
                        os.unlink(os.path.join(root, name))

    return ReportingCollect


def collect_exchange(instance: Instance, unit: str, *, root: str | os.PathLike | None = None,
                     check_owner: bool = True) -> CollectReport:
    """nbgrader's collect from the exchange into the instance, with a report.

    check_owner: nbgrader's check that an inbound entry is owned by the unix user
    named as its student; a mismatch is a note in the report ("cheating attempt?").
    """
    ensure_bin_on_path()
    # lazy: nbgrader loads when a collect runs, not when the CLI registers the command
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeError

    xroot = exchange_root(instance, root)
    report = CollectReport(unit, f"exchange {xroot}")
    cfg = instance.config()
    cfg.Exchange.root = str(xroot)
    log, cap = quiet_logger("course.collect")
    coursedir = CourseDirectory(config=cfg, log=log)
    coursedir.assignment_id = unit
    inbound = xroot / instance.course_id / "inbound"
    if not inbound.is_dir():
        raise CourseError(f"nothing to collect: no inbound directory {inbound} "
                          f"(students submit with `nbgrader submit` or the assignment list)")

    before = {}
    base = Path(instance.root) / "submitted"
    if base.is_dir():
        for d in base.iterdir():
            if (d / unit).is_dir():
                before[d.name] = (_read_timestamp(d / unit), _tree_digest(d / unit))

    app = _exchange_collect_class()(coursedir=coursedir, authenticator=Authenticator(config=cfg, log=log),
                                    config=cfg, log=log)
    app.update = True
    app.check_owner = check_owner
    app.links = []
    try:
        app.start()
    except (ExchangeError, RuntimeError, OSError) as exc:  # RuntimeError: nbgrader's "Directory size is too big"
        detail = "; ".join(cap.one_line_each()) or str(exc)
        raise CourseError(f"nbgrader could not collect {unit} from {xroot}: {detail}") from None

    for name, reason, why, who in app.bad_entries:
        report.skipped.append(Skipped(f"inbound/{name}", reason, why, who))
    for rel, reason, detail, who in app.links:
        report.skipped.append(Skipped(f"inbound/{rel}", reason, detail, who))
    chosen = {r["username"]: r for r in app.src_records}
    for rec in app.all_records:
        student, ts = rec["username"], rec["timestamp"]
        src = f"inbound/{rec['filename']}"
        if chosen[student] is not rec:
            report.skipped.append(Skipped(src, OLDER, f"the submission of {chosen[student]['timestamp']} is newer",
                                          student))
            continue
        dest = Path(instance.submitted_dir(student, unit))
        prev = before.get(student)
        now = (_read_timestamp(dest), _tree_digest(dest)) if dest.is_dir() else None
        if now is None:
            report.skipped.append(Skipped(src, UNREADABLE, "nbgrader copied nothing", student))
        elif prev is not None and prev == now:
            if prev[0] is not None and prev[0] > ts:
                report.skipped.append(Skipped(src, NEWER_COLLECTED, f"submitted {prev[0]}", student))
            else:
                report.skipped.append(Skipped(src, UNCHANGED, f"collected already (submitted {ts})", student))
        else:
            taken = Taken(student, src, str(dest), str(ts), replaced=prev is not None)
            taken.notes += _check_submission_dir(dest, unit_notebooks(instance, unit))
            report.taken.append(taken)
    report.notes += [m for m in cap.one_line_each() if "cheating attempt" in m or "too big" in m]
    return report


def _check_submission_dir(dest: Path, expected: list[str]) -> list[str]:
    """Notes on a collected submission: missing, empty or unreadable notebooks (autograde scores them 0)."""
    notes = []
    for name in expected:
        p = dest / name
        if not p.is_file():
            notes.append(f"no {name} in the submission (it will score 0)")
            continue
        bad = check_notebook(p)
        if bad:
            notes.append(f"{name}: {bad[0]}: {bad[1]} (it will score 0)")
    return notes


# ---------------------------------------------------------------- student ids


def student_id_problem(student: str) -> str | None:
    """Why ``student`` cannot name a folder under ``submitted/`` (``None`` when it can).

    ``.`` and ``..`` would put files beside ``submitted/``; a leading ``.`` hides the
    folder from nbgrader's ``submitted/*/<unit>`` glob (collected, never graded).
    """
    if not student:
        return "empty"
    if student in (".", ".."):
        return f"{student!r} names a folder, not a student"
    if student.startswith("."):
        return "starts with '.' (a hidden folder that grading never sees)"
    if any(sep in student for sep in ("/", "\\", os.sep, os.altsep or "/")):
        return "contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in student):
        return "contains a control character"
    if student != student.strip():
        return "begins or ends with white space"
    if len(student) > MAX_STUDENT_ID:
        return f"longer than {MAX_STUDENT_ID} characters (nbgrader's limit)"
    return None


def _slug(name: str) -> str:
    """``Grace Hopper`` -> ``gracehopper``: the readable part of an id built with the LMS's user id."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]+", "", ascii_name.lower())


def _identity(info: dict) -> tuple[str, str]:
    """(student id, the name the LMS gave) from the regex's reading of a file name.

    With a ``user_id`` group (the LMS's own id of the user: Canvas and Moodle names
    carry it) the id is ``<name>_<user_id>``, so that two users of the same name
    never share a folder; without one, the ``student_id`` group as read.
    """
    name = info.get("student_id") or ""
    uid = info.get("user_id") or ""
    if uid:
        slug = _slug(name)
        return (f"{slug}_{uid}" if slug else uid), name
    return name, name


# ---------------------------------------------------------------- an LMS download, read as streams


@dataclass(frozen=True)
class Limits:
    """Caps on what one ``--zip`` collect reads.

    Archives are read as streams (``ZipFile.open``), never extracted by name, so a
    member going past a cap is refused after at most the cap's worth of bytes.
    """

    member_bytes: int = 64 * 2**20     # one file of the download (a notebook with its images)
    total_bytes: int = 2 * 2**30       # everything read from one download
    members: int = 20_000              # files and archive entries in one download
    depth: int = 3                     # archives inside archives; the LMS's own zip is depth 1


LIMITS = Limits()
_CHUNK = 2**16


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:g} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def _short(name: str, keep: int = 120) -> str:
    """A member name for the report: over-long names are cut in the middle."""
    return name if len(name) <= keep else f"{name[:keep // 2]}...{name[-keep // 2:]} ({len(name)} characters)"


class _TooLarge(Exception):
    """A stream went past a cap; the message says which."""


@dataclass
class _Found:
    """A file found in the download.  Notebooks are copied to a private temp file (``path``)."""

    label: str                    # where it came from, for the report
    rel: str                      # its path inside its folder or archive: what the regex reads
    mtime: float
    path: Path | None             # None: not read (not a notebook)
    owner: dict | None = None     # the regex's reading of the student's archive it came in


def _unsafe_member(info: zipfile.ZipInfo) -> tuple[str, str] | None:
    """(reason, detail) when a zip member must not be read as a file, else None."""
    name = info.filename
    mode = (info.external_attr >> 16) & 0o170000
    if mode == stat.S_IFLNK:
        return SYMLINK, "a symbolic link stored in the zip; never followed"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name) or "\0" in name:
        return UNSAFE_MEMBER, "the path leads outside the archive's folder"
    if info.flag_bits & 0x1:
        return BAD_ZIP, "encrypted member"
    return None


class _Download:
    """One walk over an LMS download: folders without following a symlink, zips (and
    zips in zips) as streams with :class:`Limits`.  Problems go to the report, each
    with its file; nothing stops the walk."""

    def __init__(self, tmp: Path, plugin, limits: Limits, report: CollectReport):
        self.tmp, self.plugin, self.limits, self.report = tmp, plugin, limits, report
        self.found: list[_Found] = []
        self.read = 0                 # bytes read so far (the total cap)
        self.count = 0                # files and members seen (the count cap)
        self.over_count = False

    def skip(self, label: str, reason: str, detail: str, owner: dict | None = None, rel: str | None = None) -> None:
        """Report a file; its student is the archive's owner, else what the regex reads from ``rel``."""
        if owner is None and rel is not None:
            owner = _read_name(self.plugin, rel)
        student = _identity(owner)[0] if owner else None
        self.report.skipped.append(Skipped(label, reason, detail, student or None))

    def _counted(self, label: str) -> bool:
        """False once the download has more entries than the cap (reported once)."""
        self.count += 1
        if self.count <= self.limits.members:
            return True
        if not self.over_count:
            self.over_count = True
            self.skip(label, TOO_LARGE, f"the download has more than {self.limits.members} files; "
                                        "this one and the rest were not read")
        return False

    def _owner(self, rel: str) -> dict | None:
        """The student an archive belongs to: the regex reads its name as a notebook's
        (Canvas: ``alice_1001_5001_work.zip`` is alice's upload)."""
        kind = _archive_kind(rel)
        info = _read_name(self.plugin, (kind[1] if kind else os.path.splitext(rel)[0]) + ".ipynb")
        return info if info and (info.get("student_id") or info.get("user_id")) else None

    def copy(self, src: IO[bytes]) -> Path:
        """Copy a stream to a new private file; :class:`_TooLarge` once past a cap,
        having read at most one byte more than the cap allows."""
        lim = self.limits
        room = max(0, min(lim.member_bytes, lim.total_bytes - self.read))
        dest = self.tmp / f"f{self.count}-{len(self.found)}"
        n = 0
        try:
            with open(dest, "wb") as out:
                while chunk := src.read(min(_CHUNK, room - n + 1)):
                    n += len(chunk)
                    if n > room:
                        raise _TooLarge(
                            f"expands past the cap of {_size(lim.member_bytes)} per file; reading stopped there"
                            if room == lim.member_bytes else
                            f"the download went past its cap of {_size(lim.total_bytes)} in all; "
                            "reading stopped there")
                    out.write(chunk)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        finally:
            self.read += n
        return dest

    def walk(self, top: Path) -> None:
        """The download: one file (as the instructor named it), or a folder walked without following links."""
        if top.is_file():
            with open(top, "rb") as fh:
                self._file(fh, top.name, top.name, top.stat().st_mtime)
            return
        for root, dirs, files in os.walk(top):        # followlinks=False: a linked folder is not entered
            for name in sorted(dirs + files):
                p = Path(root) / name
                rel = str(p.relative_to(top))
                label = f"{top.name}/{rel}"
                try:
                    st = p.lstat()
                    if stat.S_ISLNK(st.st_mode):
                        self.skip(label, SYMLINK, f"points at {os.readlink(p)}; never followed")
                    elif stat.S_ISDIR(st.st_mode):
                        continue
                    elif not stat.S_ISREG(st.st_mode):
                        self.skip(label, NOT_NOTEBOOK, "not a regular file (a fifo, socket or device)")
                    elif self._counted(label):
                        # O_NOFOLLOW: a file swapped for a link after the check is refused, not followed
                        with os.fdopen(os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as fh:
                            self._file(fh, label, rel, st.st_mtime)
                except OSError as exc:
                    self.skip(label, UNREADABLE, f"{exc.__class__.__name__}: {exc.strerror or exc}")
            dirs[:] = sorted(d for d in dirs if not (Path(root) / d).is_symlink())

    def _file(self, fh: IO[bytes], label: str, rel: str, mtime: float) -> None:
        kind = _archive_kind(rel)
        if kind:
            self._archive(fh, kind[0], label, 1, self._owner(rel))
        elif os.path.splitext(rel)[1].lower() == ".ipynb":
            try:
                self.found.append(_Found(label, rel, mtime, self.copy(fh)))
            except _TooLarge as exc:
                self.skip(label, TOO_LARGE, str(exc), rel=rel)
        else:
            self.found.append(_Found(label, rel, mtime, None))

    def _archive(self, fh: IO[bytes], kind: str, label: str, depth: int, owner: dict | None) -> None:
        (self._zip if kind == "zip" else self._tar)(fh, label, depth, owner)

    def _entry(self, name: str, mtime: float, opener: Callable[[], IO[bytes]], label: str, depth: int,
               owner: dict | None, unsafe: tuple[str, str] | None) -> bool:
        """One file inside an archive: a notebook is streamed to a private file (never
        written by its name), an archive is opened in turn, anything else is listed.
        False once the download has too many entries (stop reading)."""
        mlabel = f"{label}:{_short(name)}"
        if not self._counted(mlabel):
            return False
        if unsafe:
            self.skip(mlabel, unsafe[0], unsafe[1], owner, name)
            return True
        kind = _archive_kind(name)
        if kind is None and os.path.splitext(name)[1].lower() != ".ipynb":
            self.found.append(_Found(mlabel, name, mtime, None, owner))
            return True
        if kind and depth >= self.limits.depth:
            self.skip(mlabel, BAD_ZIP, f"archives nested more than {self.limits.depth} deep", owner, name)
            return True
        try:
            with opener() as src:
                path = self.copy(src)
        except _TooLarge as exc:
            self.skip(mlabel, TOO_LARGE, str(exc), owner, name)
            return True
        except _ARCHIVE_ERRORS as exc:
            self.skip(mlabel, BAD_ZIP, f"corrupt member: {exc.__class__.__name__}: {exc}", owner, name)
            return True
        if kind is None:
            self.found.append(_Found(mlabel, name, mtime, path, owner))
            return True
        try:
            with open(path, "rb") as inner:
                self._archive(inner, kind[0], mlabel, depth + 1, owner or self._owner(name))
        finally:
            path.unlink()
        return True

    def _zip(self, fh: IO[bytes], label: str, depth: int, owner: dict | None) -> None:
        try:
            zf = zipfile.ZipFile(fh)
        except _ARCHIVE_ERRORS as exc:
            detail = "not a zip archive" if isinstance(exc, zipfile.BadZipFile) else f"{exc.__class__.__name__}: {exc}"
            self.skip(label, BAD_ZIP, detail, owner)
            return
        with zf:
            for info in zf.infolist():
                if not info.is_dir() and not self._entry(info.filename, _zip_time(info),
                                                         partial(zf.open, info), label, depth, owner,
                                                         _unsafe_member(info)):
                    return

    def _tar(self, fh: IO[bytes], label: str, depth: int, owner: dict | None) -> None:
        """A tar (.tar, .tar.gz, .tar.bz2, .tar.xz) read in stream mode; its decompressed
        stream is capped too, since skipping a member still decompresses it."""
        room = max(0, self.limits.total_bytes - self.read)
        try:
            tf = tarfile.open(fileobj=_Capped(_decompressed(fh), room, self.limits.total_bytes), mode="r|")
        except (_TooLarge, *_ARCHIVE_ERRORS) as exc:
            self.skip(label, BAD_ZIP, f"not a tar archive: {exc.__class__.__name__}: {exc}", owner)
            return
        try:
            with tf:
                for m in tf:
                    if not m.isdir() and not self._entry(m.name, float(m.mtime), partial(_extracted, tf, m),
                                                         label, depth, owner, _unsafe_tar_member(m)):
                        return
        except _TooLarge as exc:
            self.skip(label, TOO_LARGE, f"{exc}; the rest of the archive was not read", owner)
        except _ARCHIVE_ERRORS as exc:
            self.skip(label, BAD_ZIP, f"{exc.__class__.__name__}: {exc}; the rest of the archive was not read",
                      owner)


#: What reading a broken or hostile archive raises (never a reason to stop the collect).
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, zlib.error, lzma.LZMAError,
                   EOFError, OSError, NotImplementedError, RuntimeError, ValueError)
_TAR_EXTS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def _archive_kind(name: str) -> tuple[str, str] | None:
    """(``"zip"`` or ``"tar"``, the name without its archive extension); None for any other file."""
    low = name.lower()
    for ext in (".zip", *_TAR_EXTS):
        if low.endswith(ext):
            return ("zip" if ext == ".zip" else "tar"), name[:-len(ext)]
    return None


class _Capped(io.RawIOBase):
    """A read-only stream that raises :class:`_TooLarge` past ``room`` bytes."""

    def __init__(self, raw: IO[bytes] | io.BufferedIOBase, room: int, cap: int):
        super().__init__()
        self.raw, self.room, self.cap, self.n = raw, room, cap, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = _CHUNK if size is None or size < 0 else size
        data = self.raw.read(min(want, self.room - self.n + 1))
        self.n += len(data)
        if self.n > self.room:
            raise _TooLarge(f"the archive expands past the download's cap of {_size(self.cap)} in all")
        return data


def _decompressed(fh: IO[bytes]) -> IO[bytes] | io.BufferedIOBase:
    """The tar stream inside a gzip, bzip2 or xz file (by its magic bytes), else ``fh``."""
    head = fh.read(6)
    fh.seek(0)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb")
    if head[:3] == b"BZh":
        return bz2.BZ2File(fh)
    if head == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(fh)
    return fh


def _unsafe_tar_member(m: tarfile.TarInfo) -> tuple[str, str] | None:
    """(reason, detail) when a tar member must not be read as a file, else None."""
    if m.issym() or m.islnk():
        return SYMLINK, f"a link to {m.linkname!r} stored in the tar; never followed"
    if not m.isfile():
        return NOT_NOTEBOOK, "not a regular file (a device or fifo stored in the tar)"
    parts = m.name.replace("\\", "/").split("/")
    if m.name.startswith(("/", "\\")) or ".." in parts or "\0" in m.name:
        return UNSAFE_MEMBER, "the path leads outside the archive's folder"
    return None


def _extracted(tf: tarfile.TarFile, m: tarfile.TarInfo) -> IO[bytes]:
    f = tf.extractfile(m)
    if f is None:  # pragma: no cover - _unsafe_tar_member lets regular files only through
        raise tarfile.TarError(f"{m.name} is not a regular file")
    return f


def _zip_time(info: zipfile.ZipInfo) -> float:
    """A zip entry's recorded date, so that the newest of two duplicates can be told."""
    try:
        return dt.datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError):
        return 0.0


def _collector_plugin(regex: str, log):
    """nbgrader's FileNameCollectorPlugin with our regex."""
    # lazy: nbgrader loads when a collect runs, not when the CLI registers the command
    from nbgrader.plugins import FileNameCollectorPlugin

    return FileNameCollectorPlugin(named_regexp=regex, valid_ext=[".ipynb"], log=log)


def _read_name(plugin, rel: str) -> dict | None:
    """The plugin's reading of a file's path inside the download (e.g. Moodle's
    ``<name>_<id>_assignsubmission_file_/<file>``), else of its base name (Canvas)."""
    return plugin.collect(rel) or (plugin.collect(os.path.basename(rel)) if "/" in rel else None)


def _parse_time(text: str) -> dt.datetime:
    """nbgrader's ``parse_utc``, and Blackboard's ``2026-11-20-10-00-00``."""
    # lazy: nbgrader loads when a collect runs, not when the CLI registers the command
    from nbgrader.utils import parse_utc

    try:
        return dt.datetime.strptime(text, "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return parse_utc(text)


def _reading(plugin, f: _Found) -> dict | None:
    """What the regex reads from a found file's name.  A file inside a student's
    archive belongs to that student, whatever its own name says (a zip of alice's
    holding ``bob_1002_..._99_tiny.ipynb`` is still alice's): its notebook name is its base name."""
    if f.owner is None:
        return _read_name(plugin, f.rel)
    base = f.rel.replace("\\", "/").rsplit("/", 1)[-1]       # zips made on Windows may use `\`
    return {**f.owner, "file_id": os.path.splitext(base)[0]}


def _known_ids(instance, unit: str) -> dict[str, list[str]]:
    """{LMS user id: student ids} of the submissions collected already (ids built as ``<name>_<user id>``)."""
    base = Path(instance.root) / "submitted"
    out: dict[str, list[str]] = {}
    if base.is_dir():
        for d in sorted(base.iterdir()):
            m = re.fullmatch(r"[0-9a-z]+_(\d+)", d.name)
            if m and (d / unit).is_dir():
                out.setdefault(m.group(1), []).append(d.name)
    return out


def collect_zip(instance: Instance, unit: str, zip_path: str | os.PathLike, *, regex: str | None = None,
                limits: Limits = LIMITS) -> CollectReport:
    """Collect an LMS download (a .zip, or a directory of zips and files) into the instance."""
    ensure_bin_on_path()
    zip_path = Path(zip_path)
    if not zip_path.exists():
        raise CourseError(f"no such file or directory: {zip_path}")
    regex = regex or CANVAS_REGEX
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise CourseError(f"bad --regex {regex!r}: {exc}") from None
    if "file_id" not in compiled.groupindex or not {"student_id", "user_id"} & set(compiled.groupindex):
        raise CourseError("--regex must have the named groups (?P<student_id>...) (or (?P<user_id>...)) "
                          "and (?P<file_id>...)")
    report = CollectReport(unit, str(zip_path))
    expected = unit_notebooks(instance, unit)
    if not expected:
        report.notes.append(f"no release of {unit} found: any notebook name is accepted")
    log, cap = quiet_logger("course.collect")
    plugin = _collector_plugin(regex, log)
    known = _known_ids(instance, unit)

    with tempfile.TemporaryDirectory(prefix="course-collect-") as tmp:
        walk = _Download(Path(tmp), plugin, limits, report)
        walk.walk(zip_path)

        # candidates[student][notebook] = [(sort key, file, label, info)]
        candidates: dict[str, dict[str, list]] = {}
        names: dict[str, set[str]] = {}                    # LMS name -> student ids
        people: dict[str, dict[tuple, list[str]]] = {}     # student id -> (email or names) -> labels
        for f in sorted(walk.found, key=lambda f: f.label):
            label = f.label
            if f.path is None:
                report.skipped.append(Skipped(label, NOT_NOTEBOOK, os.path.splitext(f.rel)[1] or "no extension",
                                              _identity(f.owner)[0] if f.owner else None))
                continue
            info = _reading(plugin, f)
            if not info or not info.get("file_id"):
                report.skipped.append(Skipped(label, NO_MATCH, f"regex {regex}"))
                continue
            student, lms_name = _identity(info)
            before = [s for s in known.get(info.get("user_id") or "", []) if s != student]
            if before:   # a changed name, or another LMS's user of the same number: never merged, said
                report.notes.append(f"{label}: collected as {student}; {', '.join(before)} (collected before) "
                                    f"has the same user id {info['user_id']}: if they are one person "
                                    f"(a changed name), move the older folder under submitted/")
            why = student_id_problem(student)
            if why:
                report.skipped.append(Skipped(label, BAD_STUDENT_ID, f"{student!r}: {why}"))
                continue
            nbname = os.path.splitext(info["file_id"])[0] + ".ipynb"
            if expected and nbname not in expected:
                report.skipped.append(Skipped(label, UNKNOWN_NOTEBOOK,
                                              f"{_short(nbname)!r}; {unit} has {', '.join(expected)}", student))
                continue
            if Path(nbname).name != nbname or len(nbname.encode()) > 255:
                report.skipped.append(Skipped(label, UNKNOWN_NOTEBOOK, f"{_short(nbname)!r} is not a plain "
                                                                       "file name", student))
                continue
            bad = check_notebook(f.path)
            if bad:
                report.skipped.append(Skipped(label, bad[0], bad[1], student))
                continue
            ts = None
            if info.get("timestamp"):
                try:
                    ts = _parse_time(info["timestamp"])
                except (ValueError, OverflowError):
                    report.notes.append(f"{label}: cannot read timestamp {info['timestamp']!r}; using the file's date")
            when = ts or dt.datetime.fromtimestamp(f.mtime)
            attempt = int(info["attempt"]) if info.get("attempt") else 0
            candidates.setdefault(student, {}).setdefault(nbname, []).append(((when, attempt, label), f.path,
                                                                               label, info))
            names.setdefault(lms_name, set()).add(student)
            person = (info.get("email"),) if info.get("email") else (info.get("first_name"), info.get("last_name"))
            if any(person):
                people.setdefault(student, {}).setdefault(person, []).append(label)

        for lms_name, ids in sorted(names.items()):
            if len(ids) > 1:
                report.notes.append(f"name collision: {len(ids)} LMS users are named {lms_name!r}; "
                                    f"collected apart as {', '.join(sorted(ids))}")
        for student, who in sorted(people.items()):
            if len(who) > 1:   # one id, several people: never merge them, and never guess which is which
                listed = "; ".join(" ".join(str(x) for x in p if x) for p in who)
                for label in sorted(lbl for lbls in who.values() for lbl in lbls):
                    report.skipped.append(Skipped(label, NAME_COLLISION, f"{len(who)} people share the id "
                                                  f"{student!r} ({listed}); add (?P<user_id>...) to --regex "
                                                  "to tell them apart", student))
                del candidates[student]

        for student in sorted(candidates):
            chosen: dict[str, tuple] = {}
            for nbname, cands in candidates[student].items():
                cands.sort(key=lambda c: c[0], reverse=True)
                chosen[nbname] = cands[0]
                for c in cands[1:]:
                    report.skipped.append(Skipped(c[2], OLDER, f"{cands[0][2]} is newer", student))
            try:
                _transfer(instance, unit, student, chosen, report)
            except Exception as exc:  # one student's files never stop the others'
                report.skipped.append(Skipped(", ".join(c[2] for c in chosen.values()), NOT_STORED,
                                              f"{exc.__class__.__name__}: {exc}", student))
    report.notes += [m for m in cap.one_line_each() if "Regular expression" not in m]
    return report


def _transfer(instance, unit: str, student: str, chosen: dict[str, tuple], report: CollectReport) -> None:
    """Put one student's chosen notebooks in place, unless the collected submission is the same."""
    when = max(c[0][0] for c in chosen.values())
    labels = ", ".join(c[2] for c in chosen.values())
    with tempfile.TemporaryDirectory(prefix="course-collect-") as tmp:
        staging = Path(tmp) / unit
        staging.mkdir()
        for nbname, c in chosen.items():
            shutil.copyfile(c[1], staging / nbname)
        dest = Path(instance.submitted_dir(student, unit))
        replaced = dest.is_dir()
        if replaced and _tree_digest(dest) == _tree_digest(staging):
            report.skipped.append(Skipped(labels, UNCHANGED, "the collected submission has the same notebooks",
                                          student))
            return
        info = next(iter(chosen.values()))[3]
        names = {k: info.get(k) for k in ("first_name", "last_name", "email") if info.get(k)}
        if names:
            instance.add_student(student, **names)
        instance.import_submission(student, unit, staging, timestamp=when)
    report.taken.append(Taken(student, labels, str(dest), str(when), replaced=replaced))


# ---------------------------------------------------------------- API and CLI


def collect(instance: Instance, unit: str, *, exchange: bool = False, zip_path: str | os.PathLike | None = None,
            regex: str | None = None, exchange_dir: str | os.PathLike | None = None, lms: str | None = None,
            limits: Limits = LIMITS) -> CollectReport:
    """Bring the submissions of ``unit`` into ``instance`` (an ``autograder.instance.Instance``).

    exchange: from the nbgrader exchange (``exchange_dir`` overrides its root);
    zip_path: from an LMS download, a .zip or a directory of them; regex: the
    file-name regex for zips, else that of ``lms`` (a key of :data:`LMS_REGEXES`,
    default canvas); limits: the caps on reading the download. Exactly one source.
    Returns a :class:`CollectReport`; raises CourseError when the source
    itself is missing.
    """
    if bool(exchange) == (zip_path is not None):
        raise CourseError("say where to collect from: --from-exchange or --zip PATH (one of them)")
    _check_unit(instance, unit)
    Path(instance.root, "submitted").mkdir(parents=True, exist_ok=True)
    if exchange:
        return collect_exchange(instance, unit, root=exchange_dir)
    assert zip_path is not None  # one of the two, checked above
    if regex is None and lms is not None:
        if lms not in LMS_REGEXES:
            raise CourseError(f"unknown LMS {lms!r}: one of {', '.join(LMS_REGEXES)}, or give --regex")
        regex = LMS_REGEXES[lms]
    return collect_zip(instance, unit, zip_path, regex=regex, limits=limits)


def _add_collect_parser(subparsers, inst_opts=None) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "collect", help="bring submissions into the instance (nbgrader exchange or LMS zip)",
        description="Bring submissions of UNIT into <instance>/submitted/<student>/<UNIT>/ from the nbgrader\n"
                    "exchange or from an LMS zip download; report what was taken, what was skipped, and why.\n"
                    "Archives are read as streams with caps (64 MiB a file, 2 GiB a download), symbolic links are\n"
                    "never followed, and a bad file is reported for its student while the others are collected.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  course collect 01_linear_classifiers --from-exchange\n"
               "  course collect 01_linear_classifiers --zip ~/Downloads/submissions.zip\n"
               "  course collect 01_linear_classifiers --zip moodle-download.zip --lms moodle\n"
               "  course collect 01_linear_classifiers --zip dl/ --regex '(?P<student_id>\\w+)-(?P<file_id>.+)'",
    )
    p.add_argument("unit", metavar="UNIT", help="unit id, e.g. 01_linear_classifiers")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-exchange", dest="from_exchange", action="store_true",
                     help="collect from the nbgrader exchange (students' `nbgrader submit`)")
    src.add_argument("--zip", dest="zip_path", metavar="PATH_OR_DIR",
                     help="an LMS download: a .zip, or a directory of zips and notebooks "
                          "(students' own zips and tars inside are read too)")
    names = p.add_mutually_exclusive_group()
    names.add_argument("--lms", choices=sorted(LMS_REGEXES), default=None,
                       help="the LMS that made the --zip download, for its file names (default: canvas); "
                            "the student id carries the LMS's user id where the names have one")
    names.add_argument("--regex", default=None,
                       help="file-name regex for --zip with named groups student_id (or user_id) and file_id "
                            "(optional: user_id, timestamp, attempt, first_name, last_name, email)")
    p.add_argument("--exchange-root", dest="exchange_root", default=None, metavar="DIR",
                   help="the exchange's root (default: the course config's Exchange.root, else <instance>/exchange)")
    if inst_opts is not None:
        inst_opts(p)                 # the CLI's own --instance / --db
    else:
        # SUPPRESS: never overwrite the same options given before the subcommand.
        p.add_argument("--instance", default=argparse.SUPPRESS, metavar="DIR",
                       help="course instance directory (default: <root>/instance or $COURSE_INSTANCE)")
        p.add_argument("--db", default=argparse.SUPPRESS, metavar="URL", help="gradebook SQLAlchemy URL")
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``collect`` on an argparse subparsers object; ``args.func(args)`` runs it."""
    p = _add_collect_parser(subparsers)
    p.set_defaults(func=main)
    return p


def register(subparsers: Any, inst_opts: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """The hook ``autograder.cli`` calls: ``collect`` with the CLI's own instance options;
    ``args.func(args, course)`` runs it."""
    p = _add_collect_parser(subparsers, inst_opts)
    p.set_defaults(func=main)
    return p


def instance_from_args(args: argparse.Namespace, course: Course | None = None) -> Instance:
    """The Instance named by ``--instance`` / ``--db`` (``$COURSE_INSTANCE``, ``$COURSE_DB``), as the CLI does."""
    course = course or Course.find(getattr(args, "root", None))
    root = getattr(args, "instance", None) or default_instance_dir(course)
    db = getattr(args, "db", None) or os.environ.get("COURSE_DB") or None
    return Instance(root, db_url=db, course=course)


def main(args: argparse.Namespace, course: Course | None = None) -> int:
    """``course collect``: print the report; exit 1 when nothing was taken and something was wrong."""
    instance = instance_from_args(args, course)
    report = collect(instance, args.unit, exchange=args.from_exchange, zip_path=args.zip_path,
                     regex=args.regex, lms=args.lms, exchange_dir=args.exchange_root)
    print(report.text())
    return 1 if (not report.taken and report.problems) else 0


if __name__ == "__main__":  # pragma: no cover - `python -m autograder.commands.collect`
    parser = argparse.ArgumentParser(prog="course")
    add_parser(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    try:
        sys.exit(main(ns))
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
