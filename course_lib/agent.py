"""The kernel's side of grading: it answers the judge's questions with data.

While a submission is graded, the grader's *judge* (another process) runs the
test cells and asks this kernel to call the student's functions.  This module,
loaded into the kernel when it starts, answers: it decodes the arguments
(:mod:`course_lib.wire`), calls the function, and sends the result back as
data.  It decides nothing: the judge compares the answers with what it
computed itself.  A submission may change this module as it likes in its own
process; that can only make its own answers wrong.

The same :class:`Agent` runs in-process (no kernel, no socket) in the course's
unit tests, through :class:`Channel` with a direct transport, so that a unit's
tests see exactly what grading sees.
"""
from __future__ import annotations

import builtins
import contextlib
import dataclasses
import importlib.abc
import io
import itertools
import os
import pickle
import socket
import sys
import traceback
import types
import warnings
from collections.abc import Callable
from typing import Any

from . import wire

__all__ = ["Agent", "Channel", "SocketTransport", "DirectTransport", "connect", "serve", "RemoteError"]

#: Built-in exceptions that cross as themselves (others arrive as ``RemoteError``).
BUILTIN_EXCEPTIONS = {
    name: getattr(builtins, name) for name in (
        "ArithmeticError", "AssertionError", "AttributeError", "EOFError", "FloatingPointError",
        "ImportError", "IndexError", "KeyError", "LookupError", "MemoryError", "ModuleNotFoundError",
        "NameError", "NotImplementedError", "OverflowError", "RecursionError", "RuntimeError",
        "StopIteration", "TimeoutError", "TypeError", "UnboundLocalError", "ValueError",
        "ZeroDivisionError", "KeyboardInterrupt", "OSError", "Exception")
}
_MAX_MESSAGE = 2000
_MAX_ITER = 100_000


class RemoteError(RuntimeError):
    """An exception of a type that does not cross as itself (a student's own class, a library's)."""

    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message


def error_header(exc: BaseException) -> dict:
    """What an exception looks like on the wire: its type name, message and where it happened."""
    tb = traceback.extract_tb(exc.__traceback__)[-4:]
    where = [f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in tb]
    try:
        message = str(exc)
    except Exception:
        message = "<the exception's message could not be read>"
    return {"type": type(exc).__name__[:100], "message": message[:_MAX_MESSAGE], "where": where}


def raise_error(err: Any) -> None:
    """Raise the exception an ``error`` header describes (built-in types as themselves)."""
    if type(err) is not dict:
        raise RemoteError("Error", "malformed error")
    name = str(err.get("type", "Error"))[:100]
    message = str(err.get("message", ""))[:_MAX_MESSAGE]
    cls = BUILTIN_EXCEPTIONS.get(name)
    if cls is None:
        raise RemoteError(name, message)
    if cls is KeyError:
        raise KeyError(message)
    raise cls(message)


# ------------------------------------------------------------------ transport and channel


