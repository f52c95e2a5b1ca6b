"""course_lib.device on CPU (the GPU paths are exercised on a GPU machine)."""
from __future__ import annotations

import collections
import contextlib
import time

import numpy as np
import pytest
import torch

from course_lib import device as D


def test_get_device_env_and_argument(monkeypatch):
    monkeypatch.setenv(D.ENV_VAR, "cpu")
    assert D.get_device().type == "cpu"
    assert D.get_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            D.get_device("cuda")


def test_seed_everything_returns_generator_and_repeats():
    g1 = D.seed_everything(5)
    a = torch.rand(3), g1.random()
    g2 = D.seed_everything(5)
    b = torch.rand(3), g2.random()
    assert torch.equal(a[0], b[0]) and a[1] == b[1]


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
