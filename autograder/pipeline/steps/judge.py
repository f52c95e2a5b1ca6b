"""The judge: runs a unit's test cells in the grader's process, against a student's kernel.

A test cell (visible and hidden tests) never runs in the student's kernel.
The judge runs it here, in a namespace where the setup cell ran and where each
name the test uses that the judge does not define is a proxy for the student's
name in the kernel: calling it sends the arguments as data
(:mod:`course_lib.wire`) to the kernel's agent (:mod:`course_lib.agent`), the
student's code runs there, and the result comes back as data.  What the judge
compares is data it decoded itself (JSON and ``.npy`` without pickle), so
nothing the submission does in its own process can change a verdict: it can
only give different answers.

What this module offers:

- :class:`Link`: the judge's side of the conversation (encoding what it sends,
  decoding what comes back, callbacks, in-place changes copied back, the
  student's warnings, deadlines);
- :class:`KernelFunction`, :class:`Remote`, :class:`RemoteRecord`: the proxies;
- :class:`Judge`: the namespace, the setup, one grade cell at a time, with the
  earlier tasks' functions answered by the instructor's solution
  (:meth:`Judge.use_reference`), and the verdict as nbgrader outputs.

The rules a test must follow to run here are in ``docs/judge-rules.md``.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import io
import itertools
import pickle
import re
import select
import socket
import sys
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from nbformat.v4 import new_output

import course_lib.grading as grading
from autograder.cells import forbidden_names_used, python_source, test_id
from course_lib import wire
from course_lib.agent import (
    BUILTIN_EXCEPTIONS,
    Agent,
    Channel,
    DirectTransport,
    RemoteError,
    _changed,
    _shift,
    _track,
    raise_error,
)
from course_lib.grading import Measurement

__all__ = ["Link", "Judge", "Remote", "RemoteRecord", "KernelFunction", "CellVerdict", "JudgeTimeout",
           "StudentWarning", "TEST_MODULE"]

TEST_MODULE = "__course_test__"   # the __name__ of the namespace test cells run in
# a module of that name must exist for what looks a class's module up (dataclasses, typing); it stays
# empty: what a test defines lives in its own namespace
sys.modules.setdefault(TEST_MODULE, types.ModuleType(TEST_MODULE))


class JudgeTimeout(TimeoutError):
    """The kernel did not answer before the test's deadline."""


class StudentWarning(UserWarning):
    """A warning the student's code emitted while a test called it (re-emitted in the judge)."""


# ------------------------------------------------------------------ transport with a deadline


class DeadlineSocketTransport:
    """Frames over the agent's socket, where every receive gives up at ``deadline`` (monotonic)."""

    def __init__(self, sock: socket.socket, max_bytes: int = wire.MAX_FRAME_BYTES):
        self.sock = sock
        self.sock.setblocking(True)
        self.max_bytes = max_bytes
        self.deadline: float | None = None
        self.broken: str | None = None

    def send(self, frame: bytes) -> None:
        if self.broken:
            raise ConnectionError(self.broken)
        self.sock.settimeout(None if self.deadline is None else max(0.05, self.deadline - time.monotonic()))
        try:
            wire.write_frame(self.sock, frame)
        except TimeoutError:
            raise JudgeTimeout("the student's kernel stopped reading the grader's requests") from None
        except OSError as exc:
            self.broken = f"the connection to the student's kernel broke ({exc.__class__.__name__})"
            raise ConnectionError(self.broken) from None

    def recv(self) -> bytes:
        if self.broken:
            raise ConnectionError(self.broken)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise JudgeTimeout("the student's code did not answer in time")
            self.sock.settimeout(max(0.05, self.deadline - time.monotonic()))
        try:
            return wire.read_frame(self.sock, self.max_bytes)
        except TimeoutError:
            self.broken = "the student's kernel stopped in the middle of an answer"
            raise JudgeTimeout(self.broken) from None
        except wire.WireError as exc:  # an oversized frame: the stream can not be trusted after it
            self.broken = str(exc)
            raise
        except OSError as exc:
            self.broken = f"the connection to the student's kernel broke ({exc.__class__.__name__})"
            raise ConnectionError(self.broken) from None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------ proxies


class KernelFunction:
    """A callable name in the student's ``__main__`` (a function or a class), looked up at each call."""

    __slots__ = ("_link", "_name")

    def __init__(self, link: Link, name: str):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args, **kwargs):
        return self._link.call({"$g": self._name}, None, args, kwargs, label=self._name)

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self._link.getattr({"$g": self._name}, attr)

    def __setattr__(self, attr, value):
        raise AttributeError("the student's names are read-only in a test")

    def __repr__(self) -> str:
        return f"<the student's {self._name}>"


