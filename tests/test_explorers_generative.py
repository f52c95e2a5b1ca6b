"""Unit 06's explorers (course_lib.explorers.generative), headless.

Each "things to try" suggestion of lecture 06's explorers is checked here as written (the test's
docstring quotes it); the lecture's text and these tests change together. The numbers of
:func:`divergence_1d` are checked against closed forms (Gaussians of equal spread) and against
SciPy on a discretisation (an oracle that shares no code with it).
"""
from __future__ import annotations

import base64
import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm, wasserstein_distance

from course_lib.explorers.generative import (
    DATA_1D,
    DivergenceExplorer,
    RingGANExplorer,
    VAELatentExplorer,
    decode_latent,
    divergence_1d,
    latent_interpolation,
    modes_covered,
    ring_centres,
    ring_of_gaussians,
    train_digits_vae,
    train_ring_gan,
)

PNG = b"\x89PNG\r\n\x1a\n"
LOG2 = math.log(2.0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def divergence():
    e = DivergenceExplorer()
    e.render = False
    return e


@pytest.fixture(scope="module")
def ring():
    return RingGANExplorer()


@pytest.fixture(scope="module")
def latent():
    return VAELatentExplorer()


# ---- the 1-D divergences -------------------------------------------------------------------------

@pytest.mark.parametrize("mean,std,data", [(1.0, 1.0, "gaussian"), (3.0, 0.5, "gaussian"), (-1.5, 2.0, "gaussian"),
                                           (0.5, 1.2, "two modes"), (2.0, 0.5, "two modes")])
def test_value_is_minus_2log2_plus_2jsd_and_jsd_matches_scipy(mean, std, data):
    r = divergence_1d(mean, std, data=data)
    assert r["value"] == pytest.approx(-2 * LOG2 + 2 * r["jsd"], abs=1e-9)
    # SciPy's jensenshannon (base e) on the densities binned on a fine grid: its square is the JSD
    x = np.linspace(-15, 15, 30001)
    p = sum(w * norm.pdf(x, m, s) for w, m, s in DATA_1D[data])
    q = norm.pdf(x, mean, std)
    assert r["jsd"] == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-6)
    # D* is p/(p+q) and no other D does better: perturbing it lowers V
    d = r["_d_star"]
    np.testing.assert_allclose(d, r["_p"] / (r["_p"] + r["_q"]), atol=1e-12)


def test_w1_and_kl_closed_forms_for_gaussians():
    for mean in (0.5, 3.0, 7.0):
        r = divergence_1d(mean, 1.0)
        assert r["w1"] == pytest.approx(mean, abs=1e-6)                   # equal spreads: W1 = |shift|
        assert r["kl_data_gen"] == pytest.approx(mean ** 2 / 2, rel=1e-6)  # KL(N(0,1) || N(m,1)) = m^2/2
    r = divergence_1d(1.0, 2.0)
    kl = math.log(2.0) + (1 + 1) / (2 * 4) - 0.5                          # KL(N(0,1) || N(1, 4))
    assert r["kl_data_gen"] == pytest.approx(kl, rel=1e-6)
    rng = np.random.default_rng(0)
    mc = wasserstein_distance(rng.standard_normal(200_000), 1.0 + 2.0 * rng.standard_normal(200_000))
    assert r["w1"] == pytest.approx(mc, abs=0.02)


def test_gradients_are_the_minimax_and_ns_gradients_through_d_star():
    """grad_minimax = E_q |d/dx log(1 - D*(x))| and grad_ns = E_q |d/dx (-log D*(x))|, checked by autograd."""
    mean, std = 1.5, 0.8
    r = divergence_1d(mean, std)
    xs = torch.linspace(mean - 8 * std, mean + 8 * std, 20001, dtype=torch.float64, requires_grad=True)
    p = torch.exp(-xs ** 2 / 2) / math.sqrt(2 * math.pi)
    q = torch.exp(-(xs - mean) ** 2 / (2 * std ** 2)) / (std * math.sqrt(2 * math.pi))
    d = p / (p + q)
    (g_mm,) = torch.autograd.grad(torch.log(1 - d).sum(), xs, retain_graph=True)
    (g_ns,) = torch.autograd.grad((-torch.log(d)).sum(), xs)
    w = q.detach().numpy()
    x = xs.detach().numpy()
    assert r["grad_minimax"] == pytest.approx(np.trapezoid(w * np.abs(g_mm.numpy()), x), rel=1e-4)
    assert r["grad_ns"] == pytest.approx(np.trapezoid(w * np.abs(g_ns.numpy()), x), rel=1e-4)


