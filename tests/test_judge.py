"""The judge and its data format: what crosses between the grader and a student's kernel.

Fast tests run both sides in this process (``direct_link``: the same frames as a socket);
the tests marked slow start a real kernel (sandboxed when root) and talk to its agent over the
socket: timeouts and interrupts, modules taken away, measuring from outside.
"""
from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest

from autograder.pipeline.steps.judge import CellVerdict, Judge, direct_link
from course_lib import wire

STUDENT = '''
import numpy as np
from dataclasses import dataclass
from typing import NamedTuple

def add(a, b):
    return a + b

def relu_in_place(x):
    x[x < 0] = 0
    return x

def train(loss_fn, n):
    return [loss_fn(i) for i in range(n)]

def swallow(loss_fn):
    try:
        loss_fn(0)
    except AssertionError as exc:
        CAUGHT.append(str(exc))
    return 1.0


CAUGHT = []

@dataclass
class Cache:
    x: np.ndarray
    scale: float

def forward(x):
    return 2 * x, Cache(x, 2.0)

def backward(dout, cache):
    return dout * cache.scale

class Pair(NamedTuple):
    a: int
    b: float

def pair():
    return Pair(1, 2.5)

class Model:
    def __init__(self):
        self.calls = 0
    def __call__(self, x):
        self.calls += 1
        return x + 1
    def double(self, x):
        return 2 * x

def make_model():
    return Model()

def results():
    return {(0.1, 1e-3): 0.5, (1.0, 0.0): 0.75}

def raises():
    raise ValueError("bad shape (3,)")

class MyError(Exception):
    pass

def raises_own():
    raise MyError("mine")

import warnings
def warns():
    warnings.warn("overflow encountered in exp", RuntimeWarning)
    return 0.0

class Sub(np.ndarray):
    pass

def subclass():
    return np.zeros(3).view(Sub)

class Liar:
    def __eq__(self, other):
        return True
    def __array__(self, dtype=None, copy=None):
        return np.array([5.0, 12.0])
    def __float__(self):
        return 12.0

def liar():
    return Liar()

def mlp(x):
    return relu(x) * 2

def relu(x):
    return x
'''


def _judge(setup: str = "import numpy as np\nfrom course_lib.grading import assert_close, measure\n",
           reference: dict | None = None):
    kernel = {"__name__": "__main__"}
    exec(STUDENT, kernel)
    link, agent = direct_link(kernel)
    return Judge(link, setup, reference=reference), kernel


def _run(judge: Judge, source: str, **kw) -> CellVerdict:
    return judge.run_cell(source, "test_x", **kw)


# ------------------------------------------------------------------ the data format


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 2.5, float("inf"), "text", b"\x00\x01", 1 + 2j, [1, [2, 3]], (1, (2.0,)),
    {"a": 1, (1, 2): [3]}, {1, 2}, slice(1, None, 2), Ellipsis, np.float32(1.5), np.int64(7),
    np.arange(6.0).reshape(2, 3), np.array(["a", "bc"]), np.dtype("float32"),
])
def test_data_round_trips(value):
    enc = wire.Encoder()
    tree = enc.encode(value)
    header, buffers = wire.unpack(wire.pack({"v": tree}, enc.buffers))
    got = wire.decode(header["v"], buffers)
    if isinstance(value, np.ndarray):
        assert got.dtype == value.dtype and np.array_equal(got, value)
    else:
        assert got == value and type(got) is type(value)


def test_nan_round_trips_and_tensors_keep_dtype():
    torch = pytest.importorskip("torch")
    enc = wire.Encoder()
    tree = enc.encode([float("nan"), torch.arange(3, dtype=torch.float64).requires_grad_()])
    got = wire.decode(tree, enc.buffers)
    assert np.isnan(got[0])
    assert isinstance(got[1], torch.Tensor) and got[1].dtype == torch.float64 and got[1].requires_grad


def test_object_arrays_and_pickles_are_refused():
    with pytest.raises(wire.WireError, match="not data"):
        wire.Encoder().encode(np.array([object()], dtype=object))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(wire.WireError):
        wire.decode({"$a": 0}, [buf.getvalue()])
    with pytest.raises(wire.WireError, match="unexpected tag"):   # the kernel may not send a pickle
        wire.decode({"$p": 0}, [b"cos\nsystem\n(S'true'\ntR."])


