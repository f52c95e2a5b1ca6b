"""``course collect UNIT``: bring submissions into ``<instance>/submitted/<student>/<unit>/``.

Two sources, both handled by nbgrader's own machinery:

* ``--from-exchange``: nbgrader's ``ExchangeCollect`` over the exchange's
  ``<root>/<course_id>/inbound/<student>+<unit>+<timestamp>+<random>/``
  (what students' ``nbgrader submit`` / the assignment list's Submit button
  wrote). The newest submission of each student is taken; a rerun takes only
  what is newer than what was collected.
* ``--zip PATH``: an LMS download (a .zip, or a directory of .zip files and
  loose notebooks), through nbgrader's ``zip_collect`` plugins:
  ``ExtractorPlugin`` unpacks, a ``FileNameCollectorPlugin`` regex reads the
  student id and the notebook name from each file name. The default regex
  reads Canvas names, ``<student>[_LATE]_<userid>_<subid>_<file>[-N].ipynb``;
  pass ``--regex`` for another LMS (named groups ``student_id`` and
  ``file_id`` required; ``timestamp``, ``attempt``, ``first_name``,
  ``last_name``, ``email`` optional).

What nbgrader lacks and this module adds is the account: a :class:`CollectReport`
saying which submission was taken from where, and every file or entry that was
skipped and why (not a notebook, a name the regex does not read, a notebook the
unit does not have, an empty or unreadable notebook, an unreadable zip, an older
duplicate, unchanged since the last collect). nbgrader's zip_collect aborts on a
duplicate without timestamps and on a non-empty destination; here the newest
wins (regex timestamp, else the zip entry's time, then the ``-N`` resubmission
number) and a changed submission replaces the collected one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import CourseError, ensure_bin_on_path

__all__ = ["CANVAS_REGEX", "CollectReport", "Skipped", "Taken", "add_parser", "collect", "main", "register"]

#: Canvas "Download submissions": ``doejane_12345_67890_01_linear_classifiers.ipynb``,
#: late ones ``doejane_LATE_12345_67890_...``, resubmissions ``...-1.ipynb``.
CANVAS_REGEX = (
    r"^(?P<student_id>[^_/]+)(?:_LATE)?_(?P<user_id>\d+)_(?P<submission_id>\d+)_"
    r"(?P<file_id>.+?)(?:-(?P<attempt>\d+))?\.ipynb$"
)

# Reasons are fixed phrases (tests and instructors grep them); details follow a colon.
NOT_NOTEBOOK = "not a notebook"
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


class _Capture(logging.Handler):
    """Keep nbgrader's warnings, to put them in the report instead of on stderr."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        msg = " ".join(record.getMessage().split())
        if msg:
            self.messages.append(msg)


def _logger() -> tuple[logging.Logger, _Capture]:
    log = logging.getLogger(f"course.collect.{id(object())}")
    log.propagate = False
    log.setLevel(logging.WARNING)
    cap = _Capture()
    log.handlers[:] = [cap]
    return log, cap


def unit_notebooks(instance, unit: str) -> list[str]:
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


def exchange_root(instance, override: str | os.PathLike | None = None) -> Path:
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
    from nbgrader.exchange.default.collect import ExchangeCollect, groupby

    class ReportingCollect(ExchangeCollect):
        """nbgrader's ExchangeCollect, except that an inbound entry whose name does not
        parse is skipped and reported instead of aborting the whole collect."""

        bad_entries: list

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
            for f in glob.glob(pattern):
                try:
                    records.append(self._path_to_record(f))
                except Exception as exc:  # ExchangeError, ValueError from parse_utc
                    self.bad_entries.append((os.path.basename(f), str(exc).splitlines()[0] if str(exc) else ""))
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

    return ReportingCollect