def test_divergence_rejects_bad_input():
    with pytest.raises(ValueError, match="data must be one of"):
        divergence_1d(0.0, 1.0, data="uniform")
    with pytest.raises(ValueError, match="gen_std"):
        divergence_1d(0.0, 0.0)
    with pytest.raises(ValueError, match="gen_mean"):
        divergence_1d(float("nan"), 1.0)


def test_divergence_explorer_draws_before_any_control_moves():
    e = DivergenceExplorer()
    assert e.png.startswith(PNG) and len(e.png) > 5000
    bundle = e._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    before = e.png
    e.controls["gen_mean"].value = 8.0                  # what a slider move does
    assert e.last["w1"] == pytest.approx(8.0, abs=1e-6) and e.png != before


def test_try_slide_far_away_jsd_pins_w1_grows(divergence):
    """"Slide the generator's mean from 3 to 12 with spread 1: JSD climbs to log 2 = 0.693 (at 8 it is
    within 0.0001 of it) while W1 equals the distance (3, 8, 12) and keeps growing.\""""
    rs = {m: divergence.update(data="gaussian", gen_std=1.0, gen_mean=m) for m in (3.0, 8.0, 12.0)}
    assert rs[3.0]["jsd"] < LOG2 - 0.1
    assert LOG2 - 1e-4 < rs[8.0]["jsd"] <= LOG2 + 1e-12 and rs[12.0]["jsd"] == pytest.approx(LOG2, abs=1e-8)
    for m, r in rs.items():
        assert r["w1"] == pytest.approx(m, abs=1e-6)
    jsd, w1 = divergence.sweep("gaussian", 1.0)
    far = divergence.SWEEP >= 8
    assert np.all(np.abs(jsd[far] - LOG2) < 1e-4) and np.all(np.diff(w1[far]) > 0.4)


def test_try_watch_the_gradients(divergence):
    """"Watch the two gradients as the mean moves away: the minimax gradient shrinks (0.30 at 3, below 0.001
    at 8) while the non-saturating one grows with the distance (2.7 at 3, 8.0 at 8).\""""
    r3 = divergence.update(data="gaussian", gen_std=1.0, gen_mean=3.0)
    r8 = divergence.update(gen_mean=8.0)
    assert r3["grad_minimax"] == pytest.approx(0.30, abs=0.005) and r8["grad_minimax"] < 1e-3
    assert r3["grad_ns"] == pytest.approx(2.7, abs=0.01) and r8["grad_ns"] == pytest.approx(8.0, abs=0.01)


def test_try_g_equals_the_data(divergence):
    """"Set mean 0 and spread 1: G is the data, D* = 1/2 everywhere, V = -2 ln 2 = -1.386 and JSD = W1 = 0.\""""
    r = divergence.update(data="gaussian", gen_mean=0.0, gen_std=1.0)
    np.testing.assert_allclose(divergence.last["_d_star"], 0.5, atol=1e-12)
    assert r["value"] == pytest.approx(-2 * LOG2, abs=1e-9) and round(r["value"], 3) == -1.386
    assert abs(r["jsd"]) < 1e-12 and abs(r["w1"]) < 1e-9


def test_try_two_modes(divergence):
    """"Choose data 'two modes': a G sitting on one mode (mean 2, spread 0.5) has KL(p || q) = 15.3, a G
    spread over both (mean 0, spread 2.1) only 0.72, so maximum likelihood covers both modes; JSD hardly
    tells them apart (0.216 against 0.201).\""""
    one = divergence.update(data="two modes", gen_mean=2.0, gen_std=0.5)
    both = divergence.update(gen_mean=0.0, gen_std=2.1)
    assert round(one["kl_data_gen"], 1) == 15.3 and round(both["kl_data_gen"], 2) == 0.72
    assert round(one["jsd"], 3) == 0.216 and round(both["jsd"], 3) == 0.201