@pytest.mark.parametrize("frame", [b"", b"\x00\x00\x00\x05\x00\x00\x00\x00{}", b"\x00\x00\x00\x02\x00\x00\x00\x00[]",
                                   b"\x00\x00\x00\x02\x00\x00\x00\x09{}"])
def test_malformed_frames_are_wire_errors(frame):
    with pytest.raises(wire.WireError):
        wire.unpack(frame)


def test_a_frame_with_a_huge_header_is_refused_before_it_is_parsed(monkeypatch):
    """The JSON part of a frame is bounded on its own (a 64 MiB list of zeros costs 256 MB to parse), so a
    hostile kernel cannot make the grader parse the whole 512 MiB a frame may hold."""
    small = wire.pack({"v": [0] * 10}, [])
    big = wire.pack({"v": [0] * 100}, [b"x" * 1000])
    monkeypatch.setattr(wire, "MAX_HEADER_BYTES", 100)
    assert wire.unpack(small) == ({"v": [0] * 10}, [])
    with pytest.raises(wire.WireError, match="besides arrays"):
        wire.unpack(big)


def test_deep_or_huge_trees_are_refused():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="deeper"):
        wire.Encoder().encode(deep)
    with pytest.raises(wire.WireError, match="deeper"):
        wire.decode(json.loads(json.dumps(deep)), [])


# ------------------------------------------------------------------ the judge, in process


def test_calls_return_data_and_in_place_changes_come_back():
    judge, _ = _judge()
    v = _run(judge, "assert_close(add(np.ones(3), np.ones(3)), [2, 2, 2])\n"
                    "x = np.array([-1.0, 2.0]); x0 = x.copy(); relu_in_place(x)\n"
                    "assert_close(x, x0, name='input')")
    assert not v.passed and "input" in v.evalue and "expected -1, got 0" in v.evalue


def test_callbacks_run_in_the_judge_and_their_failures_count():
    judge, _ = _judge()
    assert _run(judge, "seen = []\nr = train(lambda i: seen.append(i) or i * i, 4)\n"
                       "assert r == [0, 1, 4, 9] and seen == [0, 1, 2, 3]").passed
    judge, kernel = _judge()
    v = _run(judge, "def check(i):\n    assert False, 'the loss function saw a wrong batch'\nswallow(check)")
    assert not v.passed and "wrong batch" in v.evalue   # caught by the student's code, still a failure
    # the test's own message (it may quote expected values) stays in the judge: the kernel learns only that
    # a check failed
    assert kernel["CAUGHT"] and not any("wrong batch" in m for m in kernel["CAUGHT"]), kernel["CAUGHT"]


def test_records_handles_named_tuples_and_dict_keys():
    judge, kernel = _judge()
    v = _run(judge, "out, cache = forward(np.ones(2))\n"
                    "assert cache.scale == 2.0 and list(cache.x) == [1, 1]\n"
                    "assert_close(backward(np.ones(2), cache), [2, 2])\n"
                    "m = make_model()\nassert m(1) == 2 and m.double(3) == 6 and m.calls == 1\n"
                    "p = pair()\nassert p.a == 1 and p.b == 2.5 and p == (1, 2.5)\n"
                    "assert results()[(1.0, 0.0)] == 0.75")
    assert v.passed, v.evalue
    assert kernel["Model"]  # the model stayed in the kernel


def test_exceptions_cross_as_built_in_types():
    judge, _ = _judge()
    assert _run(judge, "try:\n    raises()\nexcept ValueError as e:\n    assert 'bad shape' in str(e)\n"
                       "else:\n    raise AssertionError('no error')").passed
    v = _run(judge, "raises_own()")
    assert not v.passed and v.ename == "Exception" and "class of its own" in v.evalue