def collect_exchange(instance, unit: str, *, root: str | os.PathLike | None = None,
                     check_owner: bool = True) -> CollectReport:
    """nbgrader's collect from the exchange into the instance, with a report.

    check_owner: nbgrader's check that an inbound entry is owned by the unix user
    named as its student; a mismatch is a note in the report ("cheating attempt?").
    """
    ensure_bin_on_path()
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeError

    xroot = exchange_root(instance, root)
    report = CollectReport(unit, f"exchange {xroot}")
    cfg = instance.config()
    cfg.Exchange.root = str(xroot)
    log, cap = _logger()
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
    try:
        app.start()
    except (ExchangeError, RuntimeError, OSError) as exc:  # RuntimeError: nbgrader's "Directory size is too big"
        detail = "; ".join(cap.messages) or str(exc)
        raise CourseError(f"nbgrader could not collect {unit} from {xroot}: {detail}") from None

    for name, why in app.bad_entries:
        report.skipped.append(Skipped(f"inbound/{name}", BAD_EXCHANGE_NAME, why))
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
    report.notes += [m for m in cap.messages if "cheating attempt" in m or "too big" in m]
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


# ---------------------------------------------------------------- an LMS zip


def _collector_plugin(regex: str, log):
    """nbgrader's FileNameCollectorPlugin with our regex."""
    from nbgrader.plugins import FileNameCollectorPlugin

    return FileNameCollectorPlugin(named_regexp=regex, valid_ext=[".ipynb"], log=log)


def _read_name(plugin, rel: str) -> dict | None:
    """The plugin's reading of a file's path inside the download (e.g. Moodle's
    ``<name>_<id>_assignsubmission_file_/<file>``), else of its base name (Canvas)."""
    return plugin.collect(rel) or (plugin.collect(os.path.basename(rel)) if "/" in rel else None)


def _zip_problem(path: Path) -> str | None:
    """Why the archive cannot be used, or None."""
    if not zipfile.is_zipfile(path):
        return "not a zip archive" if path.stat().st_size else "0 bytes"
    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                parts = name.replace("\\", "/").split("/")
                if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                    return f"unsafe member path {name!r} (outside the archive's folder)"
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, ValueError) as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return f"corrupt member {bad}" if bad else None


def _stage_archives(zip_path: Path, archive: Path, report: CollectReport) -> dict[Path, str]:
    """Copy usable zips and loose files into ``archive``; report unusable zips.

    Returns {staged path: label used in the report}.
    """
    sources = [zip_path] if zip_path.is_file() else sorted(p for p in zip_path.rglob("*") if p.is_file())
    staged = {}
    for p in sources:
        rel = p.name if zip_path.is_file() else str(p.relative_to(zip_path))
        label = p.name if zip_path.is_file() else f"{zip_path.name}/{rel}"
        if p.suffix.lower() == ".zip":
            why = _zip_problem(p)
            if why:
                report.skipped.append(Skipped(label, BAD_ZIP, why))
                continue
        dest = archive / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dest)
        staged[dest] = label
    return staged


def _extract(archive: Path, extracted: Path, staged: dict[Path, str], log) -> dict[Path, tuple[str, float, str]]:
    """nbgrader's ExtractorPlugin; returns {extracted file: (label, mtime, path inside the download)}.

    Zip entries get their recorded date as mtime (nbgrader's unpacking drops it),
    so that the newest of two duplicate entries can be told.
    """
    from nbgrader.plugins import ExtractorPlugin

    extracted.mkdir(parents=True, exist_ok=True)
    try:
        ExtractorPlugin(zip_ext=[".zip"], log=log).extract(str(archive), str(extracted))
    except Exception as exc:  # e.g. an unsafe or broken zip nested inside a good one
        raise CourseError(f"cannot unpack the download: {exc.__class__.__name__}: {exc}") from None
    out: dict[Path, tuple[str, float, str]] = {}
    for staged_path, label in staged.items():
        rel_parent = staged_path.parent.relative_to(archive)
        if staged_path.suffix.lower() == ".zip":
            folder = extracted / rel_parent / staged_path.stem
            with zipfile.ZipFile(staged_path) as zf:
                for info in zf.infolist():
                    f = folder / info.filename
                    if info.is_dir() or not f.is_file():
                        continue
                    try:
                        t = dt.datetime(*info.date_time).timestamp()
                        os.utime(f, (t, t))
                    except (ValueError, OverflowError, OSError):
                        pass
                    out[f] = (f"{label}:{info.filename}", f.stat().st_mtime, info.filename)
        else:
            f = extracted / rel_parent / staged_path.name
            if f.is_file():
                out[f] = (label, staged_path.stat().st_mtime, str(rel_parent / staged_path.name))
    # anything else nbgrader extracted (zips inside zips)
    for f in extracted.rglob("*"):
        if f.is_file() and f not in out:
            rel = str(f.relative_to(extracted))
            out[f] = (rel, f.stat().st_mtime, rel)
    return out