class Remote:
    """An object that stays in the student's kernel: a model, an optimiser, an instance of a
    student's class.  It can be called, its methods called, its attributes read (``len``, iteration
    and indexing too); every answer is data or another ``Remote``.  It is never converted to a
    number or an array here (no ``__array__``, ``__float__``, ``__eq__``...)."""

    __slots__ = ("_link", "_id", "_type", "__weakref__")

    def __init__(self, link: Link, oid: int, type_name: str):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", oid)
        object.__setattr__(self, "_type", type_name)

    def __call__(self, *args, **kwargs):
        return self._link.call({"$h": [self._id]}, None, args, kwargs, label=self._type)

    def __getattr__(self, attr: str):
        # an attribute read: data (``model.training``) or another Remote (a bound method, called next)
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self._link.getattr({"$h": [self._id]}, attr)

    def __setattr__(self, attr, value):
        # a test may set an attribute of a student's object (``out.grad = 1.0``): the value as data
        if attr.startswith("__"):
            raise AttributeError(attr)
        tree, bufs = self._link.encode(value)
        self._link.request_value("setattr", bufs, target={"$h": [self._id]}, name=attr, value=tree)

    def _op(self, name: str, *args):
        return self._link.call({"$h": [self._id]}, name, args, {}, label=f"{self._type}.{name}")

    # Arithmetic runs the student's operator in the kernel and gives another Remote (or data): a test
    # can build an expression from a student's objects (``a * b + c``). Comparisons, truth values and
    # conversions (``==``, ``bool``, ``float``, ``__array__``) are deliberately NOT forwarded: a verdict
    # never rests on what a student's object says about itself.
    def __add__(self, o):
        return self._op("__add__", o)

    def __radd__(self, o):
        return self._op("__radd__", o)

    def __sub__(self, o):
        return self._op("__sub__", o)

    def __rsub__(self, o):
        return self._op("__rsub__", o)

    def __mul__(self, o):
        return self._op("__mul__", o)

    def __rmul__(self, o):
        return self._op("__rmul__", o)

    def __truediv__(self, o):
        return self._op("__truediv__", o)

    def __rtruediv__(self, o):
        return self._op("__rtruediv__", o)

    def __pow__(self, o):
        return self._op("__pow__", o)

    def __rpow__(self, o):
        return self._op("__rpow__", o)

    def __matmul__(self, o):
        return self._op("__matmul__", o)

    def __neg__(self):
        return self._op("__neg__")

    def __next__(self):
        # a generator of the student's (``model.parameters()``): its next item, as data
        return self._op("__next__")

    __hash__ = object.__hash__

    def __len__(self) -> int:
        n = self._link.request_value("len", target={"$h": [self._id]})
        if type(n) is not int or n < 0:
            raise TypeError(f"len() of the student's {self._type} did not give a non-negative int")
        return n

    def __iter__(self):
        items = self._link.request_value("iter", target={"$h": [self._id]})
        if type(items) is not list:
            raise TypeError(f"the student's {self._type} did not iterate to a list")
        return iter(items)

    def __getitem__(self, key):
        tree, bufs = self._link.encode(key)
        return self._link.request_value("getitem", bufs, target={"$h": [self._id]}, key=tree)

    def __repr__(self) -> str:
        return f"<the student's {self._type}>"

    @property
    def type_name(self) -> str:
        return self._type


class RemoteRecord:
    """A dataclass instance the student's code returned: the original object stays in the kernel
    (passed back as itself); its fields are read from there as data (``cache.x``)."""

    __slots__ = ("_remote", "_fields", "_type")

    def __init__(self, remote: Remote, type_name: str, fields: dict):
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_fields", fields)

    def __getattr__(self, attr: str):
        # read now, from the kernel: the object may have changed since it was returned (a backward
        # pass that writes into its cache must be seen doing so)
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._remote, attr)

    def fields_when_returned(self) -> dict:
        """The record's fields as they were when the student's code returned it."""
        return dict(object.__getattribute__(self, "_fields"))

    def __setattr__(self, attr, value):
        raise AttributeError("a record returned by the student's code is read-only in a test")

    def __repr__(self) -> str:
        return f"<the student's {self._type}({', '.join(self._fields)})>"


# ------------------------------------------------------------------ the link


def _is_test_callable(obj) -> bool:
    """A function the test defined (it runs here, as a callback), not a library function (pickled)."""
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        mod = getattr(obj, "__module__", None)
        return mod in (TEST_MODULE, None, "__main__") or obj.__name__ == "<lambda>"
    if isinstance(obj, __import__("functools").partial):
        return True
    return False