def test_what_the_students_code_raises_or_warns_reaches_the_verdict_without_its_words():
    """An exception's message, its class's name and a warning's text are the submission's own words,
    written with the hidden inputs in reach: the verdict says what happened, never quotes them."""
    judge, kernel = _judge()
    exec("import warnings\n"
         "def leaks(x):\n    raise ValueError('SECRET ' + repr(x))\n"
         "def leaks_by_name(x):\n    raise type('SECRET_' + str(int(x[0])), (Exception,), {})()\n"
         "def warns_secret(x):\n    warnings.warn('SECRET ' + repr(x), RuntimeWarning)\n    return 0.0\n"
         "def stub(x):\n    raise NotImplementedError('SECRET ' + repr(x))\n"
         "class Obj:\n    pass\n"
         "def returns_obj(x):\n    return type('SECRET_' + str(int(x[0])), (), {})()\n", kernel)
    for call in ("leaks", "leaks_by_name", "warns_secret", "stub", "returns_obj"):
        v = _run(judge, f"r = {call}(np.array([31415.0]))\nassert len(r) == 1")
        assert not v.passed, call
        shown = f"{v.ename} {v.evalue} {v.stdout}"
        assert "SECRET" not in shown and "31415" not in shown, (call, shown)
    assert _run(judge, "leaks(np.ones(1))").ename == "ValueError"
    assert "NotImplementedError" in _run(judge, "stub(np.ones(1))").evalue
    # NumPy's own floating-point warnings are fixed text, and say what went wrong
    exec("def overflows(x):\n    return np.exp(x)\n", kernel)
    v = _run(judge, "overflows(np.array([1000.0]))")
    assert not v.passed and "overflow encountered in exp" in v.evalue
    # the test's own messages are the test's: shown as written
    v = _run(judge, "try:\n    leaks(np.ones(1))\nexcept ValueError:\n    raise AssertionError('leaks must not raise')")
    assert v.evalue == "leaks must not raise"


def test_a_warning_of_the_students_code_fails_the_cell_unless_the_test_ignores_it():
    judge, _ = _judge()
    v = _run(judge, "warns()")
    assert not v.passed and "overflow encountered in exp" in v.evalue and "warning" in v.evalue
    assert _run(judge, "import warnings\nwith warnings.catch_warnings():\n"
                       "    warnings.simplefilter('ignore')\n    warns()").passed


def test_results_that_lie_are_wrong_answers_not_code():
    judge, _ = _judge()
    v = _run(judge, "subclass()")
    assert not v.passed and "not data" in v.evalue
    v = _run(judge, "r = liar()\nassert_close(r, [5.0, 12.0])")   # __array__ never runs in the judge
    assert not v.passed
    v = _run(judge, "r = liar()\nassert r == 12.0")                # nor __eq__
    assert not v.passed
    v = _run(judge, "r = liar()\nassert float(r) == 12.0")         # nor __float__
    assert not v.passed and "Remote" in v.evalue or "float" in v.evalue


def test_a_name_the_kernel_lacks_is_a_name_error_with_a_hint():
    judge, _ = _judge()
    v = _run(judge, "nowhere(1)")
    assert v.ename == "NameError" and "nowhere" in v.evalue


def test_partial_credit_from_the_cells_last_expression():
    judge, _ = _judge()
    v = _run(judge, "x = add(1, 2)\nx * 1.5")
    assert v.passed and v.partial == 4.5
    assert [o["output_type"] for o in v.outputs()] == ["execute_result"]


def test_stdout_of_the_students_code_is_not_the_cells_output():
    kernel = {"__name__": "__main__"}
    exec("def noisy():\n    print('SECRET-LOOKING OUTPUT')\n    return 1", kernel)
    link, _ = direct_link(kernel)
    judge = Judge(link, "")
    v = judge.run_cell("print('the test says hi')\nassert noisy() == 1", "t")
    assert v.passed and v.stdout == "the test says hi\n"


def test_earlier_tasks_answer_with_the_reference():
    # the student's relu is wrong (identity); while task2 is graded, relu answers with the reference
    reference = {"task1": "def relu(x):\n    return np.maximum(x, 0)", "task2": "def mlp(x):\n    return relu(x) * 2"}
    judge, kernel = _judge(reference=reference)
    src = "assert_close(mlp(np.array([-1.0, 3.0])), [0.0, 6.0])"
    assert not judge.run_cell(src, "test_task2").passed
    v = judge.run_cell(src, "test_task2", earlier_tasks=["task1"])
    assert v.passed, v.evalue
    assert kernel["relu"](np.array([-1.0]))[0] == -1.0   # the student's own is back afterwards


