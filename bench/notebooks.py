"""Benchmark: every lecture and every solution notebook executed in a real Jupyter kernel.

DESIGN's budgets on the 2-core CPU: a lecture runs top to bottom in <= 60 s, a solution notebook
(solutions, visible and hidden tests) in <= 90 s.  Each notebook is executed with nbclient, one
at a time, in a fresh ``python3`` kernel whose BLAS and OpenMP are pinned to one thread (as on
a student's loaded laptop, and so that CPU seconds are not inflated by threads spinning).

A cell is added before the notebook's first cell and one after its last; they read the
kernel's own clocks, so ``cells_wall_s`` and ``kernel_cpu_s`` cover the notebook's cells only
(``os.times``: user + system of the kernel and of any child it waited for).  ``total_wall_s``
adds the kernel's start-up, as a reader who opens the notebook and runs it sees.  ``goal_met``
compares ``cells_wall_s`` with the budget; on a shared machine wall time is inflated by others'
load, so ``kernel_cpu_s`` (always <= what one free core would need) is given beside it.

``BENCH_NOTEBOOKS=lectures`` or ``solutions`` runs one kind only; ``python -m bench notebooks``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = {"lecture": 60.0, "solution": 90.0}
# Pinned before any kernel starts; kernels inherit the environment.
ONE_THREAD = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_FRAMEWORKS",
                            "NUMEXPR_NUM_THREADS"), "1")
TIMEOUT_S = 600   # per cell: far above any budget, so a slow notebook is measured, not killed

_START = ("import os as _bench_os, time as _bench_time\n"
          "_bench_t0, _bench_c0 = _bench_time.perf_counter(), sum(_bench_os.times()[:4])")
_END = ("import json as _bench_json\n"
        "print(_bench_json.dumps({'wall': _bench_time.perf_counter() - _bench_t0,"
        " 'cpu': sum(_bench_os.times()[:4]) - _bench_c0}))")


def notebooks() -> list[tuple[str, Path]]:
    """(kind, path) of every lecture and solution notebook, in unit order."""
    which = os.environ.get("BENCH_NOTEBOOKS", "all")
    out = []
    if which in ("all", "lectures"):
        out += [("lecture", p) for p in sorted((REPO / "notebooks" / "lectures").glob("[0-9]*.ipynb"))]
    if which in ("all", "solutions"):
        out += [("solution", p) for p in sorted((REPO / "solutions").glob("[0-9]*/*.ipynb"))]
    if not out:
        raise ValueError(f"BENCH_NOTEBOOKS={which!r}: expected all, lectures or solutions")
    return out


def execute(path: Path) -> dict:
    """Execute ``path`` in a fresh kernel (cwd: its folder); return its timings and error, if any."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_START))
    nb.cells.append(nbformat.v4.new_code_cell(_END))
    client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    error = ""
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:200]
    total = time.perf_counter() - t0
    clocks = {}
    for out in nb.cells[-1].get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            clocks = json.loads(out["text"].strip().splitlines()[-1])
    return {"total_wall_s": total, "cells_wall_s": clocks.get("wall"), "kernel_cpu_s": clocks.get("cpu"),
            "error": error}


def run() -> list[dict]:
    os.environ.update(ONE_THREAD)
    rows = []
    for kind, path in notebooks():
        r = execute(path)
        budget = BUDGET_S[kind]
        wall, cpu = r["cells_wall_s"], r["kernel_cpu_s"]
        rows.append({
            "benchmark": f"{kind} notebook", "notebook": str(path.relative_to(REPO)),
            "budget_s": budget,
            "cells_wall_s": round(wall, 1) if wall is not None else None,
            "kernel_cpu_s": round(cpu, 1) if cpu is not None else None,
            "total_wall_s": round(r["total_wall_s"], 1),
            "goal_met": (not r["error"]) and wall is not None and wall <= budget,
            "cpu_within_budget": cpu is not None and cpu <= budget,
            "note": f"failed: {r['error']}" if r["error"] else "one BLAS thread; wall includes others' load",
        })
    return rows


if __name__ == "__main__":  # python -m bench.notebooks
    from bench.__main__ import format_table
    print(format_table(run()))