def collect_zip(instance, unit: str, zip_path: str | os.PathLike, *, regex: str | None = None) -> CollectReport:
    """Collect an LMS download (a .zip, or a directory of zips and files) into the instance."""
    ensure_bin_on_path()
    from nbgrader.utils import parse_utc

    zip_path = Path(zip_path)
    if not zip_path.exists():
        raise CourseError(f"no such file or directory: {zip_path}")
    regex = regex or CANVAS_REGEX
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise CourseError(f"bad --regex {regex!r}: {exc}") from None
    missing = {"student_id", "file_id"} - set(compiled.groupindex)
    if missing:
        raise CourseError(f"--regex must have the named groups (?P<student_id>...) and (?P<file_id>...); "
                          f"missing {', '.join(sorted(missing))}")
    report = CollectReport(unit, str(zip_path))
    expected = unit_notebooks(instance, unit)
    if not expected:
        report.notes.append(f"no release of {unit} found: any notebook name is accepted")
    log, cap = _logger()
    plugin = _collector_plugin(regex, log)

    with tempfile.TemporaryDirectory(prefix="course-collect-") as tmp:
        archive, extracted = Path(tmp) / "archive", Path(tmp) / "extracted"
        archive.mkdir()
        staged = _stage_archives(zip_path, archive, report)
        files = _extract(archive, extracted, staged, log) if staged else {}

        # candidates[student][notebook] = (sort key, file, label, info)
        candidates: dict[str, dict[str, list]] = {}
        for f, (label, mtime, rel) in sorted(files.items(), key=lambda kv: kv[1][0]):
            if f.suffix.lower() != ".ipynb":
                report.skipped.append(Skipped(label, NOT_NOTEBOOK, f.suffix or "no extension"))
                continue
            info = _read_name(plugin, rel)
            if not info or not info.get("student_id") or not info.get("file_id"):
                report.skipped.append(Skipped(label, NO_MATCH, f"regex {regex}"))
                continue
            student = info["student_id"]
            nbname = os.path.splitext(info["file_id"])[0] + ".ipynb"
            if expected and nbname not in expected:
                report.skipped.append(Skipped(label, UNKNOWN_NOTEBOOK,
                                              f"{nbname!r}; {unit} has {', '.join(expected)}", student))
                continue
            bad = check_notebook(f)
            if bad:
                report.skipped.append(Skipped(label, bad[0], bad[1], student))
                continue
            ts = None
            if info.get("timestamp"):
                try:
                    ts = parse_utc(info["timestamp"])
                except ValueError:
                    report.notes.append(f"{label}: cannot read timestamp {info['timestamp']!r}; using the file's date")
            when = ts or dt.datetime.fromtimestamp(mtime)
            attempt = int(info["attempt"]) if info.get("attempt") else 0
            candidates.setdefault(student, {}).setdefault(nbname, []).append(((when, attempt, label), f, label, info))

        for student in sorted(candidates):
            chosen: dict[str, tuple] = {}
            for nbname, cands in candidates[student].items():
                cands.sort(key=lambda c: c[0], reverse=True)
                chosen[nbname] = cands[0]
                for c in cands[1:]:
                    report.skipped.append(Skipped(c[2], OLDER, f"{cands[0][2]} is newer", student))
            _transfer(instance, unit, student, chosen, report)
    report.notes += [m for m in cap.messages if "Regular expression" not in m]
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


