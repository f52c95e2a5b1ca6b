"""The data format between the grader's judge and a student's kernel.

The judge decides grades in a process the student's code cannot reach; the
kernel only answers its questions.  Everything that crosses is a *frame*: a
JSON header (numbers, strings, lists and small tagged objects) followed by
binary buffers (NumPy arrays as ``.npy`` bytes).  What the kernel sends is
read with :func:`json.loads` and ``numpy.lib.format.read_array(...,
allow_pickle=False)`` only: nothing it sends is unpickled, imported or
executed.  The judge may send pickled objects (a ``torch.nn.Module`` it built)
*to* the kernel: the kernel is the untrusted side, not the judge.

Both sides import this module from their own process: the judge's copy decides
what a reply means, whatever the kernel does to its own.

Tags (a JSON object whose single key starts with ``$``):

=============  ======================================================
``$t``         tuple (list of items)
``$m``         dict (list of ``[key, value]`` pairs)
``$set``       set / frozenset
``$a``         NumPy array (buffer index)
``$s``         NumPy scalar (buffer index of a 0-d array)
``$T``         torch tensor (``[buffer index, requires_grad]``)
``$c``         complex (``[real, imag]``)
``$b``         bytes (buffer index)
``$sl``        slice (``[start, stop, step]``)
``$E``         Ellipsis
``$nd``        NumPy dtype (its ``str``)
``$td``        torch dtype (its name, e.g. ``float64``)
``$dev``       torch device (its ``str``)
``$nt``        named tuple (``[typename, [fields], [values]]``)
``$rec``       dataclass instance (``[qualname, [fields], [values], handle]``)
``$h``         handle of an object that stays on the kernel's side (``[id, type name]``)
``$g``         a global name of the kernel's ``__main__`` (judge to kernel)
``$cb``        a callable that stays on the judge's side (id)
``$p``         pickled object (buffer index; judge to kernel only)
``$dc``        a dataclass the judge made, by class name and fields (judge to kernel only): rebuilt
               as the kernel's dataclass of that name (a cache of the task's own class)
``$k``         a plain dict whose keys are all strings (``{key: value}``); rarely used
=============  ======================================================

No library offers this: pickle runs code on load, and JSON, msgpack or
``numpy.save`` alone cannot carry the mix of containers, arrays, tensors and
handles a test passes; the format is small enough to review at a glance.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import json
import keyword
import math
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import socket

__all__ = ["WireError", "Encoder", "decode", "pack", "unpack", "read_frame", "write_frame",
           "MAX_FRAME_BYTES", "MAX_HEADER_BYTES", "MAX_DEPTH", "MAX_ITEMS"]

MAX_FRAME_BYTES = 512 * 2**20   # a reply larger than this is refused (a wrong answer, not a crash)
# The JSON part of a frame: arrays travel as buffers, so a real answer's header is small; parsing 64 MiB of
# JSON already costs the reader about 256 MB, and a hostile kernel's 512 MiB list of zeros would cost 2 GB.
MAX_HEADER_BYTES = 64 * 2**20
MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
_ARRAY_KINDS = set("biufcU")    # bool, int, uint, float, complex, str: never object arrays

_HEAD = struct.Struct("!II")     # header length, number of buffers
_BUF = struct.Struct("!Q")


class WireError(ValueError):
    """A frame that is not data in this format (or too large, too deep, too many items)."""


def _torch():
    """The torch module if it is already imported (never imports it: a NumPy-only kernel has none)."""
    return sys.modules.get("torch")


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr) if arr.ndim else arr, allow_pickle=False)
    return buf.getvalue()


def _read_npy(data: bytes) -> np.ndarray:
    try:
        arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:
        raise WireError(f"not an .npy array: {exc}") from None
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise WireError(f"array of dtype {arr.dtype} is not data")
    return arr


class Encoder:
    """Turns a value into ``(tree, buffers)``.

    ``on_object(obj) -> tag`` decides what to do with a value that is not data
    (the kernel keeps it and sends a handle; the judge sends a callback or a
    pickle).  Without it such a value raises :class:`WireError`.
    """

    def __init__(self, on_object: Callable[[Any], dict] | None = None, *, strict_types: bool = True):
        self.on_object = on_object
        self.strict_types = strict_types
        self.buffers: list[bytes] = []
        self.items = 0

    def buffer(self, data: bytes) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH:
            raise WireError(f"nested deeper than {MAX_DEPTH} levels")
        if self.items > MAX_ITEMS:
            raise WireError(f"more than {MAX_ITEMS} items")
        t = type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return value
        if t is float:
            return value if math.isfinite(value) else {"$f": repr(value)}
        if t is complex:
            return {"$c": [self.encode(value.real, depth + 1), self.encode(value.imag, depth + 1)]}
        if t is bytes:
            return {"$b": self.buffer(value)}
        if t is list:
            return [self.encode(v, depth + 1) for v in value]
        if t is tuple:
            return {"$t": [self.encode(v, depth + 1) for v in value]}
        if t is dict:
            return {"$m": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if t is set or t is frozenset:
            return {"$set": [self.encode(v, depth + 1) for v in value]}
        if t is slice:
            return {"$sl": [self.encode(value.start, depth + 1), self.encode(value.stop, depth + 1),
                            self.encode(value.step, depth + 1)]}
        if value is Ellipsis:
            return {"$E": 0}
        if t is np.ndarray:
            if value.dtype.kind not in _ARRAY_KINDS:
                raise WireError(f"an array of dtype {value.dtype} is not data (only numbers, bools and strings)")
            return {"$a": self.buffer(_npy_bytes(value))}
        if isinstance(value, np.generic) and t.__module__ == "numpy":
            arr = np.asarray(value)
            if arr.dtype.kind not in _ARRAY_KINDS:
                raise WireError(f"a NumPy scalar of dtype {arr.dtype} is not data")
            return {"$s": self.buffer(_npy_bytes(arr))}
        if isinstance(value, np.dtype):
            return {"$nd": value.str if value.kind != "V" else str(value)}
        torch = _torch()
        if torch is not None:
            if t is torch.Tensor or t is torch.nn.Parameter:
                return self._tensor(value, torch)
            if t is torch.dtype:
                return {"$td": str(value).replace("torch.", "")}
            if t is torch.device:
                return {"$dev": str(value)}
        if isinstance(value, tuple) and hasattr(t, "_fields") and t.__module__ != "builtins" \
                and all(type(f) is str for f in t._fields):
            return {"$nt": [t.__name__, list(t._fields), [self.encode(v, depth + 1) for v in value]]}
        if self.on_object is not None:
            return self.on_object(value)
        raise WireError(f"a {t.__module__}.{t.__qualname__} is not data")

    def _tensor(self, value, torch) -> dict:
        if value.is_sparse or value.layout != torch.strided:
            raise WireError("a sparse tensor is not data; send a dense one")
        v = value.detach()
        if v.device.type != "cpu":
            v = v.cpu()
        if v.dtype in (torch.bfloat16,):
            v = v.float()
        if v.is_conj():
            v = v.resolve_conj()
        if v.is_neg():
            v = v.resolve_neg()
        return {"$T": [self.buffer(_npy_bytes(v.numpy())), bool(value.requires_grad)]}

    def record(self, value: Any, handle: Any) -> dict:
        """A dataclass instance: its fields as data (each field encoded), plus a handle."""
        fields = [f.name for f in dataclasses.fields(value)]
        values = []
        for name in fields:
            try:
                values.append(self.encode(getattr(value, name), 1))
            except WireError:
                values.append({"$x": "not data"})
        return {"$rec": [type(value).__qualname__, fields, values, handle]}


# ------------------------------------------------------------------ decoding

_NAMEDTUPLES: dict[tuple, type] = {}


def _namedtuple(name: str, fields: list[str]) -> Any:
    safe = name if name.isidentifier() and not keyword.iskeyword(name) else "Record"
    key = (safe, tuple(fields))
    if key not in _NAMEDTUPLES:
        _NAMEDTUPLES[key] = collections.namedtuple(safe, fields, rename=True)
    return _NAMEDTUPLES[key]


def decode(tree: Any, buffers: list[bytes], *, on_tag: Callable[[str, Any, Callable[[Any], Any]], Any] | None = None,
           tensors: bool = True, depth: int = 0) -> Any:
    """The value a tree from :class:`Encoder` stands for.

    ``on_tag(tag, payload, decode_one)`` turns handle-like tags (``$h``, ``$rec``, ``$cb``, ``$g``, ``$p``) into
    objects; unknown or disallowed tags raise :class:`WireError`.  ``tensors``: rebuild torch
    tensors (when torch is imported here), else leave them as NumPy arrays.
    """
    if depth > MAX_DEPTH:
        raise WireError(f"nested deeper than {MAX_DEPTH} levels")
    t = type(tree)
    if tree is None or t in (bool, int, float, str):
        return tree
    if t is list:
        return [decode(v, buffers, on_tag=on_tag, tensors=tensors, depth=depth + 1) for v in tree]
    if t is not dict or len(tree) != 1:
        raise WireError("malformed frame")
    (tag, payload), = tree.items()

    def sub(v):
        return decode(v, buffers, on_tag=on_tag, tensors=tensors, depth=depth + 1)

    def buf(i):
        if type(i) is not int or not 0 <= i < len(buffers):
            raise WireError("bad buffer index")
        return buffers[i]

    if tag == "$t":
        return tuple(sub(v) for v in _list(payload))
    if tag == "$m":
        out = {}
        for pair in _list(payload):
            if type(pair) is not list or len(pair) != 2:
                raise WireError("malformed dict")
            k = sub(pair[0])
            try:
                out[k] = sub(pair[1])
            except TypeError:
                raise WireError("a dict key that is not hashable") from None
        return out
    if tag == "$set":
        try:
            return {sub(v) for v in _list(payload)}
        except TypeError:
            raise WireError("a set element that is not hashable") from None
    if tag == "$f":
        if payload not in ("nan", "inf", "-inf"):
            raise WireError("bad float")
        return float(payload)
    if tag == "$c":
        re_, im = _list(payload, 2)
        return complex(float(sub(re_)), float(sub(im)))
    if tag == "$b":
        return bytes(buf(payload))
    if tag == "$sl":
        a, b, c = _list(payload, 3)
        return slice(_index(sub(a)), _index(sub(b)), _index(sub(c)))
    if tag == "$E":
        return Ellipsis
    if tag == "$a":
        return _read_npy(buf(payload))
    if tag == "$s":
        arr = _read_npy(buf(payload))
        if arr.ndim != 0:
            raise WireError("a scalar must be a 0-d array")
        return arr[()]
    if tag == "$nd":
        if type(payload) is not str or len(payload) > 32:
            raise WireError("bad dtype")
        try:
            dt = np.dtype(payload)
        except TypeError:
            raise WireError("bad dtype") from None
        if dt.kind not in _ARRAY_KINDS:
            raise WireError("bad dtype")
        return dt
    if tag == "$T":
        i, requires_grad = _list(payload, 2)
        arr = _read_npy(buf(i))
        torch = _torch()
        if tensors and torch is not None:
            if arr.dtype.kind == "U":
                return arr
            t = torch.from_numpy(arr.copy())
            if requires_grad is True and t.is_floating_point():
                t.requires_grad_(True)
            return t
        return arr
    if tag == "$td":
        torch = _torch()
        if type(payload) is not str or torch is None:
            raise WireError("a torch dtype where torch is not available")
        tdt = getattr(torch, payload, None)
        if type(tdt) is not torch.dtype:
            raise WireError("bad torch dtype")
        return tdt
    if tag == "$dev":
        torch = _torch()
        if type(payload) is not str or torch is None or len(payload) > 32:
            raise WireError("a torch device where torch is not available")
        try:
            return torch.device(payload)
        except Exception:
            raise WireError("bad torch device") from None
    if tag == "$nt":
        name, fields, values = _list(payload, 3)
        if type(name) is not str or type(fields) is not list or not all(type(f) is str for f in fields) \
                or len(fields) != len(_list(values)) or len(fields) > 256:
            raise WireError("malformed named tuple")
        return _namedtuple(name, fields)(*[sub(v) for v in values])
    if tag == "$x":
        return _NotData(str(payload)[:100])
    if on_tag is not None and tag in ("$h", "$rec", "$cb", "$g", "$p", "$dc"):
        return on_tag(tag, payload, sub)
    raise WireError(f"unexpected tag {str(tag)[:8]!r}")


class _NotData:
    """A field of a record that could not be sent as data."""

    def __init__(self, why: str):
        self.why = why

    def __repr__(self) -> str:
        # ``why`` is the sender's own words (a student's kernel's): a message shown in feedback never
        # quotes them
        return "<not data>"


def _list(v, n: int | None = None) -> list:
    if type(v) is not list or (n is not None and len(v) != n):
        raise WireError("malformed frame")
    return v


def _index(v):
    if v is None or type(v) is int:
        return v
    if isinstance(v, np.integer):
        return int(v)
    raise WireError("a slice bound must be an integer or None")


# ------------------------------------------------------------------ frames


def pack(header: dict, buffers: list[bytes]) -> bytes:
    """One frame: lengths, the JSON header, then each buffer with its length."""
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    parts = [_HEAD.pack(len(head), len(buffers)), head]
    for b in buffers:
        parts.append(_BUF.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


def unpack(frame: bytes) -> tuple[dict, list[bytes]]:
    """The inverse of :func:`pack` (raises :class:`WireError` on anything malformed)."""
    view = memoryview(frame)
    if len(view) < _HEAD.size:
        raise WireError("truncated frame")
    hlen, nbuf = _HEAD.unpack_from(view, 0)
    pos = _HEAD.size
    if hlen > len(view) - pos or nbuf > MAX_ITEMS:
        raise WireError("truncated frame")
    if hlen > MAX_HEADER_BYTES:
        raise WireError(f"more than {MAX_HEADER_BYTES >> 20} MiB of data besides arrays (send arrays, not lists)")
    try:
        header = json.loads(bytes(view[pos:pos + hlen]))
    except ValueError:
        raise WireError("the header is not JSON") from None
    if type(header) is not dict:
        raise WireError("the header is not an object")
    pos += hlen
    buffers = []
    for _ in range(nbuf):
        if len(view) - pos < _BUF.size:
            raise WireError("truncated frame")
        (blen,) = _BUF.unpack_from(view, pos)
        pos += _BUF.size
        if blen > len(view) - pos:
            raise WireError("truncated frame")
        buffers.append(bytes(view[pos:pos + blen]))
        pos += blen
    if pos != len(view):
        raise WireError("trailing bytes after the frame")
    return header, buffers


_LEN = struct.Struct("!Q")


def write_frame(sock: socket.socket, frame: bytes) -> None:
    """Send one frame on a stream socket (length-prefixed)."""
    sock.sendall(_LEN.pack(len(frame)) + frame if len(frame) < 65536 else _LEN.pack(len(frame)))
    if len(frame) >= 65536:
        sock.sendall(frame)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError("the other side closed the connection")
        got += k
    return bytes(buf)


def read_frame(sock: socket.socket, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Receive one frame; a frame over ``max_bytes`` raises :class:`WireError` (and the
    connection is then unusable: the caller drops it)."""
    (n,) = _LEN.unpack(_recv_exact(sock, _LEN.size))
    if n > max_bytes:
        raise WireError(f"a reply of {n} bytes is over the limit of {max_bytes} bytes")
    return _recv_exact(sock, n)
