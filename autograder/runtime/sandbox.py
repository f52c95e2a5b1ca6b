"""Limits and isolation for the kernel that runs one student's submission.

nbgrader runs student code in an ordinary kernel with the grader's rights: no
memory cap (jupyter/nbgrader#1429), no process cap, no sandbox. Neither
nbgrader, nbclient nor jupyter_client offers one, and Docker is not available
everywhere the course runs, so this module does the part the OS gives us
directly. It wraps the kernel's launch command with a small launcher
(``python -m autograder.runtime.sandbox``) that, before it becomes the kernel:

- joins a memory cgroup (cap on the kernel *and everything it starts*) and a
  pids cgroup (cap on processes), created per submission by :class:`Sandbox`;
  where cgroups cannot be written, falls back to ``RLIMIT_AS`` per process;
- takes a private mount namespace and mounts empty, unreadable tmpfs over
  the paths the student must not read (course sources with hidden tests,
  tests and mutants, git history, the instance with the gradebook and the
  other students' submissions);
- takes a new network namespace (no network at all; the kernel talks to
  the grader over Unix sockets, ``transport="ipc"``), a new IPC namespace
  (System V shared memory and semaphores of its own) and a new PID namespace:
  the kernel runs under an init of its own, sees no other process in ``/proc``
  (the grader's command line, another submission's kernel) and takes every
  process it started with it when it ends;
- sets ``RLIMIT_NPROC``, ``RLIMIT_FSIZE`` and ``RLIMIT_CORE``;
- drops to an unprivileged uid of its own (one per submission, so
  submissions cannot read each other's working directories, which are 0700),
  with ``HOME`` and the working directory set to its private directory.

Namespaces, cgroups and the uid switch need root (CI, a grading server). As
an ordinary user the launcher applies the rlimits only and says so in the
result (``Sandbox.isolation``).
"""
from __future__ import annotations

import ctypes
import functools
import glob
import importlib.util
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Limits", "Sandbox", "can_isolate", "SANDBOX_BASE"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Where sandboxed kernels (as root) get their directories: outside /tmp, root-owned, so that
#: /tmp, /var/tmp and /dev/shm can be hidden from them.
SANDBOX_BASE = Path(os.environ.get("COURSE_SANDBOX_DIR", "/run/course-grader"))
CGROUP_PARENT = "course-grader"
UID_BASE = 200_000  # far above ordinary users; no passwd entry needed

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8


@dataclass(frozen=True)
class Limits:
    """Per-submission limits (Gradescope's default memory cap is 768 MB; ours
    leaves room for PyTorch, which the later units import).

    Attributes:
        cell_timeout: seconds one cell may run before it is interrupted.
        notebook_timeout: seconds the whole notebook may run.
        memory_mb: memory of the kernel and every process it starts.
        max_processes: processes and threads of the submission (fork bombs stop here).
        max_output_bytes: output kept per cell; the rest is dropped with a note.
        max_file_mb: largest file the submission may write.
        network: allow network access (default: none).
    """

    cell_timeout: float = 30.0
    notebook_timeout: float = 600.0
    memory_mb: int = 2048
    max_processes: int = 256
    max_output_bytes: int = 1_000_000
    max_file_mb: int = 64
    network: bool = False


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def can_isolate() -> bool:
    """True when namespaces, cgroups and the uid switch are available (we are root on Linux)."""
    return sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("true") is not None


# Trees where people keep files (other checkouts of the course, home directories,
# temp files of other runs). A kernel sees none of them except what it needs.
COVER = ("/home", "/root", "/tmp", "/var/tmp", "/dev/shm", "/work", "/srv", "/mnt", "/media", "/opt")


def keep_paths(workdir: str | os.PathLike | None) -> tuple[str, ...]:
    """What a kernel needs from the covered trees: the interpreter, the virtualenv, the
    course's library (an editable install points into the checkout) and its own directory."""
    keep = [sys.base_prefix, sys.prefix, str(workdir)]
    for mod in ("course_lib",):
        spec = importlib.util.find_spec(mod)
        if spec is not None and spec.submodule_search_locations:
            keep += list(spec.submodule_search_locations)
    return tuple(dict.fromkeys(str(Path(k).resolve()) for k in keep))


