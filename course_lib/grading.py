"""What visible and hidden tests call: comparisons whose failure message tells a
student what is wrong, numeric gradient checks, and shortcut detection.

Every failure raises ``AssertionError`` with a message meant for a student:
what was compared, the shapes or dtypes that differ, the largest relative error
and the index where it occurs, expected versus got.
"""
from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable, Iterable

import numpy as np

__all__ = [
    "rel_error", "assert_close", "assert_shape", "numeric_gradient", "numeric_gradient_array",
    "check_gradient", "ShortcutError", "forbid_calls", "assert_no_shortcut", "measure", "Measurement", "in_kernel",
]


def rel_error(x, y, eps: float = 1e-8) -> float:
    """Largest elementwise relative error max |x - y| / max(|x| + |y|, eps)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not x.size:
        return 0.0
    with np.errstate(all="ignore"):  # inf - inf: a warning on stderr would zero a graded cell
        return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))


def _fmt(v) -> str:
    return np.array2string(np.asarray(v), precision=6, threshold=12, edgeitems=3)


def assert_shape(actual, shape: tuple, name: str = "result") -> None:
    """Assert ``actual`` is an array of ``shape`` (``None`` in ``shape`` matches any size)."""
    got = getattr(actual, "shape", None)
    if got is None:
        raise AssertionError(f"{name}: expected an array of shape {shape}, got {type(actual).__name__}")
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        raise AssertionError(f"{name}: wrong shape: expected {tuple(shape)}, got {tuple(got)}")


def assert_close(actual, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                 name: str = "result", check_dtype: bool = False) -> None:
    """Assert that ``actual`` matches ``expected`` elementwise, with a message a student can act on.

    An element passes when ``|a - e| <= atol + rtol * |e|`` (as ``numpy.allclose``).
    The message names the shape or dtype mismatch, or the worst element: its index,
    expected and got values, and its relative error.
    """
    # Never warn: nbgrader scores a grade cell with any stderr output 0.
    with np.errstate(all="ignore"):
        _assert_close(actual, expected, rtol, atol, name, check_dtype)


def _assert_close(actual, expected, rtol, atol, name, check_dtype) -> None:
    if actual is None:
        raise AssertionError(f"{name}: got None; did the function forget to return its result?")
    try:
        a = np.asarray(actual)
    except Exception as exc:  # a ragged list, an object that is not array-like
        raise AssertionError(f"{name}: could not read the result as an array ({exc})") from None
    e = np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: wrong shape: expected {e.shape}, got {a.shape}")
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{name}: wrong dtype: expected {e.dtype}, got {a.dtype}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise AssertionError(f"{name}: expected numbers, got an array of dtype {a.dtype}")
    a64 = a.astype(np.float64)
    e64 = e.astype(np.float64)
    bad_nan = np.isnan(a64) & ~np.isnan(e64)
    if bad_nan.any():
        idx = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise AssertionError(
            f"{name}: {int(bad_nan.sum())} NaN value(s), first at index {idx} "
            f"(expected {e64[idx]!r}); look for overflow, log(0) or 0/0")
    diff = np.abs(a64 - e64)
    both_inf = np.isinf(a64) & np.isinf(e64) & (np.sign(a64) == np.sign(e64))
    diff = np.where(both_inf | (np.isnan(a64) & np.isnan(e64)), 0.0, diff)
    tol = atol + rtol * np.abs(np.where(np.isfinite(e64), e64, 0.0))
    bad = ~(diff <= tol)
    if bad.any():
        rel = diff / np.maximum(np.abs(a64) + np.abs(e64), 1e-300)
        rel = np.where(bad, rel, -1.0)
        idx = np.unravel_index(int(np.nanargmax(np.where(np.isnan(rel), np.inf, rel))), a.shape) \
            if a.ndim else ()
        idx = tuple(int(i) for i in idx)
        where = f" at index {idx}" if idx else ""
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {a.size} value(s) differ; worst{where}: "
            f"expected {e64[idx]:.8g}, got {a64[idx]:.8g} "
            f"(relative error {rel_error(a64[idx], e64[idx]):.2e}, tolerance rtol={rtol:g}, atol={atol:g})")


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x`` (same shape as ``x``).

    ``x`` is perturbed in place and restored, so ``f`` may close over it.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numeric_gradient needs a float array, got dtype {x.dtype}")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = float(f(x))
        x[i] = old - h
        fm = float(f(x))
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def numeric_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                           h: float = 1e-6) -> np.ndarray:
    """Numeric gradient of ``sum(f(x) * dout)`` with respect to ``x``: the backward pass of an
    array-valued ``f`` for an upstream gradient ``dout``."""
    dout = np.asarray(dout, dtype=np.float64)
    return numeric_gradient(lambda z: float(np.sum(np.asarray(f(z), dtype=np.float64) * dout)), x, h)


def check_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, analytic, *, h: float = 1e-6,
                   tol: float = 1e-6, name: str = "gradient") -> float:
    """Compare an analytic gradient with a central-difference one; return the relative error.

    Raises AssertionError naming the worst element when the relative error exceeds ``tol``.
    """
    num = numeric_gradient(f, x, h)
    analytic = np.asarray(analytic) if analytic is not None else None
    if analytic is None:
        raise AssertionError(f"{name}: got None; did the function forget to return the gradient?")
    if analytic.shape != num.shape:
        raise AssertionError(f"{name}: wrong shape: expected {num.shape}, got {analytic.shape}")
    err = rel_error(analytic, num)
    if err > tol:
        diff = np.abs(analytic - num)
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape)) if diff.ndim else ()
        raise AssertionError(
            f"{name}: analytic and numeric gradients disagree (relative error {err:.2e} > {tol:g}); "
            f"worst at index {idx}: numeric {num[idx]:.8g}, analytic {analytic[idx]:.8g}")
    return err


class Measurement:
    """What :func:`measure` saw: ``cpu_s`` (CPU seconds), ``wall_s`` and ``peak_mb`` (peak memory
    allocated above the level at the start, in MB). Filled in when the ``with`` block ends."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.peak_mb = 0.0

    def __repr__(self) -> str:
        return f"Measurement(cpu_s={self.cpu_s:.3f}, wall_s={self.wall_s:.3f}, peak_mb={self.peak_mb:.1f})"


