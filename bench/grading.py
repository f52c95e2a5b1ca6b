"""Benchmark: grading a class, nbgrader sequential vs ``course autograde``.

The same N submissions of unit 01 (default 40; ``BENCH_GRADING_N=10`` for a
quick run; ``BENCH_GRADING_COURSE`` and ``BENCH_GRADING_UNIT`` pick another
course root and unit), a mix of full, partial and failing ones from
``autograder.synth.cohort``, are graded in one run three ways, each into its
own copy of one freshly initialised instance:

(a) ``nbgrader``: nbgrader's own autograde, one submission after another
    (``NbGraderAPI.autograde``, as the formgrader's button does);
(b) ``course-local``: ``autograde(..., workers=W)`` (default W=2, ``BENCH_GRADING_WORKERS``);
(c) ``course-dask``: ``autograde(..., workers=W, cluster="local")`` on a local Dask
    cluster (its start-up is inside the wall time).

Measured, from wall clocks and the per-notebook timing log
(``<instance>/grading-log.jsonl``, field ``seconds`` per notebook and
``kernel_start_s``):

* speedup = wall(a) / wall(b)                                  goal >= 1.9 on 2 cores
* efficiency = sum(notebook seconds) / (W x wall)               goal >= 0.9
* overhead per submission = (W x wall - sum(cell execution)) / N, where cell
  execution = notebook seconds - kernel start-up: everything per submission
  that is not running the student's cells (kernel start, copies, sanitising,
  gradebook writes, scheduling, idle workers at the tail)   goal <= 0.3 s;
  nbgrader's own is estimated the same way from wall(a) with (b)'s cell times.
* grades: every grade cell's score in (b) and (c) equals (a)'s, except where the judge's
  promise differs on purpose (a later task is not charged for an earlier task's bug).
* the judge's round trip: one call of a student's function from the judge, a
  (64, 64) float64 array there and back, through a sandboxed kernel's agent
  socket (best of 2,000 calls), against the same call through the in-process
  link (encoding and decoding only, no kernel)                  goal <= 2 ms

Submissions that loop forever are left out of the cohort: they measure the
30 s cell timeout, not the grader (the tests cover timeouts).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = os.environ.get("BENCH_GRADING_UNIT", "01_linear_classifiers")
# The course whose unit is graded (the fixture course, tests/fixtures/course, has the tiny unit 99_tiny).
COURSE = Path(os.environ.get("BENCH_GRADING_COURSE", REPO)).resolve()

GOALS = {"speedup": 1.9, "efficiency": 0.9, "overhead_s": 0.3, "judge_round_trip_ms": 2.0}


def _load_mutants(unit: str) -> list:
    """The unit's mutants from the course's tests (``tests/mutants/unitNN.py``), [] when absent."""
    import importlib

    try:
        return list(importlib.import_module(f"tests.mutants.unit{unit[:2]}").MUTANTS)
    except Exception:
        return []


def _cohort(inst, n: int):
    """[(student, kind, notebook-or-text)] of n synthetic submissions, no infinite loops."""
    from autograder import synth

    release_nb = synth.read(inst.root / "release" / UNIT / f"{UNIT}.ipynb")
    source_nb = synth.read(inst.course.source_notebook(UNIT))
    mutants = _load_mutants(UNIT)
    subs = [s for s in synth.cohort(release_nb, source_nb, n=len(mutants) + 24, mutants=mutants)
            if s[1] != "loop"]
    # Every 10 submissions: 3 full, 4 partial (tasks stubbed, a mutant, a raising cell), 3 failing
    # (2 blank, 1 malformed); each pool is cycled, so any N is that mix.
    pools: dict[str, list] = {}
    for s in subs:
        pools.setdefault(s[1].split(":")[0], []).append(s)
    pattern = ["perfect", "partial", "blank", "mutant", "perfect", "raises", "blank", "partial", "perfect",
               "malformed"]
    picked: list = []
    i = 0
    while len(picked) < n:
        kind = pattern[i % len(pattern)]
        i += 1
        pool = pools.get(kind) or pools.get("partial") or pools.get("mutant") or subs
        item = pool.pop(0)
        pool.append(item)
        picked.append(item)
    return [(f"s{i + 1:03d}", kind, nb) for i, (_, kind, nb) in enumerate(picked)]


def _write_submissions(inst, cohort) -> None:
    import nbformat

    for student, _kind, nb in cohort:
        d = inst.submitted_dir(student, UNIT)
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"{UNIT}.ipynb"
        if isinstance(nb, str):
            p.write_text(nb)
        else:
            nbformat.write(nb, str(p))


def _grades(inst) -> dict:
    """{(student, grade cell): score} from the instance's gradebook (nbgrader's API)."""
    out = {}
    with inst.gradebook() as gb:
        for sub in gb.assignment_submissions(UNIT):
            for nb in sub.notebooks:
                for g in nb.grades:
                    out[(sub.student_id, g.name)] = g.score
    return out


def _diffs(ref: dict, got: dict) -> list[tuple]:
    """[(student, grade cell, reference score, our score)] where they differ."""
    return [(k[0], k[1], ref.get(k), got.get(k)) for k in sorted(set(ref) | set(got)) if ref.get(k) != got.get(k)]


def _cell_key(cell: str) -> tuple:
    import re

    m = re.search(r"(\d+)_(\d+)$", cell)
    return (int(m.group(1)), int(m.group(2))) if m else (10**9, 0)


def _unexplained(ref: dict, got: dict) -> list[tuple]:
    """The differences :func:`_diffs` finds that the judge's promise does not explain. A bug costs its
    own task only: where a later task calls an earlier one the student left failing, nbgrader (which
    runs the student's earlier function) scores the later task 0 and the judge (which answers with the
    instructor's) does not. Such a difference, ours higher with an earlier cell of the same student at
    0 in nbgrader's run, is expected; any other is a disagreement."""
    out = []
    for student, cell, theirs, ours in _diffs(ref, got):
        earlier_failed = any(k[0] == student and _cell_key(k[1]) < _cell_key(cell) and v == 0
                             for k, v in ref.items())
        if not (theirs is not None and ours is not None and ours > theirs and earlier_failed):
            out.append((student, cell, theirs, ours))
    return out


def _copy_instance(src: Path, dest: Path):
    from autograder.course import Course
    from autograder.instance import Instance

    shutil.copytree(src, dest, symlinks=True)
    return Instance(dest, course=Course(COURSE))


def _nbgrader_sequential(inst, students) -> tuple[float, int]:
    """nbgrader's autograde, one student after another; (wall seconds, failures)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = inst.config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    failures = 0
    t0 = time.perf_counter()
    for s in students:
        res = api.autograde(UNIT, s)
        failures += not res["success"]
    return time.perf_counter() - t0, failures


@contextlib.contextmanager
def _quiet(logfile: Path):
    """nbgrader's log, its kernels' start-up chatter and SQLAlchemy warnings go to a file, not the table."""
    import warnings

    sys.stderr.flush()
    saved = os.dup(2)
    with open(logfile, "ab") as f, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _course(inst, workers: int, cluster: str | None) -> dict:
    from autograder.commands.autograde import autograde

    if inst.log_path.exists():
        inst.log_path.unlink()
    t0 = time.perf_counter()
    summary = autograde(inst, UNIT, workers=workers, cluster=cluster, force=True, progress=False,
                        **_warm_kw())
    wall = time.perf_counter() - t0
    lines = [json.loads(x) for x in inst.log_path.read_text().splitlines() if x.strip()]
    nb_s = sum(x.get("seconds") or 0.0 for x in lines)
    kstart = sum(x.get("kernel_start_s") or 0.0 for x in lines)
    overheads = [x.get("overhead_s") or 0.0 for x in lines]
    return {"wall_s": wall, "notebook_s": nb_s, "kernel_start_s": kstart, "cell_s": nb_s - kstart,
            "worker_overhead_mean_s": sum(overheads) / max(1, len(overheads)), "failed": summary.failed,
            "graded": summary.graded, "executor": summary.executor, "log_lines": len(lines),
            "warm": bool(_warm_kw().get("warm_kernels")),
            "not_ok": [(x["student"], x["status"], (x.get("error") or "")[:80]) for x in lines
                       if x.get("status") != "ok"]}


def _warm_kw() -> dict:
    """Use warm kernels when the core's autograde offers them (the CLI's default behaviour)."""
    import importlib.util
    import inspect

    from autograder.commands.autograde import autograde

    if ("warm_kernels" in inspect.signature(autograde).parameters
            and importlib.util.find_spec("autograder.runtime.kernels") is not None):
        return {"warm_kernels": os.environ.get("BENCH_GRADING_WARM", "1") != "0"}
    return {}


def judge_round_trip(calls: int = 2000) -> dict:
    """The judge's call of a student's function with a (64, 64) float64 array, through a real
    (sandboxed, when root) kernel's agent socket: best and median ms, and the in-process link's."""
    import numpy as np
    from jupyter_client import BlockingKernelClient

    from autograder.pipeline.steps.execute import SERVE_CODE
    from autograder.pipeline.steps.judge import DeadlineSocketTransport, Link, direct_link
    from autograder.runtime.kernels import release_kernel, take_kernel
    from autograder.runtime.sandbox import Limits, can_isolate
    from bench import timeit

    a = np.random.default_rng(0).standard_normal((64, 64))
    sandbox = (Limits(), ()) if can_isolate() else None
    km, kdir, _ = take_kernel("python3", ("course_lib.agent", "numpy"), sandbox=sandbox, defer_spare=True)
    try:
        kc = BlockingKernelClient()
        kc.load_connection_info(km.get_connection_info())
        kc.start_channels()
        kc.wait_for_ready(60)
        kc.execute_interactive("def echo(x):\n    return x", timeout=30)
        link = Link(DeadlineSocketTransport(km.course_agent.accept(30)))
        msg_id = kc.execute(SERVE_CODE, silent=True)
        socket_t = timeit(lambda: link.call({"$g": "echo"}, None, (a,), {}), repeats=calls, warmup=50)
        link.end()
        kc.get_shell_msg(timeout=10)
        _ = msg_id
        kc.stop_channels()
    finally:
        release_kernel(km, kdir)
    local, _ = direct_link({"echo": lambda x: x})
    direct_t = timeit(lambda: local.call({"$g": "echo"}, None, (a,), {}), repeats=calls, warmup=50)
    best = socket_t["best_ms"]
    return {
        "benchmark": "judge call round trip, (64, 64) float64", "unit": "", "n": calls,
        "best_ms": round(best, 3), "median_ms": round(socket_t["median_ms"], 3),
        "in_process_ms": round(direct_t["median_ms"], 3),
        "ratio_to_in_process": round(socket_t["median_ms"] / direct_t["median_ms"], 2),
        "goal_ms": GOALS["judge_round_trip_ms"], "goal_met": socket_t["median_ms"] <= GOALS["judge_round_trip_ms"],
        "note": "median over the calls is judged against the goal; " + ("sandboxed kernel" if sandbox else
                                                                          "kernel without sandbox (not root)"),
    }


def run() -> list[dict]:
    rows = []
    if os.environ.get("BENCH_GRADING_N", "40") != "0":
        rows += _grading_rows()
    rows.append(judge_round_trip())
    return rows


def _grading_rows() -> list[dict]:
    from autograder.course import Course, ensure_bin_on_path
    from autograder.instance import Instance

    ensure_bin_on_path()
    n = int(os.environ.get("BENCH_GRADING_N", "40"))
    workers = int(os.environ.get("BENCH_GRADING_WORKERS", "2"))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        base = Instance(tmp / "base", course=Course(COURSE)).init([UNIT])
        cohort = _cohort(base, n)
        _write_submissions(base, cohort)
        setup_s = time.perf_counter() - t0
        kinds: dict[str, int] = {}
        for _, kind, _ in cohort:
            k = kind.split(":")[0]
            kinds[k] = kinds.get(k, 0) + 1
        students = [s for s, _, _ in cohort]

        seq = _copy_instance(tmp / "base", tmp / "nbgrader")
        with _quiet(tmp / "nbgrader-stderr.log"):
            seq_wall, seq_fail = _nbgrader_sequential(seq, students)
        with _quiet(tmp / "course-stderr.log"):
            loc = _course(_copy_instance(tmp / "base", tmp / "local"), workers, None)
            dsk = _course(_copy_instance(tmp / "base", tmp / "dask"), workers, "local")

        g_seq = _grades(seq)
        g_loc = _grades(Instance(tmp / "local", course=Course(COURSE)))
        g_dsk = _grades(Instance(tmp / "dask", course=Course(COURSE)))

    def derived(r: dict) -> dict:
        return {
            "speedup": seq_wall / r["wall_s"],
            "efficiency": r["notebook_s"] / (workers * r["wall_s"]),
            "overhead_s": (workers * r["wall_s"] - r["cell_s"]) / n,
        }

    mix = ", ".join(f"{v} {k}" for k, v in kinds.items())
    rows = [{
        "benchmark": "nbgrader autograde, sequential", "unit": UNIT, "n": n, "workers": 1, "cpus": cpus,
        "wall_s": round(seq_wall, 2), "per_submission_s": round(seq_wall / n, 3),
        "speedup": 1.0, "efficiency": "", "overhead_s": round((seq_wall - loc["cell_s"]) / n, 3),
        "grades_equal_nbgrader": True, "failed": seq_fail, "goals_met": "",
        "note": f"mix: {mix}; overhead estimated with the cell times of the run below; setup {setup_s:.0f} s",
    }]
    for label, r, g in ((f"course autograde --workers {workers}", loc, g_loc),
                        (f"course autograde --workers {workers} --cluster local", dsk, g_dsk)):
        d = derived(r)
        met = [f"speedup>={GOALS['speedup']}" if d["speedup"] >= GOALS["speedup"] else None,
               f"efficiency>={GOALS['efficiency']}" if d["efficiency"] >= GOALS["efficiency"] else None,
               f"overhead<={GOALS['overhead_s']}s" if d["overhead_s"] <= GOALS["overhead_s"] else None]
        rows.append({
            "benchmark": label, "unit": UNIT, "n": n, "workers": workers, "cpus": cpus,
            "wall_s": round(r["wall_s"], 2), "per_submission_s": round(r["wall_s"] / n, 3),
            "speedup": round(d["speedup"], 2), "efficiency": round(d["efficiency"], 3),
            "overhead_s": round(d["overhead_s"], 3),
            "grades_equal_nbgrader": not _unexplained(g_seq, g) and len(g) > 0, "grade_diffs": len(_diffs(g_seq, g)),
            "failed": r["failed"],
            "goals_met": " ".join(m for m in met if m) or "none",
            "note": (f"{r['executor']}; sum notebook {r['notebook_s']:.1f} s of which kernel start "
                     f"{r['kernel_start_s']:.1f} s; worker-side overhead {r['worker_overhead_mean_s']:.3f} s/sub"
                     + ("; warm kernels" if r.get("warm") else "")
                     + (f"; {len(_diffs(g_seq, g)) - len(_unexplained(g_seq, g))} grade(s) above nbgrader's where "
                        "an earlier task failed (one bug costs one task)" if _diffs(g_seq, g) else "")
                     + (f"; differing grades (student, cell, nbgrader, ours): {_unexplained(g_seq, g)[:4]}"
                        if _unexplained(g_seq, g) else "")
                     + (f"; not ok: {r['not_ok'][:6]}" if r.get("not_ok") else "")),
        })
    return rows


if __name__ == "__main__":  # python -m bench.grading
    for row in run():
        print(json.dumps(row), flush=True)