def cover_roots(hide: Iterable[str] = ()) -> tuple[str, ...]:
    """Top-level trees to cover: :data:`COVER` plus the top-level directory of each hidden path."""
    roots = list(COVER)
    for p in hide:
        parts = Path(p).resolve().parts
        if len(parts) > 1:
            roots.append(os.path.join("/", parts[1]))
    return tuple(r for r in dict.fromkeys(roots) if os.path.isdir(r) and r not in ("/usr", "/lib", "/etc", "/proc",
                                                                                  "/dev", "/sys", "/run", "/bin"))


def _cgroup_dir(controller: str, name: str) -> Path:
    return CGROUP_ROOT / controller / CGROUP_PARENT / name


def _write(path: Path, value) -> None:
    path.write_text(str(value))


@dataclass
class Sandbox:
    """One submission's sandbox: private working directory, uid and cgroups.

    Use as a context manager; :meth:`wrap` turns a kernel command into the
    sandboxed one. ``hide`` lists the paths the kernel must not see.
    """

    limits: Limits = field(default_factory=Limits)
    hide: tuple = ()
    workdir: Path | None = None
    forbid: tuple = ()          # dotted module names the kernel must not be able to import
    isolate: bool | None = None
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    isolation: str = "none"
    uid: int | None = None
    _cgroups: list = field(default_factory=list)
    _own_workdir: bool = False
    _spec_path: Path | None = None

    def __enter__(self) -> Sandbox:
        if self.isolate is None:
            self.isolate = can_isolate()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"course-sbx-{self.name}-"))
            self._own_workdir = True
        self.workdir = Path(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        mem_via_cgroup = False
        if self.isolate:
            # One uid per submission: submissions cannot read each other's files.
            self.uid = UID_BASE + (int(self.name, 16) % 1_000_000 if all(
                c in "0123456789abcdef" for c in self.name) else abs(hash(self.name)) % 1_000_000)
            for root, _dirs, files in os.walk(self.workdir):
                os.chown(root, self.uid, self.uid)
                for f in files:
                    os.chown(os.path.join(root, f), self.uid, self.uid)
            os.chmod(self.workdir, 0o700)
            # The parent of a private temp dir must be traversable by the kernel's uid.
            if self._own_workdir:
                os.chmod(self.workdir.parent, os.stat(self.workdir.parent).st_mode | 0o111)
            mem_via_cgroup = self._make_cgroups()
            self.isolation = "namespaces+uid" + ("+cgroups" if mem_via_cgroup else "+rlimits")
            if mem_via_cgroup:
                # the launcher waits outside the kernel's PID namespace and an init waits inside: two
                # processes more in its cgroup
                _write(_cgroup_dir("pids", self.name) / "pids.max", self.limits.max_processes + 2)
        else:
            self.isolation = "rlimits"
        spec = {
            "limits": asdict(self.limits),
            "workdir": str(self.workdir),
            "uid": self.uid,
            "isolate": bool(self.isolate),
            "cgroups": [str(p) for p in self._cgroups],
            "memory_via_cgroup": mem_via_cgroup,
        # a PID namespace puts the kernel one fork below the process the grader started; its CPU
        # time is then read from the cgroup (which holds both), so only where there is one
        "pid_namespace": bool(self.isolate and mem_via_cgroup),
            "hide": [str(Path(p).resolve()) for p in self.hide if Path(p).exists()],
            "cover": list(cover_roots(self.hide)),
            "keep": list(keep_paths(self.workdir)),
            "forbid": forbid_spec(self.forbid),
        }
        fd, path = tempfile.mkstemp(prefix="course-sbx-spec-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(spec, fh)
        os.chmod(path, 0o644)
        self._spec_path = Path(path)
        return self

    def _make_cgroups(self) -> bool:
        try:
            mem = _cgroup_dir("memory", self.name)
            pids = _cgroup_dir("pids", self.name)
            for d in (mem, pids):
                d.mkdir(parents=True, exist_ok=True)
                self._cgroups.append(d)
            cpu = _cgroup_dir("cpuacct", self.name)
            try:  # CPU time measured from outside (course_lib.grading.measure in the judge)
                cpu.mkdir(parents=True, exist_ok=True)
                self._cgroups.append(cpu)
            except OSError:
                pass
            _write(mem / "memory.limit_in_bytes", self.limits.memory_mb * 2**20)
            swap = mem / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    _write(swap, self.limits.memory_mb * 2**20)
                except OSError:
                    pass
            _write(pids / "pids.max", self.limits.max_processes)
            return True
        except OSError:
            self._remove_cgroups()
            return False

    def _remove_cgroups(self) -> None:
        for d in self._cgroups:
            procs = d / "cgroup.procs"
            try:
                for pid in procs.read_text().split():
                    try:
                        os.kill(int(pid), 9)
                    except ProcessLookupError:
                        pass
            except OSError:
                pass
        for d in self._cgroups:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self._cgroups = []

    def cgroup(self, controller: str) -> Path | None:
        """This sandbox's cgroup directory for ``controller`` (``memory``, ``cpuacct``), if made."""
        for d in self._cgroups:
            if d.parent.parent.name == controller:
                return d
        return None

    def oom_killed(self) -> bool:
        """True when the memory cgroup hit its cap (the kernel or a child was killed for memory)."""
        for d in self._cgroups:
            try:
                if (d / "memory.oom_control").exists():
                    stats = dict(line.split() for line in (d / "memory.oom_control").read_text().splitlines())
                    if int(stats.get("oom_kill", 0)) > 0:
                        return True
                if (d / "memory.failcnt").exists() and int((d / "memory.failcnt").read_text()) > 0:
                    return True
            except (OSError, ValueError):
                pass
        return False

    def kill_all(self) -> None:
        """Kill every process of the submission (the kernel and whatever it started)."""
        for d in self._cgroups:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), 9)
                    except ProcessLookupError:
                        pass
            except OSError:
                pass

    def wrap(self, cmd: list[str]) -> list[str]:
        """The sandboxed form of a kernel command line."""
        if self._spec_path is None:
            raise RuntimeError("use the Sandbox as a context manager before wrapping a command")
        return [sys.executable, "-m", "autograder.runtime.sandbox", str(self._spec_path), "--", *cmd]

    def __exit__(self, *exc) -> None:
        self.kill_all()
        self._remove_cgroups()
        if self._spec_path is not None:
            self._spec_path.unlink(missing_ok=True)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------- modules a task may not use