# Set by the grader's judge while it grades: measurement then happens outside the student's
# process (the kernel's cgroup or /proc), never from the kernel's own word.
_MEASURE_BACKEND: Callable | None = None


@contextlib.contextmanager
def measure():
    """Measure the code in the block: ``with measure() as m: f(x)``, then ``m.cpu_s``, ``m.peak_mb``.

    In a student's own kernel (Validate) this measures this process (CPU time and, with
    ``tracemalloc``, the peak of memory allocated by Python and NumPy). When the grader's judge
    runs the test, the student's code runs in another process and the judge measures that
    process from outside.
    """
    if _MEASURE_BACKEND is not None:
        with _MEASURE_BACKEND() as m:
            yield m
        return
    import time
    import tracemalloc

    m = Measurement()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    # one BLAS thread, as in a grading kernel: idle BLAS threads spin, and their spinning would count
    with _one_blas_thread():
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            yield m
        finally:
            m.cpu_s = time.process_time() - c0
            m.wall_s = time.perf_counter() - t0
            m.peak_mb = max(0, tracemalloc.get_traced_memory()[1] - base) / 2**20
            if started:
                tracemalloc.stop()


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


# Set by the judge while it grades: the student's notebook runs in another process.
_KERNEL_NAME_BACKEND: Callable | None = None


def in_kernel(name: str):
    """The object ``name`` of the notebook's own namespace, even when the test has one of that name.

    A test that needs objects living beside the student's code (the nodes of a graph the student's
    function walks, built with a class of the setup cell) makes them with ``in_kernel("Node")(...)``.
    In a student's own kernel this is just the notebook's global; when the grader's judge runs the
    test, it is a proxy of the name in the student's kernel, and what it makes stays there.
    """
    if _KERNEL_NAME_BACKEND is not None:
        return _KERNEL_NAME_BACKEND(name)
    import __main__

    try:
        return getattr(__main__, name)
    except AttributeError:
        raise NameError(f"name {name!r} is not defined in the notebook") from None


class ShortcutError(AssertionError):
    """A graded function called a reference implementation instead of doing the work."""


def _code_of(target):
    # Unwrapped to the innermost function: decorators such as scikit-learn's ``_fit_context``
    # share one wrapper code object among every method they decorate.
    return getattr(inspect.unwrap(target), "__code__", None)


def _forbidden_name(target) -> str:
    """The name the target was forbidden under (never the name of the code that runs it).

    A function made by a factory (``torch.nn.functional.max_pool2d`` is
    ``boolean_dispatch.<locals>.fn``) is named by its ``__name__``, which the factory sets.
    """
    qualname = getattr(target, "__qualname__", None)
    if qualname and "<locals>" not in qualname:
        return qualname
    return getattr(target, "__name__", None) or qualname or repr(target)


def _shortcut_message(task: str, name: str) -> str:
    return (f"{task}: your code calls {name}, a library implementation of this very task; "
            "the task asks you to write it yourself, so it earns no points. Remove that call.")


@contextlib.contextmanager
def forbid_calls(targets: Iterable, task: str = "this task"):
    """Within the block, any call of one of ``targets`` raises :class:`ShortcutError`.

    Calls are caught by identity of the code object (Python functions) or of the
    builtin (C functions such as ``torch.nn.functional.cross_entropy``), through a
    profile hook, so an alias (``from course_lib.nn import softmax_loss as f``)
    is caught as well as the dotted name.  A profile hook is the one mechanism that
    sees every call whatever name it is made under; no library offers this check.
    """
    codes: dict = {}          # code object -> forbidden name
    builtins_: dict = {}      # id of a builtin -> forbidden name
    for t in targets:
        code = _code_of(t)
        if code is not None:
            codes.setdefault(code, _forbidden_name(t))
        else:
            builtins_.setdefault(id(t), _forbidden_name(t))
    hit: list = []

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            hit.append(codes[frame.f_code])
            raise ShortcutError(_shortcut_message(task, codes[frame.f_code]))
        if event == "c_call" and id(arg) in builtins_:
            hit.append(builtins_[id(arg)])

    old = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield hit
    finally:
        sys.setprofile(old)
    if hit:
        raise ShortcutError(_shortcut_message(task, hit[0]))


def assert_no_shortcut(fn: Callable, *args, forbidden: Iterable, task: str = "this task", **kwargs):
    """Call ``fn(*args, **kwargs)`` and fail if it calls any of ``forbidden``; return its result."""
    with forbid_calls(forbidden, task=task):
        result = fn(*args, **kwargs)
    return result