class Link:
    """The judge's side of the conversation with one kernel's agent."""

    def __init__(self, transport: Any):
        self.transport = transport
        self.channel = Channel(transport, self._dispatch)
        self.callbacks: dict[int, Callable] = {}
        self._cb_ids = itertools.count(1)
        self.callback_failures: list[BaseException] = []
        self.calls = 0
        self.remotes: dict[int, Remote] = {}   # handle -> its one Remote (identity follows the kernel's)
        # a timeout or a broken connection ends the conversation for this cell, even if the test
        # caught the exception (a test expecting an error must not pass on a kernel that hangs)
        self.fault: BaseException | None = None

    # -- what the judge sends
    def encode(self, value: Any) -> tuple[Any, list[bytes]]:
        enc = wire.Encoder()

        def on_object(obj):
            if isinstance(obj, KernelFunction):
                return {"$g": obj._name}
            if isinstance(obj, Remote):
                return {"$h": [obj._id]}
            if isinstance(obj, RemoteRecord):
                return {"$h": [obj._remote._id]}
            if _is_test_callable(obj):
                cid = next(self._cb_ids)
                self.callbacks[cid] = obj
                return {"$cb": cid}
            if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and \
                    getattr(type(obj), "__module__", None) == TEST_MODULE:
                # a task's own dataclass made on this side (a cache from the instructor's forward pass):
                # sent by name and fields, rebuilt as the kernel's class of that name
                return {"$dc": [type(obj).__name__,
                                [[f.name, enc.encode(getattr(obj, f.name), 1)] for f in dataclasses.fields(obj)]]}
            try:
                data = pickle.dumps(obj, protocol=5)
            except Exception as exc:
                raise wire.WireError(f"the test can not send a {type(obj).__qualname__} to the student's "
                                     f"code ({exc.__class__.__name__}: {str(exc)[:100]})") from None
            return {"$p": enc.buffer(data)}

        enc.on_object = on_object
        return enc.encode(value), enc.buffers

    # -- what the kernel sends
    def decode(self, tree: Any, buffers: list[bytes]) -> Any:
        def on_tag(tag, payload, sub):
            if tag == "$h":
                if type(payload) is not list or len(payload) != 2 or type(payload[0]) is not int:
                    raise wire.WireError("malformed handle")
                remote = self.remotes.get(payload[0])
                if remote is None:
                    remote = self.remotes[payload[0]] = Remote(self, payload[0], shown_name(str(payload[1])[:200]))
                return remote
            if tag == "$rec":
                if type(payload) is not list or len(payload) != 4:
                    raise wire.WireError("malformed record")
                name, fields, values, handle = payload
                if type(fields) is not list or type(values) is not list or len(fields) != len(values) \
                        or not all(type(f) is str for f in fields):
                    raise wire.WireError("malformed record")
                remote = on_tag("$h", handle, sub)
                return RemoteRecord(remote, shown_name(str(name)[:200]), {f: sub(v) for f, v in zip(fields, values)})
            raise wire.WireError("the kernel sent a tag it may not send")

        return wire.decode(tree, buffers, on_tag=on_tag)

    # -- requests
    def _request(self, header: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        self.calls += 1
        if self.fault is not None:
            raise self.fault
        try:
            return self.channel.request(header, buffers)
        except wire.WireError as exc:
            if getattr(self.transport, "broken", None):
                self.fault = ConnectionError(f"the student's kernel sent something that is not data: {exc}")
                raise self.fault from None
            raise AssertionError(f"the student's code gave an answer that is not data: {exc}") from None
        except (JudgeTimeout, ConnectionError) as exc:
            self.fault = exc
            raise

    def request_value(self, op: str, buffers: list[bytes] | None = None, **fields: Any) -> Any:
        h, b = self._request(dict(fields, op=op), buffers or [])
        return self._value(h, b)

    def _value(self, h, b):
        if "error" in h:
            _raise_from_kernel(h["error"])
        try:
            return self.decode(h.get("value"), b)
        except wire.WireError as exc:
            raise AssertionError(f"the student's code returned something that is not data: {exc}") from None

    def names(self, names: list[str]) -> dict:
        kinds = self.request_value("names", names=list(names))
        return kinds if type(kinds) is dict else {}

    def get(self, name: str) -> Any:
        return self.request_value("get", name=name)

    def getattr(self, target: dict, attr: str) -> Any:
        return self.request_value("getattr", target=target, name=attr)

    def bind(self, name: str, value: Any) -> None:
        tree, bufs = self.encode(value)
        self.request_value("bind", bufs, name=name, value=tree)

    def unbind(self, names: list[str] | None = None) -> None:
        """Undo binds: of ``names`` one level each, or (None) every bind since the first."""
        self.request_value("unbind", names=names)

    def call(self, target: dict, attr: str | None, args: tuple, kwargs: dict, *,
             label: str = "function") -> Any:
        """Call the student's ``target`` (``attr``: a method of it) with data; return data.

        In-place changes the call made to array or tensor arguments are copied back into the
        judge's own arguments; warnings the code emitted are re-emitted here as
        :class:`StudentWarning`; an ``AssertionError`` raised by a callback of the test fails the
        test even if the student's code caught it."""
        sent = [list(args), dict(kwargs)]
        tree, bufs = self.encode(sent)
        failures_before = len(self.callback_failures)
        h, b = self._request({"op": "call", "target": target, "attr": attr, "args": tree}, bufs)
        for cat, msg in (h.get("warnings") or [])[:20]:
            warnings.warn(f"{shown_name(label)}: {_shown_warning(cat, msg)}", StudentWarning, stacklevel=3)
        if len(self.callback_failures) > failures_before:
            raise self.callback_failures[failures_before]
        result = self._value(h, b)
        if h.get("mutated"):
            try:
                changes = self.decode(h["mutated"], b)
            except wire.WireError:
                changes = []
            if type(changes) is list:
                _reflect(sent, changes, label)
        return result

    # -- requests from the kernel: callbacks into the test
    def _dispatch(self, h: dict, b: list[bytes]) -> tuple[dict, list[bytes]]:
        if h.get("op") != "callback" or h.get("cb") not in self.callbacks:
            return {"error": {"type": "RuntimeError", "message": "the judge was asked something it does not answer"}}, []
        fn = self.callbacks[h["cb"]]
        try:
            args, kwargs = self.decode(h.get("payload"), b)
            if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise wire.WireError("malformed arguments")
            tracked = _track([args, kwargs])
            result = fn(*args, **kwargs)
            tree, bufs = self.encode(result)
            reply: dict = {"value": tree}
            changed = _changed(tracked)
            if changed:   # in-place changes go back, as the kernel's own do (a reference batch norm's bn_param)
                mtree, mbufs = self.encode([[path, value] for path, value in changed])
                reply["mutated"] = _shift(mtree, len(bufs))
                bufs = bufs + mbufs
            return reply, bufs
        except AssertionError as exc:
            # the verdict keeps the test's message; the kernel, which could read expected values in it, is
            # told only that a check failed
            self.callback_failures.append(exc)
            return {"error": {"type": "AssertionError", "message": "a check of the test failed (its message is in "
                                                                  "the grader's verdict)"}}, []
        except wire.WireError as exc:
            self.callback_failures.append(AssertionError(
                f"the student's code passed something that is not data to the test's function: {exc}"))
            return {"error": {"type": "TypeError", "message": str(exc)[:2000]}}, []
        except Exception as exc:
            name = type(exc).__name__ if type(exc).__name__ in BUILTIN_EXCEPTIONS else "RuntimeError"
            return {"error": {"type": name, "message": f"{type(exc).__name__}: {exc}"[:2000]}}, []

    def end(self) -> None:
        """Tell the kernel's agent to leave its serve loop."""
        self.channel.request({"op": "end"}, [])


def _reflect(sent: list, changes: list, label: str) -> None:
    """Copy the kernel's in-place changes of the arguments into the judge's own arguments: arrays and
    tensors element by element, lists and dicts by their new contents."""
    for change in changes[:256]:
        if type(change) is not list or len(change) != 2 or type(change[0]) is not list:
            continue
        path, new = change
        target: Any = sent
        try:
            for key in path:
                target = target[key]
        except (KeyError, IndexError, TypeError):
            continue
        if type(target) is dict and type(new) is dict:
            target.clear()
            target.update(new)
            continue
        if type(target) is list and type(new) is list:
            target[:] = new
            continue
        if isinstance(target, np.ndarray) and isinstance(new, np.ndarray):
            if target.shape != new.shape:
                raise AssertionError(f"{label} changed the shape of its argument {_where(path)} in place "
                                     f"(from {target.shape} to {new.shape}); it must not modify its inputs")
            if target.flags.writeable:
                np.copyto(target, new, casting="unsafe")
            continue
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(target, torch.Tensor):
            new_t = torch.as_tensor(np.asarray(new))
            if tuple(target.shape) != tuple(new_t.shape):
                raise AssertionError(f"{label} changed the shape of its argument {_where(path)} in place; "
                                     "it must not modify its inputs")
            with torch.no_grad():
                target.copy_(new_t.to(target.dtype))


def _where(path: list) -> str:
    if len(path) >= 2 and path[0] == 0:
        return f"#{path[1] + 1}" + "".join(f"[{k!r}]" for k in path[2:])
    if len(path) >= 2 and path[0] == 1:
        return f"{path[1]}=" + "".join(f"[{k!r}]" for k in path[2:])
    return str(path)


def direct_link(namespace: dict) -> tuple[Link, Agent]:
    """A :class:`Link` to an :class:`course_lib.agent.Agent` on ``namespace`` in this process (the
    course's unit tests): the same encoding and proxies as grading, without a kernel."""
    agent = Agent(namespace)
    judge_side, kernel_side = DirectTransport(), DirectTransport()
    link = Link(judge_side)
    agent.channel = Channel(kernel_side, agent.dispatch)
    judge_side.peer = agent.channel
    kernel_side.peer = link.channel
    return link, agent


# ------------------------------------------------------------------ the judge


@dataclass
class CellVerdict:
    """The outcome of one grade cell."""

    grade_id: str
    passed: bool
    stdout: str = ""
    ename: str | None = None
    evalue: str | None = None
    partial: float | None = None      # the number the cell's last expression gave (nbgrader's partial credit)
    seconds: float = 0.0
    calls: int = 0
    timed_out: bool = False

    def outputs(self) -> list:
        """The cell's outputs as nbgrader reads them: stdout, then the error or the partial score."""
        outs = []
        if self.stdout:
            outs.append(new_output("stream", name="stdout", text=self.stdout))
        if not self.passed:
            outs.append(new_output("error", ename=self.ename or "Error", evalue=self.evalue or "",
                                   traceback=[f"{self.ename}: {self.evalue}"]))
        elif self.partial is not None:
            outs.append(new_output("execute_result", data={"text/plain": repr(self.partial)}, execution_count=None))
        return outs


class _TestNamespace(dict):
    """The namespace a test cell runs in: a name it uses and does not define comes from the kernel
    (or, for an earlier task's function, from the instructor's solution)."""

    judge: Judge

    def __missing__(self, name: str):
        if hasattr(builtins, name) or name.startswith("__"):
            raise KeyError(name)
        value = self.judge.resolve(name)
        if value is _UNKNOWN:
            raise KeyError(name)
        self[name] = value
        self.judge._lazy[name] = value
        return value


_UNKNOWN = object()
_MAX_STDOUT = 100_000


def _split_last_expression(source: str, filename: str):
    """(code of the cell without its last statement, code of that statement as an expression or
    None): nbgrader's partial credit is the number a test cell's last expression gives."""
    tree = ast.parse(source, filename)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        body = ast.Module(tree.body[:-1], type_ignores=[])
        return compile(body, filename, "exec"), compile(last, filename, "eval")
    return compile(tree, filename, "exec"), None


def shortcut_by_name(task: str, forbidden_names: tuple[str, ...] | list[str],
                     solution_source: str | None) -> CellVerdict | None:
    """The verdict for a task whose submitted solution names a function its text rules out
    (``metadata.course.forbid_names``), read from the solution cell's text; None when it names none."""
    if not forbidden_names or solution_source is None:
        return None
    used = forbidden_names_used(solution_source, forbidden_names)
    if not used:
        return None
    return CellVerdict(test_id(task), passed=False, ename="ShortcutError",
                       evalue=f"{task}: your solution uses {', '.join(used)}, which this task asks you not to use "
                              "(the rule is checked on the text of your solution cell); it earns no points")


def top_level_functions(source: str) -> list[str]:
    """Names of the functions a cell defines at its top level (``def name``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


class Judge:
    """Runs one notebook's grade cells against one kernel.

    ``setup``: the source of the notebook's locked setup cell (run here first, so the test's
    data and helpers are the judge's own).  ``link``: a :class:`Link` to the kernel's agent.
    ``reference``: the instructor's solution cells ``{task: source}``, in order, for
    :meth:`use_reference`.  ``meter``: a context-manager factory measuring the kernel (backs
    :func:`course_lib.grading.measure` while a test runs).
    """

    def __init__(self, link: Link, setup: str, *, reference: dict[str, str] | None = None,
                 meter: Callable | None = None, extra_setup: list[str] | None = None):
        self.link = link
        self.meter = meter
        self._lazy: dict[str, Any] = {}
        self._reference_src = dict(reference or {})
        self._reference_ns: dict | None = None
        self._swapped: dict[str, Callable] = {}
        self.ns = _TestNamespace()
        self.ns.judge = self
        self.ns.update({"__name__": TEST_MODULE, "__builtins__": builtins})
        self.setup_error: str | None = None
        self._setup_sources = [setup] + list(extra_setup or [])
        for src in self._setup_sources:
            self._run_trusted(src, self.ns, "setup")

    def _run_trusted(self, source: str, ns: dict, what: str) -> None:
        """Run instructor code (the setup) here; its output is not the student's business."""
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(python_source(source), f"<{what}>", "exec"), ns)
        except Exception as exc:
            self.setup_error = f"{what} failed in the grader: {exc.__class__.__name__}: {exc}"

    def add_setup(self, source: str) -> None:
        """Run another locked (non-graded) instructor cell here, e.g. a PyTorch task's imports."""
        self._setup_sources.append(source)
        self._run_trusted(source, self.ns, "locked cell")
        if self._reference_ns is not None:   # built before this cell: the instructor's solution needs its names too
            self._run_trusted(source, self._reference_ns, "locked cell (reference)")

    # -- names
    def resolve(self, name: str) -> Any:
        if name in self._swapped:
            return self._swapped[name]
        kinds = self.link.names([name])
        kind = kinds.get(name)
        if kind == "callable":
            return KernelFunction(self.link, name)
        if kind == "data":
            return self.link.get(name)
        return _UNKNOWN

    def _forget_lazy(self) -> None:
        for name, v in self._lazy.items():
            if self.ns.get(name) is v:
                del self.ns[name]
        self._lazy.clear()

    # -- one bug costs one task
    def reference_namespace(self) -> dict:
        """The instructor's solution, run here once (setup, then every solution cell in order)."""
        if self._reference_ns is None:
            ns: dict = {"__name__": TEST_MODULE, "__builtins__": builtins}
            for src in self._setup_sources:
                self._run_trusted(src, ns, "setup (reference)")
            for task, src in self._reference_src.items():
                self._run_trusted(src, ns, f"reference solution of {task}")
            self._reference_ns = ns
        return self._reference_ns

    def use_reference(self, tasks: list[str]) -> list[str]:
        """While the next grade cell runs, the functions the given (earlier) tasks define answer
        with the instructor's solution: in the kernel (a stub that calls back here, so the
        student's later function calling them gets correct answers) and in the test itself.
        Returns the names replaced."""
        names = []
        for task in tasks:
            names += top_level_functions(self._reference_src.get(task, ""))
        if not names:
            return []
        ref = self.reference_namespace()
        for name in names:
            fn = ref.get(name)
            if not callable(fn):
                continue
            self._swapped[name] = fn
            self.link.bind(name, fn)
        return list(self._swapped)

    def _restore_student(self) -> None:
        if self._swapped:
            self._swapped.clear()
            self.link.unbind()

    # -- the test's own access to the kernel's names (course_lib.grading.in_kernel, replace_in_kernel)
    def _kernel_names(self, name: str, replacement=_UNKNOWN):
        if replacement is _UNKNOWN:
            return self.link.get(name)
        if replacement is None:
            self.link.unbind([name])
        else:
            self.link.bind(name, replacement)
        return None

    # -- one grade cell
    def run_cell(self, source: str, grade_id: str, *, deadline: float | None = None,
                 earlier_tasks: list[str] | None = None) -> CellVerdict:
        """Run a test cell (visible and hidden tests) here; the verdict is what it raised (or not)."""
        t0 = time.perf_counter()
        calls0 = self.link.calls
        out = io.StringIO()
        verdict = CellVerdict(grade_id, passed=False)
        self._forget_lazy()
        transport = self.link.transport
        if hasattr(transport, "deadline"):
            transport.deadline = deadline
        old_backend, old_names = grading._MEASURE_BACKEND, grading._KERNEL_NAME_BACKEND
        grading._MEASURE_BACKEND = self.meter
        grading._KERNEL_NAME_BACKEND = self._kernel_names
        try:
            if self.setup_error:
                raise RuntimeError(self.setup_error)
            if earlier_tasks:
                self.use_reference(earlier_tasks)
            body, last = _split_last_expression(python_source(source), f"<{grade_id}>")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                    warnings.catch_warnings(record=True) as caught:
                _python_default_filters()
                exec(body, self.ns)
                if last is not None:
                    result = eval(last, self.ns)
                    if isinstance(result, (int, float, np.integer, np.floating)) and not isinstance(result, bool):
                        verdict.partial = float(result)
            if self.link.fault:
                raise self.link.fault
            if caught:
                w = caught[0]
                who = "your code" if issubclass(w.category, StudentWarning) else "the test"
                raise _Warned(f"{who} emitted a warning while this test ran ({w.category.__name__}: {w.message}); "
                              "a test cell with warnings scores 0: make the code warning-free")
            verdict.passed = True
        except (JudgeTimeout, ConnectionError) as exc:
            verdict.ename, verdict.evalue = type(exc).__name__, str(exc)
            verdict.timed_out = isinstance(exc, JudgeTimeout)
        except _Warned as exc:
            verdict.ename, verdict.evalue = "Warning", str(exc)
        except BaseException as exc:
            if isinstance(exc, (SystemExit, KeyboardInterrupt)) and not isinstance(exc, KeyboardInterrupt):
                raise
            if getattr(exc, _FROM_KERNEL, False):
                verdict.ename, verdict.evalue = _kernel_error(exc)
            else:
                verdict.ename = type(exc).__name__ if not isinstance(exc, RemoteError) else exc.type_name
                verdict.evalue = _message(exc)
        finally:
            grading._MEASURE_BACKEND, grading._KERNEL_NAME_BACKEND = old_backend, old_names
            if self.link.fault is None:
                if hasattr(transport, "deadline"):
                    transport.deadline = time.monotonic() + 10
                try:
                    self._restore_student()
                except Exception:
                    pass
            if hasattr(transport, "deadline"):
                transport.deadline = None
        text = out.getvalue()
        verdict.stdout = text if len(text) <= _MAX_STDOUT else text[:_MAX_STDOUT] + "\n[output truncated]\n"
        verdict.seconds = time.perf_counter() - t0
        verdict.calls = self.link.calls - calls0
        return verdict


