"""Kernels forked from a template process that has the course's imports done.

A fresh kernel is a fresh interpreter: Python, ipykernel and then the
course's imports (numpy, course_lib, and PyTorch, which the hidden tests use
as their oracle: 2.5 s of CPU on its own).  On a 2-core grading machine that
CPU is not hidden by starting kernels ahead of time: it is taken from the
kernels that are grading.  So each worker keeps one *template* process (a fork
server, as Android's zygote and ``multiprocessing``'s forkserver do) that
imports all of that once, and every kernel is a ``fork()`` of it: copy-on-write
memory, 20 ms instead of seconds.

The fork is a kernel like any other for jupyter_client: :class:`ForkProvisioner`
is a ``LocalProvisioner`` whose launch asks the template for a child instead
of starting ``python -m ipykernel_launcher``; the child then does what
``autograder.runtime.sandbox``'s launcher does (cgroups, namespaces, hidden paths, its
own uid, rlimits; see :func:`autograder.runtime.sandbox.enter`) and runs ipykernel's
own ``launch_new_instance`` with the kernel's usual arguments.  The grader
holds each child by a pidfd (Linux >= 5.3), so signals and liveness checks
reach exactly that process even though it is the template's child, not ours.

Neither jupyter_client, ipykernel nor nbclient can start a kernel this way;
``multiprocessing``'s forkserver forks only to run a Python function of ours
with a pickled argument, not to hand over a process that jupyter_client
manages, hence this module.  Where anything here fails (no pidfd, the
template cannot start), kernels start the ordinary way.
"""
from __future__ import annotations

import ctypes
import importlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from pathlib import Path
from typing import Any

from autograder.runtime import sandbox
from autograder.runtime.sandbox import SANDBOX_BASE, kernel_env, scrub_env

MARK = "course-kernel-template"  # on the template's (and so every forked kernel's) command line
READY_TIMEOUT = 120.0

_servers: dict[tuple, ForkServer | TemplateClient | None] = {}
_lock = threading.Lock()


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal")


def _request(spec_path: str, argv: list[str], cwd: str, env: dict) -> bytes:
    """One fork request line.  The environment is scrubbed here, not only in the child: the
    template keeps what it was sent in its memory, which every later kernel inherits."""
    return (json.dumps({"spec": spec_path, "argv": list(argv), "cwd": cwd, "env": scrub_env(env)}) + "\n").encode()


def _pid(line) -> int:
    """The forked kernel's pid from the template's answer line."""
    try:
        reply = json.loads(line)
    except ValueError:
        text = line.decode(errors="replace") if isinstance(line, bytes) else line
        raise OSError(f"the kernel template did not answer: {text.strip()[:200] or 'nothing'}") from None
    if "pid" not in reply:
        raise OSError(f"the kernel template could not fork: {reply.get('error')}")
    return int(reply["pid"])


