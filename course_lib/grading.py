"""What visible and hidden tests call: comparisons whose failure message tells a
student what is wrong, numeric gradient checks, and shortcut detection.

Every failure raises ``AssertionError`` with a message meant for a student:
what was compared, the shapes or dtypes that differ, the largest relative error
and the index where it occurs, expected versus got.
"""
from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "rel_error", "assert_close", "assert_shape", "numeric_gradient", "numeric_gradient_array",
    "check_gradient", "ShortcutError", "measure", "Measurement", "in_kernel",
    "replace_in_kernel",
]


def rel_error(x: Any, y: Any, eps: float = 1e-8) -> float:
    """Largest elementwise relative error max |x - y| / max(|x| + |y|, eps)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not x.size:
        return 0.0
    with np.errstate(all="ignore"):  # inf - inf: a warning on stderr would zero a graded cell
        return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))


def _fmt(v) -> str:
    return np.array2string(np.asarray(v), precision=6, threshold=12, edgeitems=3)


def assert_shape(actual: Any, shape: tuple, name: str = "result") -> None:
    """Assert ``actual`` is an array of ``shape`` (``None`` in ``shape`` matches any size)."""
    got = getattr(actual, "shape", None)
    if got is None:
        raise AssertionError(f"{name}: expected an array of shape {shape}, got {type(actual).__name__}")
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        raise AssertionError(f"{name}: wrong shape: expected {tuple(shape)}, got {tuple(got)}")


def assert_close(actual: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-9,
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
        raw = np.unravel_index(int(np.nanargmax(np.where(np.isnan(rel), np.inf, rel))), a.shape) \
            if a.ndim else ()
        idx = tuple(int(i) for i in raw)
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
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
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


def check_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, analytic: Any, *, h: float = 1e-6,
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
def measure() -> Iterator[Measurement]:
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
        # lazy: optional (without threadpoolctl the measurement runs as is); only a measured block needs it
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


# Set by the judge while it grades: the student's notebook runs in another process.
_KERNEL_NAME_BACKEND: Callable | None = None


def in_kernel(name: str) -> Any:
    """The object ``name`` of the notebook's own namespace, now, even when the test has one of that name.

    A test that needs objects living beside the student's code (the nodes of a graph the student's
    function walks, made with a class of the setup cell; a cache of the task's own dataclass) makes
    them with ``in_kernel("Node")(...)``. In a student's own kernel this is just the notebook's
    global; when the grader's judge runs the test, it is the object in the student's kernel (a handle:
    what it makes stays there, and only data comes back).
    """
    if _KERNEL_NAME_BACKEND is not None:
        return _KERNEL_NAME_BACKEND(name)
    # the notebook's namespace at the time of the call (the kernel's, or the unit tests')
    import __main__

    try:
        return getattr(__main__, name)
    except AttributeError:
        raise NameError(f"name {name!r} is not defined in the notebook") from None


@contextlib.contextmanager
def replace_in_kernel(name: str, replacement: Any) -> Iterator[None]:
    """Within the block, the notebook's global ``name`` is ``replacement`` (a test's function: the
    student's code that calls ``name`` calls it instead), then what it was before.  Lets a test watch
    how the student's code uses a helper (``get_device``, their own ``im2col``)."""
    if _KERNEL_NAME_BACKEND is not None:
        _KERNEL_NAME_BACKEND(name, replacement)
        try:
            yield
        finally:
            _KERNEL_NAME_BACKEND(name, None)
        return
    # the notebook's namespace at the time of the call (the kernel's, or the unit tests')
    import __main__

    missing = object()
    old = getattr(__main__, name, missing)
    setattr(__main__, name, replacement)
    try:
        yield
    finally:
        if old is missing:
            delattr(__main__, name)
        else:
            setattr(__main__, name, old)


class ShortcutError(AssertionError):
    """The verdict on a solution that uses what its task rules out (``course.forbid`` modules,
    ``forbid_names``); the judge decides it, outside the student's process."""