FORBID_MESSAGE = ("{module} is not available while this task is graded: the task asks you to write it "
                  "yourself without it (its rule in the notebook). Remove the import.")


# Where other Python installations keep their libraries outside the trees a kernel never sees
# (:data:`COVER`): a distribution's python3 and its dist-packages, /usr/local, an interpreter bundled
# with a tool (e.g. /usr/lib/google-cloud-sdk/platform/bundledpythonunix/lib/python3.12). A copy of a
# forbidden module there (the standard library's, a system package's) is as good as the original to a
# student who executes its source, so it is taken away too. A copy anywhere else is not: the README
# says so.
LIBRARY_GLOBS = ("/usr/lib/python3*", "/usr/local/lib/python3*", "/usr/lib64/python3*", "/usr/share/python3*",
                 "/usr/lib/*/lib/python3*", "/usr/lib/*/*/lib/python3*", "/usr/lib/*/*/*/lib/python3*",
                 "/usr/local/*/lib/python3*", "/lib/python3*")


@functools.lru_cache(maxsize=1)
def library_roots() -> tuple[str, ...]:
    """The directories of :data:`LIBRARY_GLOBS` that exist, with their site- and dist-packages."""
    roots: list[str] = []
    for pattern in LIBRARY_GLOBS:
        for d in sorted(glob.glob(pattern)):
            if os.path.isdir(d):
                roots += [d] + [os.path.join(d, sub) for sub in ("site-packages", "dist-packages")
                                if os.path.isdir(os.path.join(d, sub))]
    return tuple(dict.fromkeys(str(Path(r).resolve()) for r in roots))