class SocketTransport:
    """Frames over a connected stream socket."""

    def __init__(self, sock: socket.socket, max_bytes: int = wire.MAX_FRAME_BYTES):
        self.sock = sock
        self.max_bytes = max_bytes

    def send(self, frame: bytes) -> None:
        wire.write_frame(self.sock, frame)

    def recv(self) -> bytes:
        return wire.read_frame(self.sock, self.max_bytes)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Channel:
    """One side of a conversation in which either side may ask the other a question while it
    answers one (the kernel calls back into the judge while a student's function runs).

    ``dispatch(header, buffers) -> (header, buffers)`` answers an incoming request.
    """

    def __init__(self, transport: Any, dispatch: Callable[[dict, list[bytes]], tuple[dict, list[bytes]]]):
        self.transport = transport
        self.dispatch = dispatch
        self._ids = itertools.count(1)
        self.ended = False

    def request(self, header: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Send a request and answer the other side's requests until its reply comes."""
        rid = next(self._ids)
        header = dict(header, kind="req", id=rid)
        if isinstance(self.transport, DirectTransport):
            return self.transport.call(wire.pack(header, buffers))
        self.transport.send(wire.pack(header, buffers))
        return self._wait(rid)

    def _wait(self, rid: int | None) -> tuple[dict, list[bytes]]:
        while True:
            h, b = wire.unpack(self.transport.recv())
            if h.get("kind") == "rep":
                if rid is not None and h.get("id") == rid:
                    return h, b
                continue  # a late reply to a request we gave up on
            if h.get("kind") != "req":
                raise wire.WireError("a frame that is neither a request nor a reply")
            if h.get("op") == "end":
                self.transport.send(wire.pack({"kind": "rep", "id": h.get("id"), "ok": True}, []))
                if rid is None:
                    return h, b
                continue  # only serve() ends on it
            self.answer(h, b)

    def answer(self, h: dict, b: list[bytes]) -> None:
        rh, rb = self.dispatch(h, b)
        self.transport.send(wire.pack(dict(rh, kind="rep", id=h.get("id")), rb))

    def serve(self) -> None:
        """Answer requests until the other side sends ``end``."""
        self._wait(None)


class DirectTransport:
    """Both sides in one process (the course's unit tests): a request is a call of the peer's
    dispatch on the packed bytes, so that the data is copied exactly as over a socket."""

    def __init__(self):
        self.peer: Channel | None = None

    def call(self, frame: bytes) -> tuple[dict, list[bytes]]:
        h, b = wire.unpack(frame)
        assert self.peer is not None, "connect the channel to its peer first"
        rh, rb = self.peer.dispatch(h, b)
        return wire.unpack(wire.pack(dict(rh, kind="rep", id=h.get("id")), rb))

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ the agent


class Agent:
    """Answers the judge's requests against a namespace (the kernel's ``__main__``).

    Requests (``op``): ``names`` (which of these names exist, and are they callable),
    ``get`` (a global's value), ``call`` (call a global, a handle, or a method of either),
    ``getattr``, ``getitem``, ``len``, ``iter``, ``bind`` / ``unbind`` (replace a global by a
    value or a stub that calls back into the judge, and restore it), ``release``.
    """

    def __init__(self, namespace: dict):
        self.ns = namespace
        self.objects: dict[int, Any] = {}
        self._handle_of: dict[int, int] = {}   # id(object) -> its handle (objects are kept alive)
        self._ids = itertools.count(1)
        self.saved: dict[str, list] = {}       # name -> the values it had before each bind (a stack)
        self.channel: Channel | None = None

    # -- encoding what goes back: data, or a handle to an object that stays here
    def _keep(self, obj) -> list:
        # one handle per object, so that the judge sees the same object as the same object
        oid = self._handle_of.get(id(obj))
        if oid is None or self.objects.get(oid) is not obj:
            oid = next(self._ids)
            self.objects[oid] = obj
            self._handle_of[id(obj)] = oid
        t = type(obj)
        return [oid, f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', '?')}"[:200]]

    def encode(self, value: Any) -> tuple[Any, list[bytes]]:
        enc = wire.Encoder()

        def on_object(obj):
            t = type(obj)
            if isinstance(obj, __import__("numpy").ndarray):
                raise wire.WireError(f"a {t.__module__}.{t.__qualname__} (an ndarray subclass) is not a plain "
                                     "array; return np.asarray(...) of it")
            if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                return enc.record(obj, self._keep(obj))
            return {"$h": self._keep(obj)}

        enc.on_object = on_object
        tree = enc.encode(value)
        return tree, enc.buffers

    # -- decoding what the judge sends
    def decode(self, tree: Any, buffers: list[bytes]) -> Any:
        def on_tag(tag, payload, sub):
            if tag == "$h":
                oid = payload[0] if type(payload) is list and payload else payload
                if oid not in self.objects:
                    raise wire.WireError("an unknown handle")
                return self.objects[oid]
            if tag == "$g":
                if type(payload) is not str:
                    raise wire.WireError("bad global name")
                if payload not in self.ns:
                    raise NameError(f"name {payload!r} is not defined")
                return self.ns[payload]
            if tag == "$cb":
                return self._stub(payload)
            if tag == "$dc":
                name, fields = payload
                values = {str(k): sub(v) for k, v in fields}
                cls = self.ns.get(name) if type(name) is str else None
                if isinstance(cls, type) and dataclasses.is_dataclass(cls):
                    return cls(**values)

                return types.SimpleNamespace(**values)
            if tag == "$p":
                return pickle.loads(buffers[payload])
            raise wire.WireError(f"unexpected tag {tag}")

        return wire.decode(tree, buffers, on_tag=on_tag)

    def _stub(self, cb_id):
        agent = self

        def judge_callable(*args, **kwargs):
            tree, bufs = agent.encode([list(args), kwargs])
            if agent.channel is None:
                raise RuntimeError("not connected to a judge")
            h, b = agent.channel.request({"op": "callback", "cb": cb_id, "payload": tree}, bufs)
            if "error" in h:
                raise_error(h["error"])
            if "mutated" in h:   # what the judge's function changed in place (a reference batch norm's bn_param)
                _apply_changes([list(args), kwargs], agent.decode(h["mutated"], b))
            return agent.decode(h.get("value"), b)

        judge_callable.__name__ = judge_callable.__qualname__ = f"judge_callable_{cb_id}"
        return judge_callable

    # -- requests
    def dispatch(self, h: dict, b: list[bytes]) -> tuple[dict, list[bytes]]:
        op = h.get("op")
        try:
            # what the student's code prints while a test calls it is nobody's business (the judge
            # writes the test cell's output itself)
            with warnings.catch_warnings(record=True) as caught, \
                    contextlib.redirect_stdout(_DISCARD), contextlib.redirect_stderr(_DISCARD):
                warnings.simplefilter("always")
                # as a fresh kernel does: an object the collector happens to free during the call is
                # not the code's warning (it failed a correct answer at random)
                warnings.simplefilter("ignore", ResourceWarning)
                value, extra = self._do(op, h, b)
            tree, bufs = self.encode(value)
            out = {"value": tree}
            if extra:
                mtree, mbufs = self._encode_more(extra, len(bufs))
                out["mutated"] = mtree
                bufs = bufs + mbufs
            if caught:
                out["warnings"] = [[w.category.__name__[:100], str(w.message)[:500]] for w in caught[:20]]
            return out, bufs
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                exc = RuntimeError(f"the code called sys.exit({exc.code!r})")
            return {"error": error_header(exc)}, []

    def _encode_more(self, mutated: list, offset: int):
        tree, bufs = self.encode([[path, value] for path, value in mutated])
        # buffer indices of the second encoding come after the first one's
        return _shift(tree, offset), bufs

    def _target(self, h, b):
        target = self.decode(h.get("target"), b)
        attr = h.get("attr")
        if attr is not None:
            if type(attr) is not str:
                raise wire.WireError("bad attribute name")
            target = getattr(target, attr)
        return target

    def _do(self, op, h, b):
        if op == "names":
            out = {}
            for name in h.get("names", []):
                if type(name) is str and name in self.ns:
                    v = self.ns[name]
                    out[name] = "module" if type(v).__name__ == "module" else (
                        "callable" if callable(v) else "data")
            return out, None
        if op == "get":
            name = h.get("name")
            if type(name) is not str or name not in self.ns:
                raise NameError(f"name {name!r} is not defined")
            return self.ns[name], None
        if op == "call":
            fn = self._target(h, b)
            args, kwargs = self.decode(h.get("args"), b)
            tracked = _track([args, kwargs]) if h.get("reflect", True) else []
            result = fn(*args, **kwargs)
            return result, _changed(tracked)
        if op == "getattr":
            return getattr(self.decode(h.get("target"), b), str(h.get("name"))), None
        if op == "setattr":
            setattr(self.decode(h.get("target"), b), str(h.get("name")), self.decode(h.get("value"), b))
            return None, None
        if op == "getitem":
            return self.decode(h.get("target"), b)[self.decode(h.get("key"), b)], None
        if op == "len":
            return len(self.decode(h.get("target"), b)), None
        if op == "iter":
            items = []
            for item in self.decode(h.get("target"), b):
                items.append(item)
                if len(items) >= _MAX_ITER:
                    raise ValueError(f"more than {_MAX_ITER} items")
            return items, None
        if op == "bind":
            name = h.get("name")
            if type(name) is not str:
                raise wire.WireError("bad name")
            self.saved.setdefault(name, []).append(self.ns.get(name, _MISSING))
            self.ns[name] = self.decode(h.get("value"), b)
            return None, None
        if op == "unbind":
            names = h.get("names")
            for name in (list(self.saved) if names is None else [n for n in names if n in self.saved]):
                stack = self.saved[name]
                old = stack.pop() if names is not None else stack[0]
                if names is None:
                    stack.clear()
                if old is _MISSING:
                    self.ns.pop(name, None)
                else:
                    self.ns[name] = old
                if not stack:
                    del self.saved[name]
            return None, None
        if op == "release":
            for oid in h.get("ids", []):
                obj = self.objects.pop(oid, None)
                if obj is not None:
                    self._handle_of.pop(id(obj), None)
            return None, None
        if op == "ping":
            return os.getpid(), None
        raise wire.WireError(f"unknown request {op!r}")


_MISSING = object()


class _Discard(io.TextIOBase):
    def write(self, s):
        return len(s)


_DISCARD = _Discard()


def _apply_changes(sent: list, changes) -> None:
    """The kernel's side of a callback's in-place changes: the judge's ``[[path, new value]]`` (see
    :func:`_changed`) copied into the arguments the student's code passed (lists and dicts get their
    new contents, arrays their new values), as if the function had run here."""
    # lazy: the agent loads first in every kernel, and a task may forbid any module: NumPy only for a value that is an array
    import numpy as np

    for change in changes if type(changes) is list else []:
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
        elif type(target) is list and type(new) is list:
            target[:] = new
        elif type(target) is np.ndarray and isinstance(new, np.ndarray) and target.shape == new.shape \
                and target.flags.writeable:
            np.copyto(target, new, casting="unsafe")


def _shift(tree, offset: int):
    """Buffer indices in ``tree`` moved by ``offset`` (two encodings share one buffer list)."""
    if type(tree) is list:
        return [_shift(v, offset) for v in tree]
    if type(tree) is dict and len(tree) == 1:
        (tag, payload), = tree.items()
        if tag in ("$a", "$s", "$b", "$p"):
            return {tag: payload + offset}
        if tag == "$T":
            return {tag: [payload[0] + offset, payload[1]]}
        return {tag: _shift(payload, offset)}
    return tree


def _track(value, path=(), depth=0, out=None):
    """What a call may change in place, inside its arguments: every ndarray / tensor (with a copy),
    and every list and dict (with the identities of its items: an append, a new key, a replaced
    value).  Returns ``[(kind, path, object, snapshot)]``."""
    # lazy: the agent loads first in every kernel, and a task may forbid any module: NumPy only for a value that is an array
    import numpy as np

    out = [] if out is None else out
    if depth > 4 or len(out) > 256:
        return out
    t = type(value)
    if t is np.ndarray:
        out.append(("array", path, value, value.copy()))
    elif t is list or t is tuple:
        if t is list and depth > 1:   # [args, kwargs] and the argument list are the call's own
            out.append(("container", path, value, [id(v) for v in value]))
        for i, v in enumerate(value):
            _track(v, path + (i,), depth + 1, out)
    elif t is dict:
        if depth > 1:
            out.append(("container", path, value, {k: id(v) for k, v in value.items()}))
        for k, v in value.items():
            if type(k) in (str, int):
                _track(v, path + (k,), depth + 1, out)
    else:
        torch = sys.modules.get("torch")
        if torch is not None and (t is torch.Tensor or t is torch.nn.Parameter):
            out.append(("array", path, value, value.detach().clone()))
    return out


def _same_array(now, before) -> bool:
    # lazy: the agent loads first in every kernel, and a task may forbid any module: NumPy only for a value that is an array
    import numpy as np

    if type(now) is np.ndarray:
        return now.shape == before.shape and now.dtype == before.dtype and \
            np.array_equal(now, before, equal_nan=now.dtype.kind in "fc")
    # lazy: PyTorch only for a value that is a tensor (a NumPy task's kernel may not have it)
    import torch

    n = now.detach()
    return n.shape == before.shape and n.dtype == before.dtype and bool(
        torch.equal(n, before) or (n.is_floating_point() and torch.equal(torch.nan_to_num(n, 0.0),
                                                                          torch.nan_to_num(before, 0.0))
                                   and torch.equal(n.isnan(), before.isnan())))


def _changed(tracked) -> list:
    """``[[path, new value]]`` for what changed: a list or dict whose items changed is sent whole
    (and what is inside it is then not sent again); an array changed in place is sent alone."""
    out: list = []
    replaced: list = []
    for kind, path, now, before in tracked:
        if kind != "container":
            continue
        if isinstance(now, dict):
            same = {k: id(v) for k, v in now.items()} == before
        else:
            same = [id(v) for v in now] == before
        # an array inside it that changed in place counts too: the container goes whole
        if same and not any(k == "array" and p[:len(path)] == path and not _same_array(o, b)
                            for k, p, o, b in tracked):
            continue
        if not any(path[:len(r)] == r for r in replaced):
            replaced.append(path)
            out.append([list(path), now])
    for kind, path, now, before in tracked:
        if kind == "array" and not any(path[:len(r)] == r for r in replaced) and not _same_array(now, before):
            out.append([list(path), now])
    return out


# ------------------------------------------------------------------ in the kernel

_channel: Channel | None = None
_agent: Agent | None = None


def connect(path: str) -> None:
    """Connect to the judge's socket at ``path`` (called once, when the kernel starts, before any
    student code runs); :func:`serve` then answers on it."""
    global _channel, _agent
    # the student's namespace, as it is when the kernel connects
    import __main__

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    _agent = Agent(__main__.__dict__)
    _channel = Channel(SocketTransport(sock), _agent.dispatch)
    _agent.channel = _channel


def serve() -> None:
    """Answer the judge until it says ``end`` (the grader runs this in the kernel's main thread,
    between cells, while the judge runs a test cell)."""
    if _channel is None:
        raise RuntimeError("not connected to a judge")
    _channel.serve()


def refuse_imports(modules: tuple[str, ...] | list[str]) -> None:
    """Refuse to import ``modules`` (and their submodules) in this process, with a message that names
    the rule.  Where the grader's sandbox takes a module away, its files are simply not there; this
    hook only gives the same message where there is no sandbox (it is a courtesy, not a barrier)."""
    names = tuple(modules)
    message = ("{module} is not available while this task is graded: the task asks you to write it "
               "yourself without it (its rule in the notebook). Remove the import.")

    class _Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            for m in names:
                if fullname == m or fullname.startswith(m + "."):
                    raise ImportError(message.format(module=m), name=fullname)
            return None

    sys.meta_path.insert(0, _Refuse())
