"""course_lib.device on CPU (the GPU paths are exercised on a GPU machine)."""
from __future__ import annotations

import collections
import contextlib
import random
import time

import numpy as np
import pytest
import torch

from course_lib import device as D


def test_get_device_env_and_argument(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(D.ENV_VAR, "cuda")
    # the variable is read: asking for CUDA through it on a machine without CUDA is an error...
    with pytest.raises(RuntimeError, match=f"CUDA is not available.*{D.ENV_VAR}"):
        D.get_device()
    # ...but an explicit argument wins over it
    assert D.get_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA"):
        D.get_device("cuda:0")


def test_get_device_env_selects_cpu_over_available_gpu(monkeypatch):
    # with a (pretend) GPU present the automatic choice is CUDA, so only the variable can give the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    assert D.get_device().type == "cuda"
    monkeypatch.setenv(D.ENV_VAR, "cpu")
    assert D.get_device() == torch.device("cpu")


def test_get_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert D.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert D.get_device() == torch.device("mps")


def test_seed_everything_returns_generator_and_repeats():
    g1 = D.seed_everything(5)
    a = torch.rand(3), g1.random(), np.random.random(3), random.random()
    g2 = D.seed_everything(5)
    b = torch.rand(3), g2.random(), np.random.random(3), random.random()
    assert torch.equal(a[0], b[0]) and a[1] == b[1]
    np.testing.assert_array_equal(a[2], b[2])   # NumPy's global generator
    assert a[3] == b[3]                         # Python's random module
    D.seed_everything(6)
    assert not torch.equal(torch.rand(3), a[0]) and np.random.random(3)[0] != a[2][0]
    assert random.random() != a[3]


def test_seed_everything_deterministic_switches_on_and_off():
    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(), cudnn.deterministic, cudnn.benchmark)
    try:
        cudnn.benchmark = True
        D.seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert cudnn.deterministic and not cudnn.benchmark
        D.seed_everything(0, deterministic=True)       # twice on, then off: still the user's value
        D.seed_everything(0)
        assert not torch.are_deterministic_algorithms_enabled()
        assert not cudnn.deterministic and cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(before[0])
        cudnn.deterministic, cudnn.benchmark = before[1], before[2]


def test_describe_one_line():
    line = D.describe("cpu")
    assert "\n" not in line and "torch" in line and "cpu" in line


def test_autocast_cpu_is_noop_unless_bf16_requested():
    ctx = D.autocast("cpu")
    assert isinstance(ctx, contextlib.nullcontext)
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with D.autocast("cpu"):
        assert lin(x).dtype == torch.float32
    with D.autocast("cpu", dtype=torch.bfloat16):
        assert lin(x).dtype == torch.bfloat16
    assert isinstance(D.autocast("cpu", dtype=torch.float16), contextlib.nullcontext)


def test_memory_stats_cpu():
    s = D.memory_stats("cpu")
    assert s["device"] == "cpu" and s["rss"] > 1.0


def test_timer_measures_sleep():
    with D.Timer("cpu", name="sleep") as t:
        assert t.elapsed is None
        time.sleep(0.02)
    assert 0.015 < t.elapsed < 1.0
    assert "sleep" in repr(t)
    with D.timed("cpu") as t2:
        pass
    assert t2.elapsed >= 0


def test_to_device_nested():
    Pair = collections.namedtuple("Pair", "x y")
    batch = {"a": torch.ones(2), "b": [torch.zeros(1), (torch.ones(1), 3, "s")],
             "p": Pair(torch.ones(1), np.ones(2))}
    out = D.to_device(batch, "cpu")
    assert set(out) == {"a", "b", "p"}
    assert isinstance(out["b"], list) and isinstance(out["b"][1], tuple)
    assert out["b"][1][1] == 3 and out["b"][1][2] == "s"
    assert isinstance(out["p"], Pair) and isinstance(out["p"].y, np.ndarray)
    assert out["a"].device.type == "cpu"
    dd = collections.defaultdict(list, {"x": torch.ones(1)})
    assert torch.equal(D.to_device(dd, "cpu")["x"], torch.ones(1))


# ---- run only where a GPU exists (checked on a GPU machine) ----------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_cuda_paths():
    dev = D.get_device("cuda")
    lin = torch.nn.Linear(8, 4).to(dev)
    x = torch.randn(3, 8, device=dev)
    with D.autocast(dev):
        y = lin(x)
    assert y.dtype in (torch.bfloat16, torch.float16)
    with D.autocast(dev, dtype=torch.float16):
        assert lin(x).dtype == torch.float16
    torch.cuda.reset_peak_memory_stats(dev)
    big = torch.empty(64 * 2**20, dtype=torch.uint8, device=dev)
    s = D.memory_stats(dev)
    assert s["allocated"] >= 64 and s["peak"] >= 64 and s["reserved"] >= s["allocated"]
    del big
    with D.Timer(dev) as t:
        torch.randn(2048, 2048, device=dev) @ torch.randn(2048, 2048, device=dev)
    assert t.elapsed > 0
    out = D.to_device({"a": [torch.ones(2)], "b": (torch.zeros(1), 3)}, dev)
    assert out["a"][0].device.type == "cuda" and out["b"][1] == 3


@cuda
def test_fit_and_models_on_cuda():
    from torch.utils.data import DataLoader, TensorDataset

    from course_lib import models as M
    from course_lib.train import fit, predict

    X, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    model = M.SmallCNN()
    hist = fit(model, loader, loader, epochs=2, optimizer=torch.optim.Adam(model.parameters()),
               loss_fn=torch.nn.functional.cross_entropy, device="cuda", amp=True, progress=False)
    assert next(model.parameters()).device.type == "cuda" and len(hist["val_acc"]) == 2
    assert predict(model, X, device="cuda").device.type == "cpu"
    lm = M.TransformerLM(11, d_model=16, nhead=2, num_layers=1, dim_ff=32).to("cuda")
    assert lm(torch.randint(0, 11, (2, 5), device="cuda")).shape == (2, 5, 11)
    rnn = M.CharRNN(11).to("cuda")
    assert rnn.generate(torch.tensor([1, 2]), 5).shape == (7,)
    vae = M.VAE().to("cuda")
    rec, mu, logvar = vae(torch.rand(4, 64, device="cuda"))
    assert M.vae_loss(rec, torch.rand(4, 64, device="cuda"), mu, logvar).isfinite()
    assert M.Generator(4, (2,)).to("cuda").sample(3).device.type == "cuda"
