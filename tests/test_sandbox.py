"""The sandbox a submission's kernel runs in: limits hold and isolation holds.

Isolation (namespaces, per-submission uid, cgroups) needs root, which CI and a
grading server have; as an ordinary user only the rlimits apply, and the tests
of isolation say so instead of passing vacuously.  Every test runs twice: with
the kernel started as a new interpreter (``exec``) and forked from a template
that has the course's imports done (``fork``, what grading uses).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.runtime.kernels import SandboxedKernelManager
from autograder.runtime.sandbox import Limits, Sandbox, can_isolate

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sandbox")]
needs_root = pytest.mark.skipif(not can_isolate(), reason="isolation needs root (CI and grading servers run as root)")
TEMPLATE = ("numpy", "course_lib.grading")
FORK = None  # set per test by the `launch` fixture


@pytest.fixture(autouse=True, params=["exec", "fork"])
def launch(request, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "FORK", TEMPLATE if request.param == "fork" else None)
    return request.param


def run_cells(*sources: str, limits: Limits | None = None, hide=(), fork="default", timeout: int = 20):
    """Run cells in a sandboxed kernel; return (outputs per cell, error or None, sandbox facts)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    error = None
    fork = FORK if fork == "default" else fork
    with Sandbox(limits=limits or Limits(memory_mb=768, max_processes=48), hide=hide) as sbx:
        km = SandboxedKernelManager(sbx, fork_modules=fork, kernel_name="python3")
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=True, interrupt_on_timeout=True)
        try:
            client.execute()
        except Exception as exc:  # DeadKernelError, CellTimeoutError
            error = type(exc).__name__
        facts = {"oom": sbx.oom_killed(), "isolation": sbx.isolation, "workdir": str(sbx.workdir),
                 "forked": getattr(km.provisioner, "forked", False)}
    assert facts["forked"] == (fork is not None), "the kernel did not start the way the test asked"
    outs = []
    for cell in nb.cells:
        text = ""
        for o in cell.get("outputs", []):
            text += o.get("text", "") + (f"{o.get('ename')}: {o.get('evalue')}" if o.get("output_type") == "error" else "")
        outs.append(text)
    return outs, error, facts


@needs_root
def test_student_cannot_read_sources_tests_or_git_history_nor_write_outside():
    hide = [REPO / "solutions", REPO / "tests", REPO / ".git"]
    outs, error, facts = run_cells(
        "import os; print(os.getuid())",
        f"print(os.listdir({str(REPO / 'tests')!r}))",
        f"print(open({str(Path(__file__))!r}).read()[:20])",
        f"open({str(REPO / 'pwned.txt')!r}, 'w').write('x')",
        "open('mine.txt', 'w').write('ok'); print(open('mine.txt').read())",
        "print(sorted(os.listdir('/root')))",
        "print(sorted(os.listdir(os.path.dirname(os.path.dirname(__import__('course_lib').__file__)))))",
        hide=hide,
    )
    assert error is None
    assert int(outs[0]) >= 200_000, "the kernel must run under an unprivileged uid of its own"
    # hidden paths are either unreadable (covered) or not there at all (outside the allow-list)
    unseen = ("PermissionError", "FileNotFoundError")
    assert any(u in outs[1] for u in unseen) and any(u in outs[2] for u in unseen), outs[1:3]
    assert any(u in outs[3] for u in unseen + ("Read-only",)) and not (REPO / "pwned.txt").exists(), outs[3]
    assert outs[4].strip() == "ok", "the submission can still write in its own directory"
    assert "ssh" not in outs[5] and ".bash_history" not in outs[5]
    # of the checkout, only the library is there (an editable install points into it)
    assert "course_lib" in outs[6] and "solutions" not in outs[6] and "autograder" not in outs[6], outs[6]
    assert facts["isolation"].startswith("namespaces")


@needs_root
def test_every_world_writable_place_is_read_only_and_shm_is_private():
    """Not a list: every world-writable directory this machine has (found now, as the kernel starts)
    is read-only for the kernel, so one submission cannot leave a file for another to read
    (``/run/lock`` was open once); ``/dev/shm`` is a private tmpfs; its own directory stays writable."""
    from autograder.runtime.sandbox import writable_places

    places = [p for p in writable_places() if not p.startswith(("/work", "/home", "/root", "/dev/shm"))]
    assert "/tmp" in places or "/var/tmp" in places, places   # the machine has some: the test can fail
    marker = f"course-sandbox-{os.getpid()}"
    probe = ("import os\nleft = []\n"
             f"for d in {places!r}:\n"
             "    try:\n"
             f"        open(os.path.join(d, {marker!r}), 'w').write('x')\n"
             "        left.append(d)\n"
             "    except OSError:\n"
             "        pass\n"
             "print('WROTE', left)")
    outs, error, _ = run_cells(probe, f"open('/dev/shm/{marker}', 'w').write('x'); print('shm ok')",
                               "open('mine.txt', 'w').write('ok'); print(open('mine.txt').read())")
    assert error is None
    assert outs[0].strip() == "WROTE []", outs[0]
    assert "shm ok" in outs[1] and not Path(f"/dev/shm/{marker}").exists(), "the kernel's /dev/shm is its own"
    assert outs[2].strip() == "ok"
    assert not any(Path(d, marker).exists() for d in places)