class ForkServer:
    """The grader's handle on one template process (one per worker and set of modules)."""

    def __init__(self, modules: tuple[str, ...], listen: str | None = None):
        """Start the template.  ``listen``: a Unix socket path on which it also serves other processes
        (the grading run's workers); then this returns at once, without waiting for its imports."""
        self.modules = tuple(modules)
        env = kernel_env(os.environ)  # every kernel inherits the template's environment block (/proc/self/environ)
        try:  # matplotlib's font cache, if the template imports it: built once, readable by every kernel
            SANDBOX_BASE.mkdir(parents=True, exist_ok=True)
            mpl = Path(SANDBOX_BASE) / f"template-mpl-{os.getuid()}"
            mpl.mkdir(mode=0o755, exist_ok=True)
            env["MPLCONFIGDIR"] = str(mpl)
        except OSError:
            pass
        self.listen = listen
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.runtime.forkserver", MARK, *(["--listen", listen] if listen else []),
             *self.modules],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/", env=env,
            close_fds=True)
        self._io = threading.Lock()
        if listen:  # bound before the imports: wait only for that (a fraction of a second)
            deadline = time.monotonic() + 15
            while not os.path.exists(listen) and self.alive() and time.monotonic() < deadline:
                time.sleep(0.01)
            if not os.path.exists(listen):
                self.close()
                raise OSError("the kernel template did not open its socket")
            return
        line = self._readline(READY_TIMEOUT)
        if line.strip() != "ready":
            self.close()
            raise OSError(f"the kernel template did not start: {line.strip()[:200] or 'no answer'}")

    def _readline(self, timeout: float) -> str:
        out = self.proc.stdout
        assert out is not None  # started with stdout=PIPE
        r, _, _ = select.select([out], [], [], timeout)
        if not r:
            return ""
        return out.readline().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, spec_path: str, argv: list[str], cwd: str, env: dict) -> int:
        """Fork a kernel: it enters the sandbox described by ``spec_path`` and runs ipykernel with ``argv``."""
        req = _request(spec_path, argv, cwd, env)
        if self.listen:
            raise OSError("a shared template takes requests on its socket (TemplateClient), not its pipe")
        with self._io:
            if not self.alive():
                raise OSError("the kernel template has exited")
            stdin = self.proc.stdin
            assert stdin is not None  # started with stdin=PIPE
            stdin.write(req)
            stdin.flush()
            line = self._readline(30.0)
        return _pid(line)

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class TemplateClient:
    """A worker's connection to the grading run's shared template (``ForkServer(listen=...)``): one
    template, one set of imports for every worker on the machine."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READY_TIMEOUT)  # the first answer waits for the template's imports
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self._io = threading.Lock()
        self._buf = b""
        self._dead = False

    def alive(self) -> bool:
        return not self._dead

    def spawn(self, spec_path: str, argv: list[str], cwd: str, env: dict) -> int:
        req = _request(spec_path, argv, cwd, env)
        with self._io:
            try:
                self.sock.sendall(req)
                while b"\n" not in self._buf:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise OSError("the kernel template closed the connection")
                    self._buf += chunk
            except OSError:
                self._dead = True
                raise
            line, self._buf = self._buf.split(b"\n", 1)
        return _pid(line)

    def close(self) -> None:
        self._dead = True
        self.sock.close()


def server_for(modules: tuple[str, ...], shared: str | None = None) -> ForkServer | TemplateClient | None:
    """The template for ``modules``: the run's shared one at socket ``shared`` if it answers, else this
    process's own, started on first use; None where forking is not available."""
    key = tuple(modules)
    with _lock:
        if shared is not None:
            srv = _servers.get((key, shared))
            if srv is not None and srv.alive():
                return srv
            if (key, shared) not in _servers and supported():
                try:
                    srv = TemplateClient(shared)
                except OSError:
                    srv = None
                _servers[(key, shared)] = srv
                if srv is not None:
                    _register_close()
                    return srv
        srv = _servers.get(key)
        if srv is not None and srv.alive():
            return srv
        if key in _servers and srv is None:
            return None  # it failed to start before: do not pay for it again
        if not supported():
            _servers[key] = None
            return None
        try:
            srv = ForkServer(key)
        except OSError:
            srv = None
        _servers[key] = srv
        _register_close()
        return srv


_registered = False


def _register_close() -> None:
    global _registered
    if not _registered:
        _registered = True
        # the grader's side only: the template process (this module as __main__) and the kernels forked
        # from it must not carry multiprocessing's exit hooks
        import atexit
        import multiprocessing.util


        atexit.register(close_all)
        multiprocessing.util.Finalize(None, close_all, exitpriority=5)  # pool workers leave by os._exit


def close_all() -> None:
    with _lock:
        while _servers:
            _, srv = _servers.popitem()
            if srv is not None:
                srv.close()