class _Warned(AssertionError):
    pass


def _python_default_filters() -> None:
    """Python's own default warning filters (whatever pytest or the worker set), with every
    warning of the student's code shown: what a fresh kernel would print on stderr."""
    warnings.resetwarnings()
    for cat in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", cat)
    warnings.simplefilter("default")
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    warnings.simplefilter("ignore", ImportWarning)
    warnings.simplefilter("ignore", ResourceWarning)
    warnings.simplefilter("always", StudentWarning)


# ------------------------------------------------------------------ what a verdict says of the student's errors
#
# An exception or a warning the student's code raises while a hidden test calls it is text the
# submission wrote, with the hidden inputs in reach: `raise ValueError(repr(x))` would carry them
# into the feedback, and so would a class named after them.  So the verdict shows only what the
# judge can vouch for: a built-in type's name, NumPy's fixed floating-point warnings, and a
# message of its own.  (The test's own messages, raised here in the judge, are shown as written.)

_FROM_KERNEL = "course_from_kernel"
_NUMPY_WARNING = re.compile(r"(overflow|underflow|divide by zero|invalid value) encountered in (scalar )?([a-z_0-9]{1,20})")
_UFUNCS = frozenset(name for name in dir(np) if isinstance(getattr(np, name, None), np.ufunc)) | {"reduce", "cast"}
_BUILTIN_WARNINGS = frozenset(name for name in dir(builtins)
                              if isinstance(getattr(builtins, name), type) and issubclass(getattr(builtins, name), Warning))


