"""Explorers and demos of unit 06 (generative models: GANs and VAEs).

- :func:`divergence_1d` behind :class:`DivergenceExplorer`: a 1-D data distribution and a Gaussian
  generator; the optimal discriminator ``D*(x) = p/(p+q)``, the value ``V(G, D*)``, the
  Jensen-Shannon divergence, the earth mover's distance ``W1`` and the mean size of the two
  generator gradients (minimax ``log(1 - D)`` and non-saturating ``-log D``) at G's samples;
- :func:`ring_of_gaussians`, :func:`modes_covered` and :func:`train_ring_gan` behind
  :class:`RingGANExplorer`: a small GAN (:class:`course_lib.models.Generator`,
  :class:`course_lib.models.Discriminator`) trained once on a ring of 8 Gaussians, with snapshots
  the explorer steps through (moving a control costs no training);
- :func:`train_digits_vae`, :func:`decode_latent` and :func:`latent_interpolation` behind
  :class:`VAELatentExplorer`: a 2-D latent :class:`course_lib.models.VAE` on the 8x8 digits,
  two latent sliders and a walk between two digits.

Every density and every expectation of :func:`divergence_1d` is computed on a fine grid in log
space (``D*`` from ``logaddexp``), so that far-apart distributions give ``JSD -> log 2`` and a
vanishing ``D*`` instead of ``0/0``. The explorers draw their figure when built, before any
control moves, and carry it as a static PNG beside the widget (see :mod:`course_lib.explorers.linear`).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import logsumexp
from scipy.stats import norm, wasserstein_distance

from ..widgets import Explorer, _slider
from .linear import _StaticFigure

if TYPE_CHECKING:
    from ..models import VAE

__all__ = ["DATA_1D", "discrete_gan_divergences", "divergence_1d", "DivergenceExplorer", "ring_of_gaussians", "ring_centres",
           "modes_covered", "RING_LOSSES", "train_ring_gan", "RingGANExplorer", "train_digits_vae",
           "decode_latent", "latent_interpolation", "VAELatentExplorer"]

#: The 1-D data distributions :func:`divergence_1d` knows: name -> list of (weight, mean, std).
DATA_1D: dict[str, list[tuple[float, float, float]]] = {
    "gaussian": [(1.0, 0.0, 1.0)],
    "two modes": [(0.5, -2.0, 0.5), (0.5, 2.0, 0.5)],
}


def _log_mixture(x: np.ndarray, parts: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """log density of a Gaussian mixture at ``x`` and its derivative d/dx log density."""
    logs = np.stack([math.log(w) + norm.logpdf(x, m, s) for w, m, s in parts])
    logp = logsumexp(logs, axis=0)
    resp = np.exp(logs - logp)                                   # posterior of each component
    dlog = sum(r * (-(x - m) / s ** 2) for r, (_, m, s) in zip(resp, parts))
    return logp, np.asarray(dlog)


def _cdf_mixture(x: np.ndarray, parts: list[tuple[float, float, float]]) -> np.ndarray:
    return np.asarray(sum(w * norm.cdf(x, m, s) for w, m, s in parts))


def discrete_gan_divergences(p_data: np.ndarray, p_gen: np.ndarray, d: np.ndarray | None = None) -> dict[str, Any]:
    """The GAN value and the divergences of two distributions on K points, for the lecture's worked example.

    Args:
        p_data, p_gen: (K,) probabilities (non-negative, summing to 1).
        d: (K,) discriminator outputs in (0, 1) at which ``value`` is computed; default the optimal
            ``D* = p_data / (p_data + p_gen)`` (points where both are 0 get 1/2).

    Returns:
        dict with ``d_star`` (K,), ``value`` = ``sum p_data log D + sum p_gen log(1 - D)`` (0 log 0 = 0),
        ``jsd`` (nats, from SciPy's ``jensenshannon``, squared) and ``w1`` (SciPy's
        ``wasserstein_distance`` with the K points at 0, 1, ..., K-1).

    Introduced in lecture 06_generative.
    """
    p, q = np.asarray(p_data, dtype=np.float64), np.asarray(p_gen, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1 or (p < 0).any() or (q < 0).any() \
            or abs(p.sum() - 1) > 1e-9 or abs(q.sum() - 1) > 1e-9:
        raise ValueError(f"p_data and p_gen must be (K,) probability vectors of one shape, got {p} and {q}")
    tot = p + q
    d_star = np.divide(p, tot, out=np.full_like(p, 0.5), where=tot > 0)
    dd = d_star if d is None else np.asarray(d, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):     # the 0 * log 0 that np.where then drops
        value = float(np.sum(np.where(p > 0, p * np.log(dd), 0.0)) + np.sum(np.where(q > 0, q * np.log1p(-dd), 0.0)))
    k = np.arange(len(p), dtype=np.float64)
    return {"d_star": d_star, "value": value, "jsd": float(jensenshannon(p, q) ** 2),
            "w1": float(wasserstein_distance(k, k, p, q))}


def divergence_1d(gen_mean: float, gen_std: float, *, data: str = "gaussian", n_grid: int = 6001) -> dict[str, Any]:
    """What the optimal discriminator sees when the data are ``data`` and the generator is
    ``N(gen_mean, gen_std^2)`` (Goodfellow et al., 2014, section 4; Arjovsky et al., 2017).

    With ``p`` the data density and ``q`` the generator's:

    - ``D*(x) = p(x) / (p(x) + q(x))`` (from ``logaddexp``: exact 0 and 1 never occur);
    - ``value = E_p log D* + E_q log(1 - D*) = -2 log 2 + 2 JSD(p, q)``;
    - ``jsd`` in nats, from its definition ``1/2 KL(p || m) + 1/2 KL(q || m)``, ``m = (p + q)/2``
      (at most ``log 2``, reached when the supports do not overlap);
    - ``w1 = integral |F_p - F_q| dx`` (the 1-D earth mover's distance, from the exact CDFs);
    - ``kl_data_gen = KL(p || q)``, the divergence maximum likelihood minimises;
    - ``grad_minimax`` and ``grad_ns``: the mean over G's samples of ``|d/dx log(1 - D*(x))|`` and
      ``|d/dx (-log D*(x))|``, the gradients that reach the generator's output with D fixed at
      ``D*``. They are ``D* |s(x)|`` and ``(1 - D*) |s(x)|`` with ``s = d/dx log q - d/dx log p``:
      where D confidently rejects G's samples (``D* -> 0``) the minimax gradient vanishes and the
      non-saturating one does not.

    Args:
        gen_mean: the generator's mean, in [-30, 30]; gen_std: its standard deviation, in [0.05, 10].
        data: a key of :data:`DATA_1D`.
        n_grid: grid points (trapezoid rule) over [min mean - 10 std, max mean + 10 std].

    Returns:
        dict of floats ``value``, ``jsd``, ``w1``, ``kl_data_gen``, ``grad_minimax``, ``grad_ns``,
        ``d_star_at_gen_mean``, and, for drawing, arrays ``_x``, ``_p``, ``_q``, ``_d_star``.

    Introduced in lecture 06_generative.
    """
    if data not in DATA_1D:
        raise ValueError(f"data must be one of {sorted(DATA_1D)}, got {data!r}")
    if not (np.isfinite(gen_mean) and -30 <= gen_mean <= 30):
        raise ValueError(f"gen_mean must be a number in [-30, 30], got {gen_mean}")
    if not (np.isfinite(gen_std) and 0.05 <= gen_std <= 10):
        raise ValueError(f"gen_std must be in [0.05, 10] (a spread of 0 has no density), got {gen_std}")
    if n_grid < 101:
        raise ValueError(f"n_grid must be >= 101, got {n_grid}")
    parts_p = DATA_1D[data]
    parts_q = [(1.0, float(gen_mean), float(gen_std))]
    lo = min(min(m - 10 * s for _, m, s in parts_p), gen_mean - 10 * gen_std)
    hi = max(max(m + 10 * s for _, m, s in parts_p), gen_mean + 10 * gen_std)
    x = np.linspace(lo, hi, n_grid)
    logp, dlogp = _log_mixture(x, parts_p)
    logq, dlogq = _log_mixture(x, parts_q)
    p, q = np.exp(logp), np.exp(logq)
    log_pq = np.logaddexp(logp, logq)
    log_d, log_1md = logp - log_pq, logq - log_pq               # log D*, log(1 - D*)
    log_m = log_pq - math.log(2.0)

    def expect(w: np.ndarray, f: np.ndarray) -> float:           # integral of w * f, 0 * anything = 0
        return float(np.trapezoid(np.where(w > 0, w * f, 0.0), x))

    jsd = 0.5 * expect(p, logp - log_m) + 0.5 * expect(q, logq - log_m)
    value = expect(p, log_d) + expect(q, log_1md)
    score = dlogq - dlogp
    d_star = np.exp(log_d)
    return {
        "value": value,
        "jsd": jsd,
        "w1": float(np.trapezoid(np.abs(_cdf_mixture(x, parts_p) - _cdf_mixture(x, parts_q)), x)),
        "kl_data_gen": expect(p, logp - logq),
        "grad_minimax": expect(q, d_star * np.abs(score)),
        "grad_ns": expect(q, np.exp(log_1md) * np.abs(score)),
        "d_star_at_gen_mean": float(np.exp(np.interp(gen_mean, x, log_d))),
        "_x": x, "_p": p, "_q": q, "_d_star": d_star,
    }


class DivergenceExplorer(_StaticFigure, Explorer):
    """A Gaussian generator against 1-D data: densities, ``D*(x)``, and the divergences as G moves.

    Controls: ``data`` (a key of :data:`DATA_1D`), ``gen_mean`` and ``gen_std``. The left panel shows
    ``p``, ``q`` and ``D*``; the right one JSD and ``W1`` over a sweep of ``gen_mean`` (computed once
    per ``data``/``gen_std``), with the current mean marked. ``update`` returns the numbers of
    :func:`divergence_1d`.

    Introduced in lecture 06_generative.
    """

    figsize = (10.0, 3.6)
    SWEEP = np.linspace(-12.0, 12.0, 49)

    def __init__(self) -> None:
        self._sweeps: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}
        super().__init__()

    def _controls(self) -> dict:
        return {
            "data": W.Dropdown(options=list(DATA_1D), value="gaussian", description="data"),
            "gen_mean": _slider(3.0, -12.0, 12.0, 0.25, "G mean"),
            "gen_std": _slider(1.0, 0.25, 3.0, 0.05, "G spread"),
        }

    def sweep(self, data: str, gen_std: float) -> tuple[np.ndarray, np.ndarray]:
        """JSD and W1 at every mean of :attr:`SWEEP` (cached per ``data`` and ``gen_std``)."""
        key = (data, round(float(gen_std), 6))
        if key not in self._sweeps:
            rs = [divergence_1d(float(m), float(gen_std), data=data, n_grid=2001) for m in self.SWEEP]
            self._sweeps[key] = (np.array([r["jsd"] for r in rs]), np.array([r["w1"] for r in rs]))
        return self._sweeps[key]

    def compute(self, *, data: str, gen_mean: float, gen_std: float) -> dict:
        return divergence_1d(float(gen_mean), float(gen_std), data=data)

    def draw(self, result: dict, *, data: str, gen_mean: float, gen_std: float) -> None:
        ax, ax2 = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        x = result["_x"]
        ax.fill_between(x, result["_p"], alpha=0.35, color="C0", label="data p")
        ax.fill_between(x, result["_q"], alpha=0.35, color="C3", label="generator q")
        ax.set_xlim(-13, 13)
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        axd = ax.twinx()
        axd.plot(x, result["_d_star"], "k-", lw=1.5, label="D*(x) = p/(p+q)")
        axd.set_ylim(-0.02, 1.02)
        axd.set_ylabel("D*(x)")
        ax.legend(loc="upper left", fontsize=7)
        axd.legend(loc="upper right", fontsize=7)
        ax.set_title(f"V(G, D*) = {result['value']:.3f}, JSD = {result['jsd']:.3f} (log 2 = {math.log(2):.3f})",
                     fontsize=8)
        jsd, w1 = self.sweep(data, gen_std)
        ax2.plot(self.SWEEP, jsd / math.log(2), "C2-", label="JSD / log 2")
        ax2.plot(self.SWEEP, w1 / max(float(w1.max()), 1e-12), "C1-", label="W1 / max W1")
        ax2.axvline(gen_mean, color="0.4", ls="--", lw=1)
        ax2.plot([gen_mean], [result["jsd"] / math.log(2)], "C2o")
        ax2.plot([gen_mean], [result["w1"] / max(float(w1.max()), 1e-12)], "C1o")
        ax2.set_xlabel("generator mean")
        ax2.set_title(f"W1 = {result['w1']:.2f}; |grad| minimax {result['grad_minimax']:.2g}, "
                      f"NS {result['grad_ns']:.2g}", fontsize=8)
        ax2.legend(fontsize=7, loc="lower right")
        self.fig.tight_layout()


# =============================================================================
# A GAN on a ring of 8 Gaussians
# =============================================================================

#: Losses :func:`train_ring_gan` knows: ``"ns"`` (BCE discriminator, non-saturating generator:
#: :func:`course_lib.models.discriminator_loss` / :func:`course_lib.models.generator_loss`) and
#: ``"minimax"`` (the same discriminator, the generator minimising ``log(1 - D(G(z)))``).
RING_LOSSES = ("ns", "minimax")


def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """(modes, 2) centres evenly spaced on a circle of ``radius``, the first at angle 0.

    Introduced in lecture 06_generative.
    """
    if modes < 1 or radius <= 0:
        raise ValueError(f"need modes >= 1 and radius > 0, got modes={modes}, radius={radius}")
    a = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(a), np.sin(a)], axis=1)


def ring_of_gaussians(n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n`` points (n, 2) from an equal mixture of ``modes`` Gaussians of spread ``std`` on a circle.

    Introduced in lecture 06_generative.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    centres = ring_centres(modes, radius)
    return centres[rng.integers(0, modes, n)] + std * rng.standard_normal((n, 2))


def modes_covered(samples: np.ndarray, centres: np.ndarray, *, tol: float = 0.3,
                  min_share: float = 0.01) -> dict[str, Any]:
    """Which modes the samples cover: a mode is covered when at least ``min_share`` of the samples lie
    within ``tol`` of its centre.

    Returns:
        dict with ``covered`` (number of modes), ``per_mode`` (share of samples near each mode, (M,))
        and ``near`` (share of samples within ``tol`` of some mode: quality, where ``covered`` is variety).

    Introduced in lecture 06_generative.
    """
    samples = np.asarray(samples, dtype=np.float64)
    d = np.linalg.norm(samples[:, None, :] - np.asarray(centres)[None], axis=2)   # (N, M)
    close = d < tol
    per_mode = close.mean(axis=0)
    return {"covered": int((per_mode >= min_share).sum()), "per_mode": per_mode,
            "near": float(close.any(axis=1).mean())}


def train_ring_gan(loss: str = "ns", *, steps: int = 1500, snapshot_every: int = 100, batch: int = 128,
                   latent_dim: int = 2, lr: float = 1e-3, d_steps: int = 1, seed: int = 0,
                   n_show: int = 512) -> dict[str, Any]:
    """Train a small GAN on :func:`ring_of_gaussians` (8 modes, radius 2, spread 0.05), one D step then one
    G step per iteration, Adam (lr, betas 0.5 and 0.999), keeping snapshots on the way.

    Args:
        loss: one of :data:`RING_LOSSES`.
        steps, snapshot_every: iterations, and how often the generator's samples are kept.
        seed: seeds PyTorch's generator for this run only (the global RNG is left alone).
        n_show: samples per snapshot, from one fixed batch of noise (the same z at every snapshot).

    Returns:
        dict with ``steps`` (the snapshot steps, 0 first), ``samples`` (one (n_show, 2) array per
        snapshot), ``covered`` and ``near`` (of :func:`modes_covered`, per snapshot), ``d_loss`` and
        ``g_loss`` (per iteration), ``grid`` and ``d_prob`` (D's probability of "real" on a
        (60, 60) grid over [-3, 3]^2 at the end), ``generator`` and ``discriminator``.

    Introduced in lecture 06_generative.
    """
    # lazy: PyTorch (and course_lib.models, which needs it) only for the training demos
    import torch
    import torch.nn.functional as F

    from ..models import Discriminator, Generator, discriminator_loss, generator_loss

    if loss not in RING_LOSSES:
        raise ValueError(f"loss must be one of {RING_LOSSES}, got {loss!r}")
    if steps < 1 or snapshot_every < 1:
        raise ValueError(f"need steps >= 1 and snapshot_every >= 1, got {steps}, {snapshot_every}")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, D = Generator(latent_dim, (2,), (64, 64)), Discriminator(2, (64, 64))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(seed)
    centres = ring_centres()
    z_show = torch.randn(n_show, latent_dim, generator=gen)
    out: dict[str, Any] = {"steps": [], "samples": [], "covered": [], "near": [], "d_loss": [], "g_loss": []}

    def snapshot(step: int) -> None:
        with torch.no_grad():
            s = G(z_show).numpy().astype(np.float64)
        m = modes_covered(s, centres)
        out["steps"].append(step)
        out["samples"].append(s)
        out["covered"].append(m["covered"])
        out["near"].append(m["near"])

    snapshot(0)
    for step in range(1, steps + 1):
        for _ in range(d_steps):
            real = torch.from_numpy(ring_of_gaussians(batch, seed=rng)).float()
            fake = G(torch.randn(batch, latent_dim, generator=gen))
            d_loss = discriminator_loss(D(real), D(fake.detach()))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        logits = D(fake)
        # minimax: minimise E log(1 - D(G(z))) = -BCE(logits, 0), computed stably from the logits
        g_loss = generator_loss(logits) if loss == "ns" else -F.binary_cross_entropy_with_logits(
            logits, torch.zeros_like(logits))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        out["d_loss"].append(float(d_loss.detach()))
        out["g_loss"].append(float(g_loss.detach()))
        if step % snapshot_every == 0 or step == steps:
            snapshot(step)
    g1 = np.linspace(-3, 3, 60)
    grid = np.stack(np.meshgrid(g1, g1), axis=-1).reshape(-1, 2)
    with torch.no_grad():
        out["d_prob"] = torch.sigmoid(D(torch.from_numpy(grid).float())).numpy().reshape(60, 60)
    out["grid"] = g1
    out["generator"], out["discriminator"] = G, D
    return out


class RingGANExplorer(_StaticFigure, Explorer):
    """A GAN trained on a ring of 8 Gaussians, seen at any of its snapshots.

    Controls: ``loss`` (a key of :data:`RING_LOSSES`) and ``step`` (the snapshot's training step).
    Each loss is trained once, the first time it is chosen (:func:`train_ring_gan`, about 3 s of CPU);
    moving ``step`` only redraws. ``update`` returns ``step``, ``covered`` (modes with at least 1 % of
    the samples within 0.3) and ``near`` (share of samples within 0.3 of a mode).

    Args:
        steps, snapshot_every, seed: passed to :func:`train_ring_gan`.
        runs: loss -> a run :func:`train_ring_gan` already made with these arguments (not trained again).

    Introduced in lecture 06_generative.
    """

    figsize = (9.0, 3.6)

    def __init__(self, *, steps: int = 1000, snapshot_every: int = 50, seed: int = 0,
                 runs: dict[str, dict[str, Any]] | None = None) -> None:
        self.train_args = {"steps": steps, "snapshot_every": snapshot_every, "seed": seed}
        self.runs: dict[str, dict[str, Any]] = dict(runs or {})
        self.real = ring_of_gaussians(512, seed=seed + 1)
        super().__init__()

    def _controls(self) -> dict:
        steps = int(self.train_args["steps"])
        return {
            "loss": W.Dropdown(options=list(RING_LOSSES), value="ns", description="G loss"),
            "step": W.IntSlider(value=steps, min=0, max=steps, step=int(self.train_args["snapshot_every"]),
                                description="step", continuous_update=False),
        }

    def run(self, loss: str) -> dict[str, Any]:
        """The training run of ``loss`` (trained on first use)."""
        if loss not in self.runs:
            self.runs[loss] = train_ring_gan(loss, **self.train_args)
        return self.runs[loss]

    def compute(self, *, loss: str, step: int) -> dict:
        r = self.run(loss)
        i = int(np.searchsorted(r["steps"], int(step), side="right")) - 1   # the last snapshot at or before step
        i = max(i, 0)
        return {"step": int(r["steps"][i]), "covered": int(r["covered"][i]), "near": float(r["near"][i]),
                "_samples": r["samples"][i], "_run": r}

    def draw(self, result: dict, *, loss: str, step: int) -> None:
        ax, ax2 = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        r = result["_run"]
        if result["step"] == r["steps"][-1]:
            ax.contourf(r["grid"], r["grid"], r["d_prob"], levels=10, cmap="RdBu", alpha=0.35)
        ax.scatter(self.real[:, 0], self.real[:, 1], s=3, c="C0", label="real")
        s = result["_samples"]
        ax.scatter(s[:, 0], s[:, 1], s=3, c="C3", label="generated")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title(f"{loss}, step {result['step']}: {result['covered']}/8 modes, "
                     f"{100 * result['near']:.0f}% near a mode", fontsize=8)
        ax2.plot(r["d_loss"], lw=0.6, label="D loss")
        ax2.plot(r["g_loss"], lw=0.6, label="G loss")
        ax2.axhline(2 * math.log(2), color="0.5", ls=":", lw=1, label="2 ln 2")
        ax2.axvline(result["step"], color="0.4", ls="--", lw=1)
        ax2.set_xlabel("step")
        ax2.legend(fontsize=7)
        self.fig.tight_layout()


# =============================================================================
# A VAE on the digits: the latent space
# =============================================================================

def train_digits_vae(*, latent_dim: int = 2, epochs: int = 100, beta: float = 1.0, hidden: int = 128,
                     batch: int = 64, lr: float = 3e-3, seed: int = 0) -> tuple[VAE, dict[str, Any]]:
    """Train :class:`course_lib.models.VAE` (Bernoulli decoder) on the training split of
    :func:`course_lib.data.load_digits` with :func:`course_lib.models.vae_loss` and Adam.

    Args:
        seed: seeds the initialisation, the batches and the noise for this run only (the global RNG is
            left alone).

    Returns:
        (the VAE in eval mode, history) with history ``loss`` (mean training -ELBO per epoch, nats per
        image), ``test_loss`` (-ELBO on the test split at the end, with ``z = mu``'s KL and a
        reconstruction from the mean code), and the test split's ``X_test``, ``y_test`` and
        ``mu_test`` (the encoder's means, (N, latent_dim)) as NumPy arrays.

    Introduced in lecture 06_generative.
    """
    # lazy: PyTorch (and course_lib.models, which needs it) only for the training demos
    import torch

    from ..data import load_digits
    from ..models import VAE, vae_loss

    if latent_dim < 1 or epochs < 1 or beta < 0:
        raise ValueError(f"need latent_dim >= 1, epochs >= 1 and beta >= 0, got {latent_dim}, {epochs}, {beta}")
    d = load_digits()
    X = torch.from_numpy(d.X_train).float()
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = VAE(64, latent_dim, (hidden,))
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    history: dict[str, Any] = {"loss": []}
    vae.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=gen)
        total = 0.0
        for i in range(0, len(X), batch):
            xb = X[perm[i:i + batch]]
            recon, mu, logvar = vae(xb, generator=gen)
            loss = vae_loss(recon, xb, mu, logvar, beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xb)
        history["loss"].append(total / len(X))
    vae.eval()
    Xt = torch.from_numpy(d.X_test).float()
    with torch.no_grad():
        recon, mu, logvar = vae(Xt)
        history["test_loss"] = float(vae_loss(recon, Xt, mu, logvar, 1.0))
    history["X_test"], history["y_test"], history["mu_test"] = d.X_test, d.y_test, mu.numpy().astype(np.float64)
    return vae, history


def decode_latent(vae: VAE, z: np.ndarray) -> np.ndarray:
    """Decoded images (probabilities in [0, 1]) of latent codes ``z`` (N, L) or (L,): (N, 8, 8) or (8, 8).

    Introduced in lecture 06_generative.
    """
    # lazy: PyTorch (and course_lib.models, which needs it) only for the training demos
    import torch

    z = np.asarray(z, dtype=np.float64)
    single = z.ndim == 1
    zt = torch.from_numpy(np.atleast_2d(z)).float()
    if zt.shape[1] != vae.latent_dim:
        raise ValueError(f"z must have {vae.latent_dim} latent coordinates, got shape {z.shape}")
    vae.eval()
    with torch.no_grad():
        img = torch.sigmoid(vae.decode(zt)).numpy().astype(np.float64).reshape(len(zt), 8, 8)
    return img[0] if single else img


def latent_interpolation(vae: VAE, x0: np.ndarray, x1: np.ndarray, steps: int = 8
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Walk in latent space from the code of image ``x0`` to that of ``x1`` (the encoder's means, no
    sampling) and decode every point.

    Returns:
        (codes (steps, L), images (steps, 8, 8)); the first and last codes are the two means.

    Introduced in lecture 06_generative.
    """
    # lazy: PyTorch (and course_lib.models, which needs it) only for the training demos
    import torch

    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both ends), got {steps}")
    vae.eval()
    with torch.no_grad():
        mu, _ = vae.encode(torch.from_numpy(np.stack([np.ravel(x0), np.ravel(x1)])).float())
    m = mu.numpy().astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    codes = (1 - t) * m[0] + t * m[1]
    return codes, decode_latent(vae, codes)


class VAELatentExplorer(_StaticFigure, Explorer):
    """The latent plane of a 2-D VAE on the digits: where the test digits' codes lie, the digit decoded at
    ``(z1, z2)``, and a walk between the first test images of two classes.

    Controls: ``z1``, ``z2`` in [-3, 3]; ``start`` and ``end`` (digit classes); ``steps`` of the walk.
    ``update`` returns ``z`` and ``nearest_class`` (the class whose mean test image is closest, in
    pixels, to the decoded digit), ``walk_classes`` (the same for each image of the walk).

    Args:
        vae, history: what :func:`train_digits_vae` returns (``latent_dim`` must be 2); trained here
            with its defaults when not given.

    Introduced in lecture 06_generative.
    """

    figsize = (10.0, 4.2)

    def __init__(self, vae: VAE | None = None, history: dict[str, Any] | None = None) -> None:
        if vae is None or history is None:
            vae, history = train_digits_vae()
        if vae.latent_dim != 2:
            raise ValueError(f"the explorer draws a 2-D latent plane; this VAE has latent_dim={vae.latent_dim}")
        self.vae, self.history = vae, history
        X, y = history["X_test"], history["y_test"]
        self.class_means = np.stack([X[y == k].mean(axis=0) for k in range(10)])   # (10, 64)
        super().__init__()

    def _controls(self) -> dict:
        return {
            "z1": _slider(0.0, -3.0, 3.0, 0.1, "z1"),
            "z2": _slider(0.0, -3.0, 3.0, 0.1, "z2"),
            "start": W.Dropdown(options=list(range(10)), value=0, description="walk from"),
            "end": W.Dropdown(options=list(range(10)), value=4, description="to"),
            "steps": _slider(8, 2, 12, 1, "steps"),
        }

    def nearest_class(self, images: np.ndarray) -> np.ndarray:
        """For each (8, 8) image, the class whose mean test image is closest in pixels."""
        flat = np.asarray(images).reshape(-1, 64)
        return np.argmin(((flat[:, None, :] - self.class_means[None]) ** 2).sum(-1), axis=1)

    def compute(self, *, z1: float, z2: float, start: int, end: int, steps: int) -> dict:
        X, y = self.history["X_test"], self.history["y_test"]
        i0, i1 = int(np.flatnonzero(y == int(start))[0]), int(np.flatnonzero(y == int(end))[0])
        codes, walk = latent_interpolation(self.vae, X[i0], X[i1], int(steps))
        img = decode_latent(self.vae, np.array([z1, z2], dtype=np.float64))
        return {"z": [float(z1), float(z2)], "nearest_class": int(self.nearest_class(img)[0]),
                "walk_classes": [int(c) for c in self.nearest_class(walk)],
                "_image": img, "_codes": codes, "_walk": walk, "_ends": (X[i0], X[i1])}

    def draw(self, result: dict, **_: Any) -> None:
        gs = self.fig.add_gridspec(2, 3, height_ratios=[3, 1], width_ratios=[1.6, 1, 1])
        ax = self.fig.add_subplot(gs[0, 0])
        mu, y = self.history["mu_test"], self.history["y_test"]
        sc = ax.scatter(mu[:, 0], mu[:, 1], c=y, cmap="tab10", s=5, vmin=-0.5, vmax=9.5)
        self.fig.colorbar(sc, ax=ax, ticks=range(10), fraction=0.04)
        c = result["_codes"]
        ax.plot(c[:, 0], c[:, 1], "k.-", lw=1)
        ax.plot(*result["z"], "r*", ms=12)
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(-3.2, 3.2)
        ax.set_title("test digits' codes (encoder means); red: (z1, z2)", fontsize=8)
        ax_img = self.fig.add_subplot(gs[0, 1])
        ax_img.imshow(result["_image"], cmap="gray_r", vmin=0, vmax=1)
        ax_img.set_title(f"decoded at z = ({result['z'][0]:.1f}, {result['z'][1]:.1f})\n"
                         f"nearest class mean: {result['nearest_class']}", fontsize=8)
        ax_ends = self.fig.add_subplot(gs[0, 2])
        ax_ends.imshow(np.hstack([e.reshape(8, 8) for e in result["_ends"]]), cmap="gray_r", vmin=0, vmax=1)
        ax_ends.set_title("the walk's two test images", fontsize=8)
        ax_walk = self.fig.add_subplot(gs[1, :])
        ax_walk.imshow(np.hstack(list(result["_walk"])), cmap="gray_r", vmin=0, vmax=1)
        ax_walk.set_title("decoded along the straight line between the two codes", fontsize=8)
        for a in (ax_img, ax_ends, ax_walk):
            a.set_xticks([])
            a.set_yticks([])
        self.fig.tight_layout()