def _other_copies(name: str) -> list[dict]:
    """Copies of module ``name`` in the :func:`library_roots` (as ``forbid_spec`` items)."""
    rel = name.replace(".", os.sep)
    out = []
    for root in library_roots():
        base = os.path.join(root, rel)
        if os.path.isdir(base) and not os.path.islink(base):
            out.append({"module": name, "path": base, "package": True})
        elif os.path.isfile(base + ".py"):
            out.append({"module": name, "path": base + ".py", "package": False})
    return out


def forbid_spec(modules: Iterable[str]) -> list[dict]:
    """Where each forbidden module lives (found here, in the grader, which may import anything,
    and its copies in other Python installations): ``{"module", "path", "package"}``; modules that
    are not installed need nothing."""
    out = []
    for name in dict.fromkeys(modules):
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is not None and found.submodule_search_locations:
            for loc in found.submodule_search_locations:
                out.append({"module": name, "path": str(Path(loc).resolve()), "package": True})
        elif found is not None and found.origin and os.path.isfile(found.origin):
            out.append({"module": name, "path": str(Path(found.origin).resolve()), "package": False})
        seen = {item["path"] for item in out}
        out += [item for item in _other_copies(name) if item["path"] not in seen]
    return out


def _stub_source(module: str) -> bytes:
    return ("raise ImportError(" + repr(FORBID_MESSAGE.format(module=module)) + ", name="
            + repr(module) + ")\n").encode()


def _take_away(forbid: list[dict], stage_dir: str) -> None:
    """Replace each forbidden module, in this mount namespace, by one that raises ImportError: a
    package's directory by an empty tmpfs holding only that ``__init__.py``; a module's file (and
    its cached bytecode) by a stub.  Nothing of the module is left to read, import or exec."""
    libc = _libc()
    for i, item in enumerate(forbid):
        path, module = item["path"], item["module"]
        if not os.path.exists(path):
            continue
        if item["package"]:
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=755"),
                   f"take away {module}")
            with open(os.path.join(path, "__init__.py"), "wb") as fh:
                fh.write(_stub_source(module))
            libc.mount(b"tmpfs", path.encode(), None, 32 | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)  # MS_REMOUNT
        else:
            stub = os.path.join(stage_dir, f"forbidden-{i}.py")
            with open(stub, "wb") as fh:
                fh.write(_stub_source(module))
            os.chmod(stub, 0o644)
            _check(libc.mount(stub.encode(), path.encode(), None, 4096, None), f"take away {module}")  # MS_BIND
            cache = Path(path).parent / "__pycache__"
            if cache.is_dir():
                for pyc in cache.glob(Path(path).stem + ".*.pyc"):
                    libc.mount(b"/dev/null", str(pyc).encode(), None, 4096, None)