def collect(instance, unit: str, *, exchange: bool = False, zip_path: str | os.PathLike | None = None,
            regex: str | None = None, exchange_dir: str | os.PathLike | None = None) -> CollectReport:
    """Bring the submissions of ``unit`` into ``instance`` (an ``autograder.instance.Instance``).

    exchange: from the nbgrader exchange (``exchange_dir`` overrides its root);
    zip_path: from an LMS download, a .zip or a directory of them; regex: the
    file-name regex for zips (default :data:`CANVAS_REGEX`). Exactly one source.
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
    return collect_zip(instance, unit, zip_path, regex=regex)


def _add_collect_parser(subparsers, inst_opts=None) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "collect", help="bring submissions into the instance (nbgrader exchange or LMS zip)",
        description="Bring submissions of UNIT into <instance>/submitted/<student>/<UNIT>/ from the nbgrader\n"
                    "exchange or from an LMS zip download; report what was taken, what was skipped, and why.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  course collect 01_linear_classifiers --from-exchange\n"
               "  course collect 01_linear_classifiers --zip ~/Downloads/submissions.zip\n"
               "  course collect 01_linear_classifiers --zip dl/ --regex '(?P<student_id>\\w+)-(?P<file_id>.+)'",
    )
    p.add_argument("unit", metavar="UNIT", help="unit id, e.g. 01_linear_classifiers")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-exchange", dest="from_exchange", action="store_true",
                     help="collect from the nbgrader exchange (students' `nbgrader submit`)")
    src.add_argument("--zip", dest="zip_path", metavar="PATH_OR_DIR",
                     help="an LMS download: a .zip, or a directory of zips and notebooks")
    p.add_argument("--regex", default=None,
                   help="file-name regex for --zip with named groups student_id and file_id "
                        "(optional: timestamp, attempt, first_name, last_name, email); default: Canvas names")
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


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``collect`` on an argparse subparsers object; ``args.func(args)`` runs it."""
    p = _add_collect_parser(subparsers)
    p.set_defaults(func=main)
    return p


def register(subparsers, inst_opts) -> argparse.ArgumentParser:
    """The hook ``autograder.cli`` calls: ``collect`` with the CLI's own instance options;
    ``args.func(args, course)`` runs it."""
    p = _add_collect_parser(subparsers, inst_opts)
    p.set_defaults(func=main)
    return p


def instance_from_args(args, course=None):
    """The Instance named by ``--instance`` / ``--db`` (``$COURSE_INSTANCE``, ``$COURSE_DB``), as the CLI does."""
    from autograder.course import Course
    from autograder.instance import Instance, default_instance_dir

    course = course or Course.find(getattr(args, "root", None))
    root = getattr(args, "instance", None) or default_instance_dir(course)
    db = getattr(args, "db", None) or os.environ.get("COURSE_DB") or None
    return Instance(root, db_url=db, course=course)


def main(args, course=None) -> int:
    """``course collect``: print the report; exit 1 when nothing was taken and something was wrong."""
    instance = instance_from_args(args, course)
    report = collect(instance, args.unit, exchange=args.from_exchange, zip_path=args.zip_path,
                     regex=args.regex, exchange_dir=args.exchange_root)
    print(report.text())
    return 1 if (not report.taken and report.problems) else 0


if __name__ == "__main__":  # pragma: no cover - `python -m autograder.collect`
    parser = argparse.ArgumentParser(prog="course")
    add_parser(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    try:
        sys.exit(main(ns))
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
