"""Benchmark: ``course feedback`` against issue 15's "<= 0.5 s per student for unit 01" and its
100,000-cell notebook (which took 238 s and about 4 GB before pages were capped).

Row 1: a unit-01 class of ``BENCH_FEEDBACK_N`` synthetic students (default 20) graded by
``course demo`` (a subprocess), then ``feedback()`` timed in this process with 1 worker and with
one worker per CPU; seconds per student, against the goal.
Row 2: one page for an autograded notebook of 100,000 cells, rendered in a subprocess: its wall
time and peak RSS (``ru_maxrss`` of the child).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S_PER_STUDENT = 0.5
UNIT = "01_linear_classifiers"

_HUGE = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.test_feedback_bounds import _huge_notebook
from autograder.commands.feedback import Page, render
tmp = Path(sys.argv[1])
grades = _huge_notebook(tmp / "huge.ipynb", 100_000)
t = time.perf_counter()
render(Page(unit="u", student="s", notebook="huge", autograded=str(tmp / "huge.ipynb"),
            out=str(tmp / "huge.html"), score=20.0, max_score=30.0, penalty=0.0, grades=grades))
import resource
print(json.dumps({"seconds": time.perf_counter() - t, "page_mb": (tmp / "huge.html").stat().st_size / 2**20,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _class_row(tmp: Path, n: int) -> dict:
    from autograder.commands.feedback import feedback
    from autograder.course import Course
    from autograder.instance import Instance

    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    course = Path(sys.executable).parent / "course"
    subprocess.run([str(course), "--root", str(REPO), "demo", "--instance",
                    str(tmp / "demo"), "--students", str(n), "--no-progress"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    inst = Instance(tmp / "demo", course=Course(REPO))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    times = {}
    for workers in (1, cpus):
        t0 = time.perf_counter()
        pages = feedback(inst, UNIT, workers=workers)
        times[workers] = (time.perf_counter() - t0) / len(pages)
    best = times[cpus]
    return {"benchmark": f"course feedback, {UNIT}", "students": n, "workers": cpus,
            "s_per_student_1_worker": round(times[1], 3), "s_per_student": round(best, 3),
            "goal_s": GOAL_S_PER_STUDENT, "goal_met": best <= GOAL_S_PER_STUDENT}


def _huge_row(tmp: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _HUGE, str(tmp), str(REPO)], check=True, capture_output=True,
                         text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"benchmark": "feedback page of a 100,000-cell notebook", "seconds": round(r["seconds"], 1),
            "peak_rss_mb": round(r["peak_rss_mb"]), "page_mb": round(r["page_mb"], 1),
            "note": "before the cap: 238 s and about 4 GB"}


def run() -> list[dict]:
    n = int(os.environ.get("BENCH_FEEDBACK_N", "20"))
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as tmp:
        return [_class_row(Path(tmp), n), _huge_row(Path(tmp))]
