"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench layers notebooks`` (named ones).

Every module ``bench/<name>.py`` (not starting with ``_``) that defines ``run() -> list[dict]``
is a benchmark called ``<name>``.  The rows are printed as a table and saved in
``bench/results.json``, a dict keyed by benchmark name; benchmarks not run this time keep
their previous entry.  ``--list`` prints the names; ``--out PATH`` writes elsewhere.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.json"


def discover() -> list[str]:
    """Names of the benchmark modules in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                  if not m.name.startswith("_") and not m.ispkg)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def format_table(rows: list[dict]) -> str:
    """A plain-text table of ``rows`` (columns: the union of keys, in first-seen order)."""
    if not rows:
        return "(no rows)"
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, sep, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (JSON)")
    args = parser.parse_args(argv)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available}")
    names = args.names or available

    results = {}
    if args.out.exists():
        try:
            results = json.loads(args.out.read_text())
        except (OSError, ValueError):
            results = {}
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            if not callable(getattr(module, "run", None)):
                print(f"   bench.{name} has no run() function; skipped")
                continue
            rows = module.run()
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            status = 1
            continue
        print(format_table(rows), flush=True)
        results[name] = {
            "rows": rows,
            "seconds": round(time.perf_counter() - t0, 2),
            "when": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpu_count": os.cpu_count(),
                        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None},
        }
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"results written to {args.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