# ---- the ring of 8 --------------------------------------------------------------------------------

def test_ring_data_and_mode_counting():
    c = ring_centres()
    assert c.shape == (8, 2) and np.allclose(np.linalg.norm(c, axis=1), 2.0)
    x = ring_of_gaussians(4000, seed=3)
    m = modes_covered(x, c)
    assert m["covered"] == 8 and m["near"] > 0.99 and abs(m["per_mode"].sum() - m["near"]) < 1e-12
    collapsed = np.repeat(c[:2], 50, axis=0)                     # all samples on two modes
    m2 = modes_covered(collapsed, c)
    assert m2["covered"] == 2 and m2["near"] == 1.0
    assert modes_covered(np.zeros((10, 2)), c)["covered"] == 0   # the centre of the ring is near no mode
    np.testing.assert_array_equal(ring_of_gaussians(5, seed=1), ring_of_gaussians(5, seed=1))
    with pytest.raises(ValueError, match="loss must be one of"):
        train_ring_gan("hinge")


def test_ring_training_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = train_ring_gan("ns", steps=3, snapshot_every=1)
    assert torch.equal(torch.rand(3), expected)
    b = train_ring_gan("ns", steps=3, snapshot_every=1)
    assert a["steps"] == [0, 1, 2, 3] and np.array_equal(a["samples"][-1], b["samples"][-1])


def test_ring_explorer_draws_and_moves(ring):
    ring.render = True
    assert ring.png.startswith(PNG) and len(ring.png) > 5000
    assert ring.last["step"] == 1000
    before = ring.png
    ring.controls["step"].value = 0
    assert ring.last["step"] == 0 and ring.last["covered"] == 0 and ring.png != before
    ring.update(step=1000)


def test_try_slide_the_steps(ring):
    """"Slide `step` from 0 to the end: the modes covered go from 0 to 8 and the share of samples near a mode
    rises from 0 to over 60 %.\""""
    ring.render = False
    r = ring.run("ns")
    assert r["covered"][0] == 0 and r["near"][0] == 0.0
    assert r["covered"][-1] == 8 and r["near"][-1] > 0.6
    first = ring.update(loss="ns", step=0)
    last = ring.update(step=1000)
    assert (first["covered"], last["covered"]) == (0, 8) and last["near"] > 0.6


def test_try_minimax(ring):
    """"Choose `minimax`: the run covers the modes too but ends with fewer samples near one (about 51 %
    against 64 %).\""""
    ring.render = False
    ns = ring.update(loss="ns", step=1000)
    mm = ring.update(loss="minimax", step=1000)
    assert mm["covered"] == 8 and mm["near"] < ns["near"] - 0.08
    assert round(mm["near"], 2) == pytest.approx(0.51, abs=0.015) and round(ns["near"], 2) == pytest.approx(0.64, abs=0.015)
    ring.update(loss="ns")


# ---- the VAE's latent space -------------------------------------------------------------------------

def test_vae_training_and_interpolation_ends(latent):
    h = latent.history
    assert h["test_loss"] < 26.0 and h["loss"][-1] < h["loss"][0]
    X = h["X_test"]
    codes, imgs = latent_interpolation(latent.vae, X[0], X[1], 5)
    assert codes.shape == (5, 2) and imgs.shape == (5, 8, 8)
    np.testing.assert_allclose(codes[[0, -1]], h["mu_test"][:2], atol=1e-5)      # the ends are the means
    np.testing.assert_allclose(imgs[0], decode_latent(latent.vae, h["mu_test"][0]), atol=1e-6)
    assert imgs.min() >= 0 and imgs.max() <= 1
    with pytest.raises(ValueError, match="latent coordinates"):
        decode_latent(latent.vae, np.zeros(3))
    with pytest.raises(ValueError, match="steps"):
        latent_interpolation(latent.vae, X[0], X[1], 1)


