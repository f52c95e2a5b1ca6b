"""The ``course`` command line: build, init, autograde, feedback, export, demo.

Every user error is one line ``course: error: ...`` and a non-zero exit,
never a traceback (set COURSE_DEBUG=1 to see tracebacks of internal errors).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autograder import options
from autograder.commands import collect
from autograder.course import Course, CourseError, ensure_bin_on_path
from autograder.options import RunOptions


def _instance(args, course):
    # lazy: each command loads only what it runs, so `course --help` stays instant (tests/test_architecture.py)
    from autograder.instance import Instance, default_instance_dir

    root = args.instance or default_instance_dir(course)
    db = args.db or os.environ.get("COURSE_DB") or None
    if db is not None:
        # lazy: SQLAlchemy takes a second to import, and only a --db URL needs it
        from sqlalchemy.engine import make_url

        try:
            make_url(db)
        except Exception:
            raise CourseError(f"bad --db URL {db!r} (expected an SQLAlchemy URL such as sqlite:////path/gradebook.db "
                              "or postgresql://user@host/db)") from None
    return Instance(root, db_url=db, course=course)


def cmd_build(args: argparse.Namespace, course: Course) -> int:
    # lazy: each command loads only what it runs, so `course --help` stays instant
    from autograder.commands import build

    t0 = time.monotonic()
    if args.check:
        problems = build.check_release(course, args.units)
        if problems:
            for p in problems:
                print(p, file=sys.stderr)
            raise CourseError(f"release out of date ({len(problems)} file{'s' if len(problems) != 1 else ''}); "
                              "run `course build`")
        print(f"release up to date ({', '.join(course.check_units(args.units))})")
        return 0
    report = build.build(course, args.units)
    for f in report.files:
        print(f"wrote {os.path.relpath(f, course.root)}")
    print(f"built {len(report.units)} unit{'s' if len(report.units) != 1 else ''} in {time.monotonic() - t0:.1f} s")
    return 0


def cmd_init(args: argparse.Namespace, course: Course) -> int:
    inst = _instance(args, course)
    units = course.check_units(args.units)
    inst.init(units)
    print(f"instance {inst.root} ready; gradebook {inst.db_url}; registered {', '.join(units)}")
    return 0


def cmd_autograde(args: argparse.Namespace, course: Course) -> int:
    # lazy: the grading stack (nbgrader, nbclient, SQLAlchemy) loads for `course autograde` only
    from autograder.commands.autograde import autograde

    course.check_units([args.unit])
    inst = _instance(args, course)
    summary = autograde(inst, args.unit, students=args.student or None, options=_run_options(args))
    for r in summary.records:
        if r.status not in ("ok", "skipped"):
            print(f"  {r.student}: {r.status}: {r.error}", file=sys.stderr)
    print(summary.line())
    print(f"timing log: {inst.log_path}")
    return 0


def _run_options(args):
    """The RunOptions the grading flags of ``args`` ask for (flags not given keep their defaults)."""
    return RunOptions(workers=args.workers, cluster=args.cluster, scheduler=args.scheduler,
                      force=getattr(args, "force", False), progress=not args.no_progress,
                      cell_timeout=args.timeout, notebook_timeout=getattr(args, "notebook_timeout", None),
                      warm_kernels=args.warm_kernels, sandbox=args.sandbox, memory_mb=args.memory_mb,
                      max_processes=args.max_processes, max_output_bytes=args.max_output_bytes)


def cmd_feedback(args: argparse.Namespace, course: Course) -> int:
    # lazy: nbgrader and nbconvert load for `course feedback` only
    from autograder.commands.feedback import feedback

    course.check_units([args.unit])
    inst = _instance(args, course)
    paths = feedback(inst, args.unit, students=args.student or None, workers=args.workers)
    print(f"wrote {len(paths)} feedback file{'s' if len(paths) != 1 else ''} under {inst.root / 'feedback'}")
    return 0


def cmd_export(args: argparse.Namespace, course: Course) -> int:
    # lazy: nbgrader loads for `course export` only
    from autograder.commands.export import export

    inst = _instance(args, course)
    units = [args.unit] if args.unit else None
    if units:
        course.check_units(units)
    path = export(inst, units, to=args.to)
    print(f"wrote {path}")
    return 0


def cmd_edition(args: argparse.Namespace, course: Course) -> int:
    # lazy: each command loads only what it runs
    from autograder.commands.edition import edition

    out = edition(course, to=Path(args.to) if args.to else None, zip_to=Path(args.zip) if args.zip else None)
    print(f"wrote the student edition to {out} (checked: no solution, hidden test or rubric in it)")
    return 0


def cmd_demo(args: argparse.Namespace, course: Course) -> int:
    # lazy: the whole grading stack loads for `course demo` only
    from autograder.commands.demo import run_demo

    run_demo(course, args.unit, students=args.students, workers=args.workers, cell_timeout=args.timeout,
             instance_dir=Path(args.instance) if args.instance else None, progress=not args.no_progress,
             cluster=args.cluster, scheduler=args.scheduler, warm_kernels=args.warm_kernels)
    return 0


def _positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {s}")
    return v


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line ``course: error: ...`` (exit 2)."""

    def error(self, message):
        self.exit(2, f"course: error: {message} (see `{self.prog} --help`)\n")


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="course",
        description="Build the student release, grade submissions in parallel, write feedback and grades.",
    )
    p.add_argument("--root", help="course root (default: walk up from the cwd to nbgrader_config.py + solutions/)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def inst_opts(sp):
        sp.add_argument("--instance", metavar="DIR",
                        help="course instance dir (default $COURSE_INSTANCE or <root>/instance)")
        sp.add_argument("--db", metavar="URL", help="gradebook SQLAlchemy URL (default sqlite in the instance)")

    def grade_opts(sp, timeout):
        sp.add_argument("--workers", type=_positive_int, help="worker processes (default: CPU count)")
        sp.add_argument("--timeout", type=_positive_int, default=timeout, metavar="SECONDS",
                        help=f"per-cell time limit (default {timeout})")
        sp.add_argument("--cluster", choices=["local"], help="run workers on a new local Dask cluster")
        sp.add_argument("--scheduler", metavar="ADDRESS", help="run workers on a running Dask scheduler (tcp://host:port)")
        sp.add_argument("--cold-kernels", dest="warm_kernels", action="store_false",
                        help="start each kernel as a new interpreter when its submission is graded "
                             "(default: kernels are forked from one process that has the course's imports "
                             "done, and each worker readies its next kernel while it grades)")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")

    def limits_opts(sp):
        d = RunOptions()
        sp.add_argument("--memory-mb", type=_positive_int, default=d.memory_mb, metavar="MB",
                        help="memory cap of each kernel together with every process it starts, in MB "
                             f"(default {d.memory_mb}; not applied with --no-sandbox)")
        sp.add_argument("--max-processes", type=_positive_int, default=d.max_processes, metavar="N",
                        help="processes and threads each submission may run; stops fork bombs "
                             f"(default {d.max_processes}; not applied with --no-sandbox)")
        sp.add_argument("--max-output-bytes", type=_positive_int, default=d.max_output_bytes, metavar="BYTES",
                        help="output kept per cell; the rest is dropped with a note in the graded notebook "
                             f"(default {d.max_output_bytes})")
        sp.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                        help="run kernels without the sandbox: no own uid, no network cut, sources and gradebook "
                             "visible, no memory or process caps (only for trusted submissions or debugging)")

    b = sub.add_parser("build", help="regenerate notebooks/assignments/ from solutions/",
                       description="Regenerate notebooks/assignments/<unit>/ from solutions/<unit>/ with nbgrader.")
    b.add_argument("units", nargs="*", metavar="UNIT", help="units to build (default: all)")
    b.add_argument("--check", action="store_true", help="only compare a fresh build with the committed release")
    b.set_defaults(func=cmd_build)

    i = sub.add_parser("init", help="create a course instance and register units in its gradebook")
    i.add_argument("units", nargs="*", metavar="UNIT", help="units to register (default: all)")
    inst_opts(i)
    i.set_defaults(func=cmd_init)

    a = sub.add_parser("autograde", help="grade all submissions of a unit in parallel (resumable)",
                       description="Grade submitted/<student>/<UNIT>/ with nbgrader's preprocessors in N worker "
                                   "processes; only new or changed submissions unless --force.")
    a.add_argument("unit", metavar="UNIT")
    a.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    a.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    a.add_argument("--notebook-timeout", type=_positive_int, metavar="SECONDS",
                   help=f"whole-notebook time limit (default: {options.NOTEBOOK_CELLS} x --timeout, "
                        f"at least {options.MIN_NOTEBOOK_SECONDS:g})")
    limits_opts(a)
    inst_opts(a)
    grade_opts(a, RunOptions().cell_timeout)
    a.set_defaults(func=cmd_autograde)

    f = sub.add_parser("feedback", help="write feedback HTML (hidden tests redacted)")
    f.add_argument("unit", metavar="UNIT")
    f.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    f.add_argument("--workers", type=int, metavar="N", help="processes rendering pages (default: the CPU count)")
    inst_opts(f)
    f.set_defaults(func=cmd_feedback)

    e = sub.add_parser("export", help="write the grades CSV (nbgrader's columns plus one per task)")
    e.add_argument("unit", nargs="?", metavar="UNIT", help="only this unit (default: all)")
    e.add_argument("--to", metavar="FILE", help="output file (default <instance>/grades.csv)")
    inst_opts(e)
    e.set_defaults(func=cmd_export)

    ed = sub.add_parser("edition", help="write the student edition (lectures, release, course_lib, setup)",
                        description="Write what students get: the lectures, the assignments' release, course_lib, "
                                    "the environment files and a README with `make setup` and `make lab`; never "
                                    "solutions, tests, mutants or rubrics (checked before anything is written).")
    where = ed.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", metavar="DIR", help="a new or empty folder")
    where.add_argument("--zip", metavar="FILE", help="a zip file (its top folder is dl-course/)")
    ed.set_defaults(func=cmd_edition)

    d = sub.add_parser("demo", help="grade a class of synthetic students end to end (< 3 minutes)",
                       description="Create a throwaway instance (<root>/instance/demo), synthesise "
                                   f">= {options.DEMO_MIN_STUDENTS} submissions, autograde them in parallel, "
                                   "write feedback and grades, print a table.")
    d.add_argument("unit", nargs="?", metavar="UNIT", help="unit (default: 01_linear_classifiers, else the first unit)")
    d.add_argument("--students", type=_positive_int, default=options.DEMO_STUDENTS,
                   help=f"number of students (at least {options.DEMO_MIN_STUDENTS}; default {options.DEMO_STUDENTS})")
    d.add_argument("--instance", metavar="DIR",
                   help="instance dir (default <root>/instance/demo); an earlier demo's is replaced, "
                        "any other non-empty dir is refused")
    grade_opts(d, options.DEMO_CELL_TIMEOUT)
    d.set_defaults(func=cmd_demo)


    collect.register(sub, inst_opts)
    return p


def main(argv: list[str] | None = None) -> int:
    ensure_bin_on_path()
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        course = Course.find(args.root)
        return args.func(args, course) or 0
    except CourseError as exc:
        print(f"course: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("course: interrupted (every grade recorded so far is kept; rerun to resume)", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("COURSE_DEBUG"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"course: error: {exc.__class__.__name__}: {msg} (COURSE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