def test_a_locked_cell_after_the_reference_was_built_reaches_it():
    """A PyTorch part's locked imports, added after an earlier test built the reference namespace,
    are there when a later task's reference runs (it raised NameError: unit 06's vae_loss)."""
    reference = {"task1": "def relu2(x):\n    return twice(np.maximum(x, 0))",
                 "task2": "def plus_relu2(x):\n    return relu2(x) + 1"}
    judge, kernel = _judge(reference=reference)
    exec("def plus_relu2(x):\n    return relu2(x) + 1", kernel)
    judge.reference_namespace()                          # built now, before the locked cell
    judge.add_setup("def twice(x):\n    return 2 * x")
    exec("def twice(x):\n    return 2 * x", kernel)
    v = judge.run_cell("assert_close(plus_relu2(np.array([-1.0, 3.0])), [1.0, 7.0])", "test_task2",
                       earlier_tasks=["task1"])
    assert v.passed, v.evalue


def test_measure_in_the_judge_uses_the_meter():
    judge, _ = _judge()
    from course_lib.grading import Measurement

    class FakeMeter:
        def __call__(self):
            import contextlib

            @contextlib.contextmanager
            def cm():
                m = Measurement()
                yield m
                m.cpu_s, m.peak_mb = 1.25, 321.0
            return cm()

    judge.meter = FakeMeter()
    v = _run(judge, "with measure() as m:\n    add(1, 2)\nassert m.peak_mb == 321.0 and m.cpu_s == 1.25")
    assert v.passed, v.evalue


def test_test_objects_can_be_sent_to_the_students_code():
    torch = pytest.importorskip("torch")
    kernel = {"__name__": "__main__"}
    exec("def n_params(model):\n    return sum(p.numel() for p in model.parameters())\n"
         "def apply(model, x):\n    return model(x)", kernel)
    link, _ = direct_link(kernel)
    judge = Judge(link, "import torch\n")
    v = judge.run_cell("lin = torch.nn.Linear(3, 2)\nassert n_params(lin) == 8\n"
                       "x = torch.ones(1, 3)\nassert torch.allclose(apply(lin, x), lin(x).detach())", "t")
    assert v.passed, v.evalue
    _ = torch


# ------------------------------------------------------------------ a real kernel


@pytest.fixture
def kernel():
    """A started kernel (sandboxed when root) with its client and a judge Link."""
    from jupyter_client import BlockingKernelClient

    from autograder.pipeline.steps.judge import DeadlineSocketTransport, Link, meter_for
    from autograder.runtime.kernels import release_kernel, take_kernel
    from autograder.runtime.sandbox import Limits, can_isolate

    sandbox = (Limits(memory_mb=1024), ()) if can_isolate() else None
    km, kdir, _ = take_kernel("python3", ("course_lib.agent", "numpy"), sandbox=sandbox, defer_spare=True,
                              forbid=("scipy.spatial",))
    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    kc.wait_for_ready(60)

    class K:
        pass

    k = K()
    k.km, k.kc = km, kc
    k.link = Link(DeadlineSocketTransport(km.course_agent.accept(30)))
    k.meter = meter_for(km)

    def run(code):
        outs = []
        kc.execute_interactive(code, timeout=60, output_hook=lambda m: outs.append(m["content"]))
        return outs

    k.run = run
    yield k
    kc.stop_channels()
    release_kernel(km, kdir)


def _serve_and_judge(k, judge, source, seconds=20.0):
    from autograder.pipeline.steps.execute import SERVE_CODE

    msg_id = k.kc.execute(SERVE_CODE, silent=True)
    v = judge.run_cell(source, "test_k", deadline=time.monotonic() + seconds)
    return v, msg_id


