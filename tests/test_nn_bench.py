"""The benchmark runner (``python -m bench``): discovery, the table, results.json merging.

The benchmarks themselves are never timed in tests; ``bench.layers.run`` is replaced by a stub."""
from __future__ import annotations

import json

import pytest

import bench
import bench.layers
from bench.__main__ import discover, format_table, main


def test_discover_lists_the_layer_benchmark():
    names = discover()
    assert "layers" in names
    assert not any(n.startswith("_") for n in names)


def test_format_table_aligns_the_union_of_columns():
    table = format_table([{"a": 1, "b": 2.5}, {"a": 10, "c": "x"}])
    lines = table.splitlines()
    assert lines[0].split() == ["a", "b", "c"]
    assert len(lines) == 4 and lines[3].split() == ["10", "x"]
    assert format_table([]) == "(no rows)"


def test_main_runs_named_benchmarks_and_keeps_other_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"grading": {"rows": [{"x": 1}]}}))
    monkeypatch.setattr(bench.layers, "run", lambda: [{"benchmark": "stub", "ratio": 1.5}])
    assert main(["layers", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["layers"]["rows"] == [{"benchmark": "stub", "ratio": 1.5}]
    assert results["grading"] == {"rows": [{"x": 1}]}, "a benchmark not run keeps its entry"
    assert "stub" in capsys.readouterr().out


def test_main_rejects_unknown_names(tmp_path):
    with pytest.raises(SystemExit):
        main(["no_such_benchmark", "--out", str(tmp_path / "r.json")])


def test_timers_report_best_and_median():
    t = bench.timeit(lambda: sum(range(100)), repeats=3)
    assert t["repeats"] == 3 and 0 <= t["best_ms"] <= t["median_ms"]
    a, b = bench.time_pair(lambda: None, lambda: sum(range(100)), repeats=3, warmup=0, settle=0)
    assert a["best_ms"] >= 0 and b["best_ms"] >= 0


def test_time_pair_alternates_blocks_after_a_pause(monkeypatch):
    """Each library is timed in blocks, each block after a pause, never call by call (see its docstring)."""
    calls, pauses = [], []
    monkeypatch.setattr(bench.time, "sleep", lambda s: (pauses.append(s), calls.append("pause")))
    a, b = bench.time_pair(lambda: calls.append("ours"), lambda: calls.append("ref"), repeats=2,
                           warmup=1, block=3, settle=0.5)
    round_ = ["pause"] + ["ours"] * 3 + ["pause"] + ["ref"] * 3
    assert calls == ["ours", "ref"] + round_ * 2
    assert pauses == [0.5] * 4
    assert a["repeats"] == b["repeats"] == 6


def test_layer_rows_judge_the_goal_on_the_best_times():
    t = lambda best, med: {"best_ms": best, "median_ms": med, "repeats": 3}
    within = bench.layers._row("conv", "s", "float32", t(3.0, 9.0), t(2.0, 2.0), 2, goal_ratio=2.0)
    beyond = bench.layers._row("conv", "s", "float32", t(4.2, 4.2), t(2.0, 9.0), 2, goal_ratio=2.0)
    assert (within["ratio"], within["goal_met"]) == (1.5, True)
    assert (beyond["ratio"], beyond["goal_met"]) == (2.1, False)
    assert "goal_met" not in bench.layers._row("pool", "s", "float32", t(1, 1), t(1, 1), 2)
