"""The worker's private directories: a killed run's are removed by the next run, a live one's kept."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from autograder.pipeline.worker import WORKDIR_PREFIX, reap_stale_workdirs


def test_a_killed_runs_private_directories_are_removed_and_a_live_ones_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                 # a worker that no longer runs
    old = time.time() - 3600

    def workdir(name: str, age: float | None = old):
        d = tmp_path / name
        (d / "01_unit").mkdir(parents=True)
        (d / "01_unit" / "01_unit.ipynb").write_text("{}")
        if age is not None:
            os.utime(d, (age, age))
        return d

    stale = workdir(f"{WORKDIR_PREFIX}{gone.pid}-s001-abc")
    live = workdir(f"{WORKDIR_PREFIX}{os.getpid()}-s002-def")       # this process: a live worker
    fresh = workdir(f"{WORKDIR_PREFIX}{gone.pid}-s003-ghi", age=None)  # just made: not touched yet
    unnamed = workdir(f"{WORKDIR_PREFIX}s004-jkl")                   # no process in its name
    other = workdir("someone-elses-dir")

    assert reap_stale_workdirs(tmp_path) == 1
    assert not stale.exists()
    assert live.exists() and fresh.exists() and unnamed.exists() and other.exists()