class ForkedProcess:
    """What jupyter_client's LocalProvisioner needs of a ``Popen``, for a process that is not our child."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd, self.returncode = None, -1

    def poll(self) -> int | None:
        if self.returncode is None and self._fd is not None:
            r, _, _ = select.select([self._fd], [], [], 0)
            if r:  # the pidfd is readable once the process has exited; its status went to the template
                self.returncode = -1
                os.close(self._fd)
                self._fd = None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0.0)
            if self._fd is not None:
                select.select([self._fd], [], [], 0.5 if left is None else min(left, 0.5))
        return self.returncode if self.returncode is not None else -1

    def send_signal(self, sig: int) -> None:
        if self.poll() is None and self._fd is not None:
            try:
                signal.pidfd_send_signal(self._fd, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _provisioner_class():
    # lazy: jupyter_client is the grader's; the template process (this module as __main__) must not load it
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """Launches the kernel as a fork of the template (``server``) inside the sandbox of ``spec_path``."""

        server: ForkServer | None = None
        spec_path: str | None = None
        forked = False
        parent: Any                 # the KernelManager (autograder.runtime.kernels): its sandbox_cmd
        process: Any                # a ForkedProcess once forked, else LocalProvisioner's Popen

        async def launch_kernel(self, cmd, **kwargs):
            ipk = len(cmd) > 3 and cmd[1:3] == ["-m", "ipykernel_launcher"] and _same_python(cmd[0])
            if self.server is None or self.spec_path is None or not ipk or not self.server.alive():
                return await super().launch_kernel(self.parent.sandbox_cmd(cmd), **kwargs)
            env = kwargs.get("env") or os.environ
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                pid = self.server.spawn(self.spec_path, cmd[3:], cwd, dict(env))
            except (OSError, ValueError):  # the template is gone: this kernel starts the ordinary way
                return await super().launch_kernel(self.parent.sandbox_cmd(cmd), **kwargs)
            self.process = ForkedProcess(pid)
            self.pid = self.pgid = pid  # the child starts its own session
            self.cwd = cwd
            self.forked = True
            return self.connection_info

    return ForkProvisioner


def _same_python(exe: str) -> bool:
    try:
        return os.path.samefile(exe, sys.executable)
    except OSError:
        return False


_PROVISIONER = None


def provisioner_for(km: Any, server: ForkServer | TemplateClient, spec_path: str) -> Any:
    """A ForkProvisioner for kernel manager ``km`` (set as ``km.provisioner`` before starting it)."""
    global _PROVISIONER
    if _PROVISIONER is None:
        _PROVISIONER = _provisioner_class()

    km.kernel_id = km.kernel_id or str(uuid.uuid4())
    prov = _PROVISIONER(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    prov.server, prov.spec_path = server, spec_path
    return prov


# ---------------------------------------------------------------- the template (runs in its own process)

def _set_pdeathsig() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(req: dict, template_pid: int) -> None:  # pragma: no cover - runs in the forked kernel
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # nothing may reach the template's answer pipe
    os.closerange(3, 1 << 16)
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])

    spec = json.loads(Path(req["spec"]).read_text())
    spec["die_with_parent"] = True
    env = sandbox.enter(spec)
    os.environ.clear()
    os.environ.update(env)
    _set_pdeathsig()  # after the uid switch, which clears it
    # the parent is the template; in a PID namespace it is the namespace's init (which dies with the
    # waiter, which dies with the template)
    if not spec.get("pid_namespace") and os.getppid() != template_pid:
        os._exit(1)

    tempfile.tempdir = None  # TMPDIR is the kernel's own directory now
    # a fresh interpreter draws fresh seeds; so does a fork (random does this itself)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        try:
            sys.modules["torch"].seed()
        except Exception:
            pass
    # sys.path is the interpreter's own, as ipykernel_launcher leaves it; IPython adds '' (the working dir)
    sys.argv = [sys.executable, *req["argv"]]
    # in the forked kernel: ipykernel was loaded by the template (_serve), never by the grader
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _fork_one(line: bytes, me: int) -> bytes:  # pragma: no cover - runs in the template process
    """Fork a kernel for one request line; the template's answer line (the child never returns)."""
    try:
        req = json.loads(line)
        pid = os.fork()
    except Exception as exc:
        return (json.dumps({"error": f"{exc.__class__.__name__}: {exc}"}) + "\n").encode()
    if pid == 0:
        code = 1
        try:
            _child(req, me)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            try:
                Path(req["cwd"], ".kernel", "kernel.log").write_text(traceback.format_exc())
            except Exception:
                pass
        finally:
            os._exit(code)
    return (json.dumps({"pid": pid}) + "\n").encode()


def _serve(modules: list[str], listen: str | None = None) -> None:  # pragma: no cover - runs in the template

    # The template leaves when its starter closes the pipe or dies (end of input below); not by
    # PR_SET_PDEATHSIG, which fires when the *thread* that started it ends (a Dask worker's pool thread).
    srv = None
    if listen:  # listening before the imports: workers connect at once, their first answer waits for them
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is the grader's alone (0600)
        try:
            srv.bind(listen)
        finally:
            os.umask(old)
        srv.listen(64)
    sys.path[:] = [p for p in sys.path if p not in ("", "/", os.getcwd())]
    # the template's own imports, after sys.path lost the working directory: every forked kernel inherits them
    import ipykernel.ipkernel
    import ipykernel.kernelapp
    import ipykernel.zmqshell  # noqa: F401

    for mod in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(mod)
        except Exception:
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the forked kernels
    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    me = os.getpid()
    if srv is None:
        for line in sys.stdin.buffer:
            out.write(_fork_one(line, me))
            out.flush()
        return

    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ, None)
    sel.register(0, selectors.EVENT_READ, None)
    bufs: dict = {}
    try:
        while True:
            for key, _ in sel.select():
                if key.fileobj is srv:
                    conn, _ = srv.accept()
                    bufs[conn] = b""
                    sel.register(conn, selectors.EVENT_READ, None)
                elif key.fileobj == 0:
                    if not os.read(0, 4096):
                        return  # the grading run closed the pipe, or died
                else:
                    conn = key.fileobj  # type: ignore[assignment]  # a connection registered above

                    try:
                        data = conn.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(conn)
                        conn.close()
                        bufs.pop(conn, None)
                        continue
                    bufs[conn] += data
                    while b"\n" in bufs[conn]:
                        line, bufs[conn] = bufs[conn].split(b"\n", 1)
                        try:
                            conn.sendall(_fork_one(line, me))
                        except OSError:
                            break
    finally:
        try:
            if listen:
                os.unlink(listen)
        except OSError:
            pass


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) < 2 or sys.argv[1] != MARK:
        sys.exit(f"usage: python -m autograder.runtime.forkserver {MARK} [--listen SOCKET] MODULE ...")
    args = sys.argv[2:]
    path = None
    if args[:1] == ["--listen"]:
        path, args = args[1], args[2:]
    _serve(args, path)