@pytest.mark.slow
def test_real_kernel_answers_and_forbidden_modules_are_gone(kernel):
    outs = kernel.run("import numpy as np\ndef big(n):\n    return np.ones((n, n)) @ np.ones((n, n))\n"
                      "try:\n    from scipy.spatial.distance import cdist\n    print('IMPORTED')\n"
                      "except ImportError as e:\n    print('REFUSED', e)")
    text = "".join(o.get("text", "") for o in outs)
    assert "REFUSED" in text and "not available while this task is graded" in text and "IMPORTED" not in text
    judge = Judge(kernel.link, "import numpy as np\nfrom course_lib.grading import measure\n", meter=kernel.meter)
    v, _ = _serve_and_judge(kernel, judge, "with measure() as m:\n    r = big(1500)\n"
                                           "assert r.shape == (1500, 1500) and r[0, 0] == 1500\n"
                                           "print(m.cpu_s, m.peak_mb)")
    assert v.passed, v.evalue
    cpu, peak = map(float, v.stdout.split())
    assert cpu > 0.05, "the kernel's CPU time was measured from outside"
    assert peak > 30, "three 1500x1500 float64 arrays (18 MB each) were measured from outside"
    kernel.link.end()


@pytest.mark.slow
def test_real_kernel_timeout_is_a_verdict_and_the_kernel_recovers(kernel):
    from jupyter_core.utils import run_sync

    kernel.run("def spin():\n    while True:\n        pass")
    judge = Judge(kernel.link, "")
    v, msg_id = _serve_and_judge(kernel, judge, "try:\n    spin()\nexcept Exception:\n    pass", seconds=1.5)
    assert not v.passed and v.timed_out    # swallowing the timeout does not pass the test
    run_sync(kernel.km.interrupt_kernel)()
    kernel.link.fault = None
    kernel.link.transport.deadline = time.monotonic() + 10
    kernel.link.end()
    kernel.link.transport.deadline = None
    reply = kernel.kc.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    outs = kernel.run("print('alive')")
    assert any("alive" in o.get("text", "") for o in outs)


def test_changes_to_list_and_dict_arguments_come_back():
    kernel = {"__name__": "__main__"}
    exec("import numpy as np\n"
         "def update(bn, hist, x):\n"
         "    bn['running_mean'] = bn.get('running_mean', 0) + 1.0\n"
         "    hist.append(len(hist))\n"
         "    return x\n"
         "def scale_inside(d):\n"
         "    d['w'] *= 2\n", kernel)
    link, _ = direct_link(kernel)
    judge = Judge(link, "import numpy as np\n")
    v = judge.run_cell("bn = {'mode': 'train'}\nhist = [7]\nupdate(bn, hist, 1)\nupdate(bn, hist, 1)\n"
                       "assert bn == {'mode': 'train', 'running_mean': 2.0}, bn\nassert hist == [7, 1, 2], hist\n"
                       "d = {'w': np.ones(2)}\nscale_inside(d)\nassert list(d['w']) == [2.0, 2.0], d", "t")
    assert v.passed, v.evalue


def test_changes_made_by_a_reference_function_come_back_to_the_students_code():
    """An earlier task's function answered by the reference (in the judge) changes its dict argument in place, as
    the student's own would: the student's later function that passed the dict sees the change (unit 02's network
    keeps batch norm's running statistics in the bn_param dicts the reference batchnorm_forward updates)."""
    import gc

    gc.collect()   # a socket an earlier test left behind must not warn while the student's code runs
    kernel = {"__name__": "__main__"}
    exec("import numpy as np\n"
         "def bn_step(bn, x):\n    return x\n"                     # the student's (wrong: it updates nothing)
         "def net(bns, x):\n    for bn in bns:\n        x = bn_step(bn, x)\n    return x\n", kernel)
    link, _ = direct_link(kernel)
    reference = {"task1": "def bn_step(bn, x):\n    bn['mean'] = bn.get('mean', 0.0) + x.mean()\n    return x",
                 "task2": "def net(bns, x):\n    for bn in bns:\n        x = bn_step(bn, x)\n    return x"}
    judge = Judge(link, "import numpy as np\n", reference=reference)
    src = "bns = [{}, {'mean': 1.0}]\nnet(bns, np.full(3, 2.0))\nassert bns == [{'mean': 2.0}, {'mean': 3.0}], bns"
    v = judge.run_cell(src, "test_task2", earlier_tasks=["task1"])
    assert v.passed, v.evalue
    assert not judge.run_cell(src, "test_task2").passed       # the student's own bn_step changes nothing