def _mount_points() -> list[tuple[str, set[str]]]:
    """(mount point, its per-mount options) of this mount namespace, from /proc/self/mountinfo."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            point = parts[4].encode().decode("unicode_escape")   # \040 for a space, as the kernel writes it
            out.append((point, set(parts[5].split(","))))
    return out


_MS_BIND = 4096
_MS_REMOUNT = 32
_MS_NOATIME = 1024
_MS_NODIRATIME = 2048
_MS_RELATIME = 1 << 21
_KEEP_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC, "noatime": _MS_NOATIME,
               "nodiratime": _MS_NODIRATIME, "relatime": _MS_RELATIME}


def _read_only_but(workdir: str, shm_mb: int = 64) -> None:
    """Every mount of this namespace read-only except ``workdir``; a private, empty ``/dev/shm``.

    Not a list of places: whatever the machine has that others may write (``/run/lock``,
    ``/var/tmp``, a world-writable directory an admin made) is read-only for the kernel, which
    can write only in its own directory.  Pseudo file systems (``/proc``, ``/sys``) are left as they
    are: what a process may write there is about itself, not a place to leave files.  (No library
    does this; it is a loop of mount calls.)
    """
    libc = _libc()
    _check(libc.mount(workdir.encode(), workdir.encode(), None, _MS_BIND | _MS_REC, None), "bind the work dir")
    for point, opts in sorted(_mount_points(), key=lambda m: len(m[0])):
        if point == workdir or point.startswith(("/proc", "/sys", "/dev/pts")) or "ro" in opts:
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
        for name, bit in _KEEP_FLAGS.items():
            if name in opts:
                flags |= bit
        libc.mount(None, point.encode(), None, flags, None)  # best effort: a mount that refuses stays as it is
    if os.path.isdir("/dev/shm"):
        libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", _MS_NOSUID | _MS_NODEV,
                   f"size={shm_mb}m,mode=1777".encode())


_FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def _own_pid_namespace(die_with_parent: bool) -> None:
    """Put the kernel in a new PID namespace, under an init of its own.

    ``unshare(CLONE_NEWPID)`` (done by the caller) applies to children only, so this forks twice:
    this process stays outside as the *waiter* (the process the grader started and knows: it passes
    the grader's signals on and ends as the kernel ends); its child is process 1 of the namespace, an
    *init* that passes signals on, reaps orphans and ends with the kernel (taking every process of
    the namespace with it); the init's child returns from here and becomes the kernel, an ordinary
    process whose signals mean what they always do.  (``unshare --fork`` or ``tini`` would be new
    programs between the grader and the kernel, and no longer the one a forked kernel must be.)"""
    def relay(to: int) -> None:
        def forward(signum, _frame):
            try:
                os.kill(to, signum)
            except ProcessLookupError:
                pass
        for name in _FORWARDED:
            signal.signal(getattr(signal, name), forward)

    def end_like(status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        # the init reports a kernel killed by signal N as 128 + N (process 1 cannot die of its own
        # signal): die of the same one, so the grader sees what it would have seen
        sig = -code if code < 0 else code - 128 if code > 128 else 0
        if sig:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(code if code >= 0 else 128 - code)

    parent = os.getppid()
    r, w = os.pipe()
    init = os.fork()
    if init:   # the waiter, outside the namespace
        os.close(r)
        if die_with_parent:   # a kernel forked from a template dies with the template, as before
            _set_pdeathsig(signal.SIGKILL)
            if os.getppid() != parent:
                os.kill(init, signal.SIGKILL)
        relay(init)
        try:
            _, status = os.waitpid(init, 0)
        except ChildProcessError:
            os._exit(1)
        end_like(status)
    os.close(w)
    _set_pdeathsig(signal.SIGKILL)   # the init dies with the waiter: the namespace goes with it
    if select_readable(r):           # the waiter ended before that took effect
        os._exit(1)
    # Sessions of their own, the init's and the kernel's: a signal the grader sends to the waiter's
    # process group reaches the kernel once, relayed (not also directly, a second KeyboardInterrupt
    # in the middle of the first); and the kernel's killpg of its parent's group is refused
    # (the init is root's) instead of landing on itself.
    os.setsid()
    kernel = os.fork()
    if kernel == 0:
        os.close(r)
        os.setsid()
        return
    relay(kernel)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        if pid == kernel:
            os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _set_pdeathsig(sig: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def select_readable(fd: int) -> bool:
    """Whether ``fd`` is readable now (for a pipe whose writer is gone: at EOF)."""
    return bool(select.select([fd], [], [], 0)[0])


def _own_proc() -> None:
    """A /proc of this namespace's own, where moreover processes of other users are invisible
    (``hidepid``): in a PID namespace of its own the kernel sees its own processes only; without
    one (no cgroups) it still sees no other uid's, and every kernel runs under a uid of its own."""
    libc = _libc()
    for opts in (b"hidepid=invisible", b"hidepid=2"):
        if libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, opts) == 0:
            return
    raise OSError(ctypes.get_errno(), "could not mount a private /proc")


