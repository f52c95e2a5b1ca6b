"""Kernels forked from a template process (autograder.runtime.forkserver): fresh, secret-free, never orphaned.

The sandbox's limits and isolation are tested for forked kernels in
tests/test_sandbox.py (every test there runs with both launches).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.runtime.kernels import SandboxedKernelManager
from autograder.runtime.sandbox import Limits, Sandbox
from tests.test_sandbox import TEMPLATE, run_cells

pytestmark = [pytest.mark.slow]



def test_a_forked_kernel_is_fresh_and_learns_no_secret(monkeypatch):
    """Fresh random seeds, its own working directory, and neither its environment nor its process's
    environment block (/proc/self/environ) holds the grader's settings."""
    from autograder.runtime import forkserver

    forkserver.close_all()  # a template started now sees the secret in the grader's environment
    monkeypatch.setenv("COURSE_DB_PASSWORD", "hunter2")
    monkeypatch.setenv("PGPASSWORD", "hunter2")
    probe = ("import os, numpy, random, sys\n"
             "try:\n    block = open('/proc/self/environ', 'rb').read()\n"
             "except PermissionError:\n    block = b''  # the uid switch made the process non-dumpable\n"
             "print(numpy.random.randint(1 << 30), random.getrandbits(30), os.getcwd(),\n"
             "      'hunter2' in str(dict(os.environ)), b'hunter2' in block, 'course_lib.grading' in sys.modules)")
    a, error_a, facts_a = run_cells(probe, fork=TEMPLATE)
    b, error_b, facts_b = run_cells(probe, fork=TEMPLATE)
    forkserver.close_all()
    assert error_a is None and error_b is None, (a, b)
    a, b = a[0].split(), b[0].split()
    assert a[0] != b[0] and a[1] != b[1], "each kernel draws its own seeds"
    assert a[2] == facts_a["workdir"] and b[2] == facts_b["workdir"]
    assert a[3:5] == ["False", "False"], "the grader's secrets reached the kernel"
    assert a[5] == "True", "the template's imports are there"


def test_the_template_takes_its_kernels_with_it():
    """A worker that dies takes its template with it, and the template its kernels: nothing is orphaned."""
    from jupyter_client import BlockingKernelClient
    from jupyter_core.utils import run_sync

    from autograder.runtime import forkserver

    with Sandbox(limits=Limits(memory_mb=768, max_processes=48)) as sbx:
        km = SandboxedKernelManager(sbx, fork_modules=TEMPLATE, kernel_name="python3")
        run_sync(km.start_kernel)()
        alive = run_sync(km.is_alive)
        kc = BlockingKernelClient()
        kc.load_connection_info(km.get_connection_info())
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            pid = km.provisioner.pid
            assert km.provisioner.forked and alive()
            forkserver.server_for(TEMPLATE).proc.kill()
            deadline = time.monotonic() + 10
            while alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not alive(), f"kernel {pid} outlived its template"
            try:  # gone, or dead and waiting for init to reap it
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                state = "gone"
            assert state in ("gone", "Z", "X"), state
        finally:
            kc.stop_channels()
            run_sync(km.shutdown_kernel)(now=True)
            forkserver.close_all()


def test_without_a_template_kernels_start_the_ordinary_way(monkeypatch):
    from autograder.runtime import forkserver

    forkserver.close_all()
    monkeypatch.setattr(forkserver, "supported", lambda: False)
    with Sandbox(limits=Limits(memory_mb=768, max_processes=48)) as sbx:
        km = SandboxedKernelManager(sbx, fork_modules=TEMPLATE, kernel_name="python3")
        assert getattr(km.provisioner, "forked", False) is False
        cmd = km.format_kernel_cmd()
        assert cmd[1:3] == ["-m", "autograder.runtime.sandbox"], "without a template the launcher must wrap the kernel"
    forkserver.close_all()


def test_the_workers_of_a_run_share_one_template(tmp_path):
    """The run starts one template on a Unix socket; every worker's kernels are its children.
    A worker that cannot reach it (another machine) starts its own."""
    from jupyter_core.utils import run_sync

    from autograder.runtime import forkserver

    forkserver.close_all()
    shared = forkserver.ForkServer(TEMPLATE, listen=str(tmp_path / "template.sock"))
    parents = []
    try:
        for template in (shared.listen, shared.listen, str(tmp_path / "nobody-listens.sock")):
            with Sandbox(limits=Limits(memory_mb=768, max_processes=48)) as sbx:
                km = SandboxedKernelManager(sbx, fork_modules=TEMPLATE, template=template, kernel_name="python3")
                run_sync(km.start_kernel)()
                try:
                    assert km.provisioner.forked
                    stat = Path(f"/proc/{km.provisioner.pid}/stat").read_text()
                    parents.append(int(stat.rsplit(")", 1)[1].split()[1]))
                finally:
                    run_sync(km.shutdown_kernel)(now=True)
            forkserver.close_all()  # the next kernel comes from a fresh connection, as in another worker
    finally:
        shared.close()
        forkserver.close_all()
    assert parents[0] == parents[1] == shared.proc.pid, parents
    assert parents[2] != shared.proc.pid, "without the shared template a worker forks from its own"
    assert not (tmp_path / "template.sock").exists(), "the template removes its socket when it leaves"