def _raise_from_kernel(err: Any) -> None:
    """Raise the exception the kernel reports, marked as the student's code's (see above)."""
    try:
        raise_error(err)
    except BaseException as exc:
        setattr(exc, _FROM_KERNEL, True)
        raise


def shown_name(name: str) -> str:
    """A name the kernel chose (a type of the student's) as feedback may show it: a short dotted
    identifier, else ``object``: a name is text the submission wrote."""
    name = str(name)
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,47}", name) else "object"


def _kernel_error(exc: BaseException) -> tuple[str, str]:
    """(ename, evalue) of a verdict for an exception the student's code raised during the test."""
    name = exc.type_name if isinstance(exc, RemoteError) else type(exc).__name__
    if name == "WireError":
        # the agent's refusal of a result too large to send, recognised by its fixed words (the kernel's
        # message is the submission's text: only these exact ones are shown)
        message = getattr(exc, "message", None) if isinstance(exc, RemoteError) else str(exc)
        if message in (f"more than {wire.MAX_ITEMS} items", f"nested deeper than {wire.MAX_DEPTH} levels"):
            return "ValueError", (f"your code returned a result too large to be an answer ({message} in lists, "
                                  "tuples and dicts); return a plain NumPy array or tensor, or a smaller result")
        return "TypeError", ("your code returned something that is not data (data: numbers, bools, strings, "
                             "plain NumPy arrays and tensors, and lists, tuples or dicts of them; not an "
                             "ndarray subclass or an object of a class of its own); return plain results")
    if name == "NotImplementedError":
        return name, "your code still raises NotImplementedError: the task (or a function it calls) is not written yet"
    if name in ("ImportError", "ModuleNotFoundError"):
        # the grader's own refusal (a module the task forbids) and Python's "No module named",
        # recognised by their fixed words around a module's name
        from autograder.runtime.sandbox import FORBID_MESSAGE

        message = getattr(exc, "message", None) if isinstance(exc, RemoteError) else str(exc)
        before, _, after = FORBID_MESSAGE.partition("{module}")
        for pattern in (re.escape(before) + r"([\w.]+)" + re.escape(after), r"No module named '([\w.]+)'"):
            m = re.fullmatch(pattern, str(message))
            if m and shown_name(m.group(1)) == m.group(1):
                return name, str(message)
    if name not in BUILTIN_EXCEPTIONS:
        return "Exception", ("your code raised an exception of a class of its own while the test called it; "
                             "its name and message are not shown, since they could carry the test's hidden "
                             "inputs: run your function on the visible tests' inputs and on cases of your own")
    return name, (f"your code raised {name} while the test called it; its message is not shown, since it could "
                  "carry the test's hidden inputs: run your function on the visible tests' inputs and on "
                  "cases of your own (edge cases: zeros, ties, one sample, large values) to see it")