def writable_places(root: str = "/") -> list[str]:
    """World-writable directories on this machine (outside /proc, /sys and the sandbox's own base),
    for the tests that check a kernel can write none of them."""
    out = []
    skip = ("/proc", "/sys", str(Path(os.environ.get("COURSE_SANDBOX_DIR", "/run/course-grader"))))
    for base, dirs, _files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.join(base, d).startswith(skip)
                   and not os.path.islink(os.path.join(base, d))]
        try:
            if os.stat(base).st_mode & 0o002:
                out.append(base)
        except OSError:
            pass
    return out


# ---------------------------------------------------------------- the launcher

def _hide(paths: list[str]) -> None:
    libc = _libc()
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    for p in paths:
        if os.path.isdir(p):
            _check(libc.mount(b"tmpfs", p.encode(), b"tmpfs",
                              _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, b"size=4k,mode=000"),
                   f"hide {p}")
        elif os.path.isfile(p):
            _check(libc.mount(b"/dev/null", p.encode(), None, 4096, None), f"hide {p}")  # MS_BIND


def _blocking_ancestor(path: str) -> str | None:
    """The topmost ancestor of ``path`` that other users cannot traverse (e.g. ``/root`` at 0700)."""
    parts = Path(path).resolve().parts
    for i in range(2, len(parts)):
        d = os.path.join(*parts[:i])
        if not os.stat(d).st_mode & 0o001:
            return d
    return None