def test_vae_explorer_draws_and_rejects_other_latent_sizes(latent):
    latent.render = True
    assert latent.png.startswith(PNG) and len(latent.png) > 5000
    before = latent.png
    latent.controls["z1"].value = 1.0
    assert latent.last["z"] == [1.0, 0.0] and latent.png != before
    latent.update(z1=0.0)
    vae3, h3 = train_digits_vae(latent_dim=3, epochs=1)
    with pytest.raises(ValueError, match="latent_dim=3"):
        VAELatentExplorer(vae3, h3)


def test_try_the_default_walk(latent):
    """"The default walk, from the first test 0 to the first test 4: the decoded images turn from a 0 into a 4
    (nearest class mean 0 at the start, 4 at the end).\""""
    latent.render = False
    r = latent.update(start=0, end=4)
    assert r["walk_classes"][0] == 0 and r["walk_classes"][-1] == 4
    assert set(r["walk_classes"]) == {0, 4}


def test_try_walk_through_a_third_class(latent):
    """"Walk from 4 to 7: images in the middle of the walk are nearest to a 1, as the straight line between
    two codes crosses the region of a third digit.\""""
    latent.render = False
    r = latent.update(start=4, end=7)
    assert r["walk_classes"][0] == 4 and r["walk_classes"][-1] == 7 and 1 in r["walk_classes"][1:-1]
    latent.update(start=0, end=4)


def test_try_move_z_to_a_cluster(latent):
    """"Put (z1, z2) in a cluster of codes, (-0.2, 1.7) among the 6s or (1.3, 0.9) among the 4s: the decoded
    digit is nearest to that class's mean.\""""
    latent.render = False
    assert latent.update(z1=-0.2, z2=1.7)["nearest_class"] == 6
    assert latent.update(z1=1.3, z2=0.9)["nearest_class"] == 4
    mu, y = latent.history["mu_test"], latent.history["y_test"]
    assert np.linalg.norm(mu[y == 6].mean(0) - [-0.2, 1.7]) < 0.2 and np.linalg.norm(mu[y == 4].mean(0) - [1.3, 0.9]) < 0.2
    latent.update(z1=0.0, z2=0.0)


def test_codes_spread_like_the_prior(latent):
    """The KL term pulls the codes of the test digits towards N(0, I): mean near 0, spread near 1."""
    mu = latent.history["mu_test"]
    assert np.all(np.abs(mu.mean(0)) < 0.2) and np.all((mu.std(0) > 0.7) & (mu.std(0) < 1.3))


def test_discrete_worked_example():
    """The lecture's numbers: p = (0.5, 0.3, 0.2), q = (0.2, 0.3, 0.5)."""
    from course_lib.explorers.generative import discrete_gan_divergences

    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    r = discrete_gan_divergences(p, q)
    np.testing.assert_allclose(r["d_star"], [5 / 7, 0.5, 2 / 7])
    assert round(r["value"], 5) == -1.25347 and round(r["jsd"], 5) == 0.06641
    assert r["value"] == pytest.approx(-2 * LOG2 + 2 * r["jsd"], abs=1e-12)
    for delta in (-0.05, 0.05):
        assert discrete_gan_divergences(p, q, r["d_star"] + delta)["value"] < r["value"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # 0 log 0 is 0, silently
        disjoint = discrete_gan_divergences(np.array([0.5, 0.5, 0, 0]), np.array([0, 0, 0.5, 0.5]))
    assert disjoint["jsd"] == pytest.approx(LOG2) and disjoint["value"] == 0.0 and disjoint["w1"] == 2.0
    with pytest.raises(ValueError, match="probability vectors"):
        discrete_gan_divergences(np.array([0.5, 0.6]), np.array([0.5, 0.5]))


def test_ring_explorer_reuses_a_given_run():
    run = train_ring_gan("ns", steps=20, snapshot_every=10)
    e = RingGANExplorer(steps=20, snapshot_every=10, runs={"ns": run})
    assert e.runs["ns"] is run and e.last["step"] == 20