def _shown_warning(category: Any, message: Any) -> str:
    """What a verdict says of a warning of the student's code: the category when it is built-in, and
    the message when it is one of NumPy's fixed floating-point warnings."""
    category, message = str(category)[:100], str(message)[:500]
    if category not in _BUILTIN_WARNINGS:
        return "a warning of a class of its own (its text is not shown)"
    m = _NUMPY_WARNING.fullmatch(message)
    if m and m.group(3) in _UFUNCS:
        return f"{category}: {message}"
    return f"{category} (its text is not shown, since it could carry the test's hidden inputs)"


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    if isinstance(exc, NameError):
        return f"{text} (did the cell that defines it run without errors?)"
    if isinstance(exc, KeyError):
        return f"KeyError: {text}"
    return text[:4000]


# ------------------------------------------------------------------ measuring the kernel from outside


class KernelMeter:
    """Backs :func:`course_lib.grading.measure` in the judge: CPU time and peak memory of the kernel,
    read from its cgroups (cpuacct, memory) when it has them, else from ``/proc`` (``psutil``'s CPU
    times; ``VmHWM`` after resetting it through ``clear_refs``).  Never asked of the kernel itself."""

    def __init__(self, pid: int | None, sandbox: Any = None):
        self.pid = pid
        self.sandbox = sandbox

    @contextlib.contextmanager
    def __call__(self):
        m = Measurement()
        mem = self.sandbox.cgroup("memory") if self.sandbox is not None else None
        cpu = self.sandbox.cgroup("cpuacct") if self.sandbox is not None else None
        base = self._mem_start(mem)
        c0 = self._cpu(cpu)
        t0 = time.perf_counter()
        try:
            yield m
        finally:
            m.wall_s = time.perf_counter() - t0
            c1 = self._cpu(cpu)
            m.cpu_s = max(0.0, c1 - c0) if c0 is not None and c1 is not None else float("nan")
            peak = self._mem_peak(mem)
            m.peak_mb = max(0.0, (peak - base) / 2**20) if peak is not None and base is not None else float("nan")
        _ = Path

    def _cpu(self, cg) -> float | None:
        if cg is not None:
            try:
                return int((cg / "cpuacct.usage").read_text()) / 1e9
            except (OSError, ValueError):
                pass
        if self.pid is None:
            return None
        try:
            t = psutil.Process(self.pid).cpu_times()
            return t.user + t.system + t.children_user + t.children_system
        except Exception:
            return None

    def _mem_start(self, cg) -> int | None:
        if cg is not None:
            try:
                (cg / "memory.max_usage_in_bytes").write_text("0")  # the peak restarts from here
                return int((cg / "memory.usage_in_bytes").read_text())
            except (OSError, ValueError):
                pass
        if self.pid is None:
            return None
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as fh:
                fh.write("5")  # reset VmHWM (the peak resident set) to the current resident set
            return _status_kb(self.pid, "VmRSS") * 1024
        except (OSError, ValueError, TypeError):
            return None

    def _mem_peak(self, cg) -> int | None:
        if cg is not None:
            try:
                return int((cg / "memory.max_usage_in_bytes").read_text())
            except (OSError, ValueError):
                pass
        try:
            return _status_kb(self.pid, "VmHWM") * 1024
        except (OSError, ValueError, TypeError):
            return None


def _status_kb(pid, field_name: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise ValueError(field_name)


def meter_for(km: Any) -> KernelMeter:
    """The meter of a kernel started by :mod:`autograder.runtime.kernels` (its sandbox and process)."""
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    pid = getattr(proc, "pid", None) or getattr(prov, "pid", None)
    return KernelMeter(pid, getattr(km, "course_sandbox", None))