def _expose(path: str) -> None:
    """Make ``path`` reachable by the unprivileged uid inside the mount namespace.

    When Python lives under a private home (pyenv in ``/root``), the kernel's uid
    could not even start the interpreter. Inside the namespace we put a tmpfs
    over the blocking ancestor (hiding the rest of that home) and bind the
    interpreter's tree back at its own path. The host is untouched.
    """
    top = _blocking_ancestor(path)
    if top is None:
        return
    libc = _libc()
    stage = tempfile.mkdtemp(prefix="course-sbx-stage-")
    _check(libc.mount(path.encode(), stage.encode(), None, 4096 | _MS_REC, None), f"stage {path}")
    _check(libc.mount(b"tmpfs", top.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=755"),
           f"cover {top}")
    os.makedirs(path, exist_ok=True)
    _check(libc.mount(stage.encode(), path.encode(), None, 4096 | _MS_REC, None), f"bind {path}")
    libc.umount2(stage.encode(), 2)  # MNT_DETACH
    os.rmdir(stage)


def _confine(cover: list[str], keep: list[str]) -> None:
    """Cover each tree in ``cover`` with an empty tmpfs and bind back only the ``keep`` paths.

    An allow-list rather than a deny-list: a second checkout of the course, a
    course living under /tmp, another run's temp files are all out of sight
    without having to be named. (No library does this; it is a few mount calls.)
    """
    libc = _libc()
    staged = []
    for k in keep:
        if os.path.isdir(k) and any(k == c or k.startswith(c.rstrip("/") + "/") for c in cover):
            stage = tempfile.mkdtemp(prefix="course-sbx-stage-", dir="/run" if os.path.isdir("/run") else "/")
            _check(libc.mount(k.encode(), stage.encode(), None, 4096 | _MS_REC, None), f"stage {k}")
            staged.append((k, stage))
    for c in cover:
        _check(libc.mount(b"tmpfs", c.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=755"),
               f"cover {c}")
    for k, stage in staged:
        os.makedirs(k, exist_ok=True)
        _check(libc.mount(stage.encode(), k.encode(), None, 4096 | _MS_REC, None), f"bind back {k}")
        libc.umount2(stage.encode(), 2)  # MNT_DETACH
        os.rmdir(stage)
    for c in cover:  # nothing more may be created in the covers
        libc.mount(b"tmpfs", c.encode(), None, 32 | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)  # MS_REMOUNT


def scrub_env(env: Mapping[str, str]) -> dict:
    """The environment without what a submission must not learn (Jupyter tokens, the grader's settings,
    database credentials)."""
    return {k: v for k, v in env.items() if not k.startswith(("JPY_", "JUPYTER_TOKEN", "COURSE_", "PGPASS",
                                                              "DATABASE"))}


def kernel_env(env: Mapping[str, str]) -> dict:
    """A kernel's environment (and its template's, autograder.runtime.forkserver): scrubbed, no bytecode
    written, and one BLAS thread, since submissions are graded side by side, one per core."""
    env = scrub_env(env)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def enter(spec: dict) -> dict:  # pragma: no cover - runs in the child
    """Put this process into the sandbox ``spec`` describes; returns the environment for the kernel.

    Used by the launcher below (which then execs the kernel) and by a kernel
    forked from a template (:mod:`autograder.runtime.forkserver`), which runs it in-process.
    """
    lim = spec["limits"]
    loaded = sorted({f["module"] for f in spec.get("forbid", []) if f["module"] in sys.modules})
    if loaded:  # a kernel forked from a template that imported them would hold them in memory
        raise RuntimeError(f"refusing to become a kernel: forbidden modules already imported: {loaded}")
    if spec["isolate"]:
        for d in spec["cgroups"]:
            _write(Path(d) / "cgroup.procs", os.getpid())
        libc = _libc()
        flags = _CLONE_NEWNS | _CLONE_NEWIPC | (0 if lim["network"] else _CLONE_NEWNET)
        if spec.get("pid_namespace"):
            flags |= _CLONE_NEWPID
        _check(libc.unshare(flags), "unshare")
        _hide(spec["hide"])
        _confine(spec.get("cover", []), spec.get("keep", []))
        _expose(sys.base_prefix)
        if spec.get("forbid"):
            _take_away(spec["forbid"], os.path.dirname(spec["workdir"]))
        _read_only_but(str(Path(spec["workdir"]).resolve()))
        if spec.get("pid_namespace"):
            _own_pid_namespace(bool(spec.get("die_with_parent")))
        _own_proc()
    if not spec.get("memory_via_cgroup"):
        mem = lim["memory_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = lim["max_file_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if spec["isolate"]:
        # Per-uid process cap; the uid is the submission's own, so this counts only its processes.
        resource.setrlimit(resource.RLIMIT_NPROC, (lim["max_processes"], lim["max_processes"]))
        uid = spec["uid"]
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    workdir = spec["workdir"]
    os.chdir(workdir)
    # The kernel's own chatter (banner, crash messages) goes to a log, not the grader's terminal.
    log = os.open(os.path.join(workdir, ".kernel", "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    env = kernel_env(os.environ)
    env.update(HOME=workdir, TMPDIR=workdir, MPLCONFIGDIR=os.path.join(workdir, ".mpl"))
    # Caches a library keeps under /tmp or ~ go to the kernel's own directory: the rest of the
    # file system is read-only to it, and a path the grader's process settled on (PyTorch writes
    # TORCHINDUCTOR_CACHE_DIR into the environment the first time it asks) must not be inherited
    cache = os.path.join(workdir, ".cache")
    env.update(XDG_CACHE_HOME=cache, TORCHINDUCTOR_CACHE_DIR=os.path.join(cache, "torchinductor"),
               TRITON_CACHE_DIR=os.path.join(cache, "triton"))
    if spec["isolate"]:
        # IPython's profile (its startup files run before anything else) must not be one the
        # submission wrote before a restart: this directory is read-only for the kernel, so IPython
        # uses a fresh temporary one, under a random name, at every start
        env["IPYTHONDIR"] = os.path.join(os.path.dirname(workdir), "ipython")
    return env


def _launch(spec_path: str, cmd: list[str]) -> None:  # pragma: no cover - runs in the child
    env = enter(json.loads(Path(spec_path).read_text()))
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":  # pragma: no cover - exercised through the kernel tests
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: python -m autograder.runtime.sandbox SPEC.json -- KERNEL_COMMAND ...")
    _launch(sys.argv[1], sys.argv[3:])