@needs_root
def test_library_caches_live_in_the_kernels_directory(monkeypatch):
    """A cache path the grader's own process settled on (PyTorch writes TORCHINDUCTOR_CACHE_DIR into
    the environment the first time it asks, as root: /tmp/torchinductor_root) is not inherited by
    a kernel that cannot write there: PyTorch's cache directory is the kernel's own, and usable."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/torchinductor_root")
    outs, error, facts = run_cells(
        "import os\nfrom torch._inductor.runtime.cache_dir_utils import cache_dir\nprint(cache_dir())")
    assert error is None
    assert outs[0].strip().startswith(facts["workdir"]), outs[0]


@needs_root
def test_kernels_have_their_own_ipc_namespace():
    """System V shared memory made by one kernel is invisible to the grader (and to other kernels)."""
    outs, error, _ = run_cells("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                               "shmid = libc.shmget(0x5eed, 4096, 0o1666)\nprint('SHMID', shmid)")
    assert error is None and "SHMID" in outs[0] and int(outs[0].split()[1]) >= 0, outs[0]
    ipcs = Path("/proc/sysvipc/shm").read_text()
    keys = [line.split()[0] for line in ipcs.splitlines()[1:]]
    assert "24301" not in keys, "the kernel's segment (key 0x5eed) is visible outside its namespace"


@needs_root
def test_kernels_see_only_their_own_processes():
    """The grader's command line and other kernels are out of sight in /proc: with cgroups the
    kernel runs in a PID namespace of its own (process 2, under the namespace's init, which is
    root's and hidden from it), and the grader still interrupts it."""
    outs, error, facts = run_cells("import os\nmine = os.getpid()\n"
                               "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
                               "others = [p for p in pids if os.stat('/proc/' + p).st_uid != os.getuid()]\n"
                               "print('OTHERS', len(others), 'ME', str(mine) in pids)\n"
                               f"try:\n    print(open('/proc/{os.getpid()}/cmdline').read()[:50])\n"
                               "except OSError as e:\n    print('HIDDEN', type(e).__name__)\n"
                               "print('PID', mine, 'PROCESSES', len(pids))",
                               "import time\nprint('interrupted' if time.sleep(60) else '')",
                               "print('still there')", timeout=5)
    assert error is None
    assert "OTHERS 0 ME True" in outs[0] and "HIDDEN" in outs[0], outs[0]
    if "+cgroups" in facts["isolation"]:
        assert "PID 2 PROCESSES 1" in outs[0], outs[0]
    # nbclient interrupts the sleeping cell at its timeout: the signal reaches the kernel
    assert "KeyboardInterrupt" in outs[1] and "still there" in outs[2], outs


@needs_root
def test_no_network():
    outs, error, _ = run_cells(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
        "    print('connected')\nexcept OSError as e:\n    print('blocked', e.errno)")
    assert outs[0].startswith("blocked"), outs[0]


@needs_root
def test_memory_bomb_is_killed_and_reported():
    outs, error, facts = run_cells("print('before')", "a = []\nwhile True:\n    a.append(bytearray(10**7))",
                                   limits=Limits(memory_mb=400))
    assert outs[0].strip() == "before"
    assert error == "DeadKernelError" and facts["oom"], (error, facts)


@needs_root
def test_fork_bomb_stops_at_the_process_cap():
    outs, error, _ = run_cells(
        "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('capped', n)",
        "print('alive')", limits=Limits(max_processes=32))
    assert outs[0].startswith("capped") and int(outs[0].split()[1]) < 32
    assert outs[1].strip() == "alive" and error is None


def test_os_exit_is_a_dead_kernel_not_a_crash():
    outs, error, _ = run_cells("print(1)", "import os; os._exit(3)", "print(2)")
    assert outs[0].strip() == "1" and error == "DeadKernelError" and outs[2] == ""


@needs_root
def test_other_copies_of_the_course_and_temp_files_are_out_of_sight(tmp_path):
    """Nothing needs naming: another checkout's answers, wherever they lie, are not visible."""
    other = tmp_path / "another_checkout" / "solutions" / "answers.txt"
    other.parent.mkdir(parents=True)
    other.write_text("secret")
    os.chmod(tmp_path, 0o755)
    home = Path("/root/.bash_history")
    outs, error, _ = run_cells(f"import os; print(os.path.exists({str(other)!r}), os.path.exists({str(home)!r}))")
    assert error is None
    assert outs[0].split() == ["False", "False"], outs[0]


def test_rlimits_apply_even_without_root():
    outs, error, facts = run_cells(
        "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE)[0], resource.getrlimit(resource.RLIMIT_CORE)[0])",
        limits=Limits(max_file_mb=8))
    assert outs[0].split() == [str(8 * 2**20), "0"]
    assert not Path(facts["workdir"]).exists(), "the sandbox removes its working directory"


def test_a_timed_out_cell_is_interrupted_and_the_kernel_goes_on():
    outs, error, _ = run_cells("import time\nwhile True:\n    time.sleep(0.01)", "print('next')")
    assert "KeyboardInterrupt" in outs[0] or "CellTimeoutError" in (error or ""), (outs, error)
    if error is None:
        assert outs[1].strip() == "next"


@needs_root
def test_reaping_leaves_the_directory_of_another_runs_busy_forked_kernel():
    """A run's start removes kernel directories nobody uses; a kernel forked from a template shows
    the template's command line, so it is known by its working directory: a second `course autograde`
    must not delete the directory of the first run's kernel that has been busy for minutes."""
    import subprocess
    import tempfile
    import time

    from autograder.runtime.kernels import SANDBOX_BASE, reap_orphans

    SANDBOX_BASE.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="course-kernel-", dir=SANDBOX_BASE))
    work = base / "work"
    work.mkdir()
    busy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=work)
    try:
        old = time.time() - 600
        os.utime(base, (old, old))
        reap_orphans()
        assert work.is_dir(), "the directory of a live kernel was removed"
    finally:
        busy.kill()
        busy.wait()
    os.utime(base, (time.time() - 600,) * 2)
    reap_orphans()
    assert not base.exists(), "a directory nobody uses was kept"
