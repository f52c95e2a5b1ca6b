"""Mutants and correct alternatives of unit 06 (generative models: GANs and VAEs).

Each mutant is the full source of a solution cell with one plausible mistake, most of them the
student bugs of the unit's notes (../shared/units/06_gan_vae.md, (d)) and of issue #19; each is
derived from the solution cell by a textual edit (``_edit`` fails loudly when the edit no longer
applies, so the mutants cannot silently turn into copies of the solution).
"""
from __future__ import annotations

from tests.mutants import Mutant, edited_solution, solution_source

UNIT = "06_generative"
NOTEBOOK = "06_generative.ipynb"

def _solution(task: str) -> str:
    return solution_source(UNIT, NOTEBOOK, task)


def _edit(task: str, *pairs: tuple[str, str]) -> str:
    return edited_solution(UNIT, NOTEBOOK, task, *pairs)


def M(task: str, name: str, *pairs: tuple[str, str]) -> Mutant:
    return Mutant(task=task, name=name, source=_edit(task, *pairs))


MUTANTS = [
    # --- task 6.1: optimal discriminator, V, JS
    M("task6_1", "D* swapped: q / (p + q)",
      ("np.divide(p, total, out=out, where=total > 0)", "np.divide(q, total, out=out, where=total > 0)")),
    M("task6_1", "JS in bits (log base 2)",
      ("return float(np.sum(a[keep] * np.log(a[keep] / b[keep])))",
       "return float(np.sum(a[keep] * np.log2(a[keep] / b[keep])))")),
    M("task6_1", "JS without the factors 1/2",
      ("    return 0.5 * kl(p, m) + 0.5 * kl(q, m)", "    return kl(p, m) + kl(q, m)")),
    M("task6_1", "no 0 ln 0 convention in V (zero weights evaluated)",
      ("        keep = weight > 0                      # 0 ln(anything) = 0: only these terms are evaluated\n",
       "        keep = weight >= 0\n")),
    M("task6_1", "V with ln D in both terms",
      ("(np.asarray(p_g, dtype=float), 1.0 - D)", "(np.asarray(p_g, dtype=float), D)")),
    # --- task 6.2: W1
    M("task6_2", "samples not sorted (pairs x_i with y_i)",
      ("np.mean(np.abs(np.sort(x) - np.sort(y)))", "np.mean(np.abs(x - y))")),
    M("task6_2", "difference of the means",
      ("np.mean(np.abs(np.sort(x) - np.sort(y)))", "abs(np.mean(x) - np.mean(y))")),
    M("task6_2", "W2 instead of W1 (root mean square)",
      ("np.mean(np.abs(np.sort(x) - np.sort(y)))", "np.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2))")),
    M("task6_2", "sorts the inputs in place",
      ("    return float(np.mean(np.abs(np.sort(x) - np.sort(y))))",
       "    x.sort()\n    y.sort()\n    return float(np.mean(np.abs(x - y)))"),
      ("    x = np.asarray(x, dtype=float).ravel()\n    y = np.asarray(y, dtype=float).ravel()\n",
       "    x = np.asarray(x).ravel()\n    y = np.asarray(y).ravel()\n")),
    # --- task 6.3: BCE losses from logits
    M("task6_3", "saturating generator loss log(1 - D)",
      ("    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))",
       "    return torch.log(1 - torch.sigmoid(logits_fake)).mean()")),
    M("task6_3", "generator loss as minus the fake BCE (sign flip)",
      ("    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))",
       "    return -F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))")),
    M("task6_3", "labels swapped in the discriminator loss",
      ("logits_real, torch.ones_like(logits_real)", "logits_real, torch.zeros_like(logits_real)"),
      ("logits_fake, torch.zeros_like(logits_fake)", "logits_fake, torch.ones_like(logits_fake)")),
    M("task6_3", "BCE on raw logits (binary_cross_entropy, not _with_logits)",
      ("loss_real = F.binary_cross_entropy_with_logits(logits_real,", "loss_real = F.binary_cross_entropy(logits_real,"),
      ("loss_fake = F.binary_cross_entropy_with_logits(logits_fake,", "loss_fake = F.binary_cross_entropy(logits_fake,")),
    M("task6_3", "log(sigmoid) computed naively (unstable at +-100)",
      ("""    loss_real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    loss_fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))""",
       """    loss_real = -torch.log(torch.sigmoid(logits_real)).mean()
    loss_fake = -torch.log(1 - torch.sigmoid(logits_fake)).mean()""")),
    M("task6_3", "average of the two means (d2l's scale)",
      ("    return loss_real + loss_fake", "    return (loss_real + loss_fake) / 2")),
    M("task6_3", "returns Python floats (detached from the graph)",
      ("    return loss_real + loss_fake", "    return torch.tensor((loss_real + loss_fake).item(), dtype=logits_real.dtype)")),
    # --- task 6.4: LSGAN
    M("task6_4", "LSGAN without the factors 1/2",
      ("    return 0.5 * ((scores_real - 1) ** 2).mean() + 0.5 * (scores_fake ** 2).mean()",
       "    return ((scores_real - 1) ** 2).mean() + (scores_fake ** 2).mean()")),
    M("task6_4", "LSGAN with targets -1 and 1",
      ("0.5 * (scores_fake ** 2).mean()", "0.5 * ((scores_fake + 1) ** 2).mean()")),
    M("task6_4", "sigmoid applied to the scores",
      ("    return 0.5 * ((scores_fake - 1) ** 2).mean()", "    return 0.5 * ((torch.sigmoid(scores_fake) - 1) ** 2).mean()")),
    # --- task 6.5: WGAN critic loss and gradient penalty
    M("task6_5", "critic keeps the sigmoid",
      ("    return scores_fake.mean() - scores_real.mean()",
       "    return torch.sigmoid(scores_fake).mean() - torch.sigmoid(scores_real).mean()")),
    M("task6_5", "critic loss with the wrong sign",
      ("    return scores_fake.mean() - scores_real.mean()", "    return scores_real.mean() - scores_fake.mean()")),
    M("task6_5", "penalty without create_graph",
      ("torch.autograd.grad(scores.sum(), x_hat, create_graph=True)", "torch.autograd.grad(scores.sum(), x_hat)")),
    M("task6_5", "one epsilon for the whole batch",
      ("        eps = torch.rand(n, dtype=real.dtype, device=real.device)",
       "        eps = torch.rand(1, dtype=real.dtype, device=real.device).expand(n)")),
    M("task6_5", "penalty on the real samples only",
      ("x_hat = (eps * real + (1 - eps) * fake).detach()", "x_hat = (real + 0 * eps).detach()")),
    M("task6_5", "one-sided penalty",
      ("    return lam * ((norms - 1) ** 2).mean()", "    return lam * (torch.clamp(norms - 1, min=0) ** 2).mean()")),
    M("task6_5", "norm over the whole batch's gradient",
      ("    norms = grad.reshape(n, -1).norm(dim=1)", "    norms = grad.norm()")),
    M("task6_5", "eps kept of shape (N,) (broadcasts against the features)",
      ("    eps = eps.reshape(n, *([1] * (real.dim() - 1)))\n", "")),
    # --- task 6.6: reparameterisation and KL
    M("task6_6", "std = exp(logvar) (the notes' formula)",
      ("    return mu + torch.exp(0.5 * logvar) * eps", "    return mu + torch.exp(logvar) * eps")),
    M("task6_6", "z sampled with torch.normal (eps ignored)",
      ("    return mu + torch.exp(0.5 * logvar) * eps", "    return torch.normal(mu, torch.exp(0.5 * logvar))")),
    M("task6_6", "KL sign flipped",
      ("    return 0.5 * torch.sum(", "    return -0.5 * torch.sum(")),
    M("task6_6", "KL averaged over the latent dimensions",
      ("    return 0.5 * torch.sum(torch.exp(logvar) + mu ** 2 - 1.0 - logvar, dim=1).mean()",
       "    return 0.5 * torch.mean(torch.exp(logvar) + mu ** 2 - 1.0 - logvar)")),
    M("task6_6", "KL without the factor 1/2 (the notes' term)",
      ("    return 0.5 * torch.sum(", "    return torch.sum(")),
    # --- task 6.7: VAE loss and interpolation
    M("task6_7", "reconstruction averaged over the pixels",
      ("reduction=\"sum\") / n", "reduction=\"mean\")")),
    M("task6_7", "BCE on sigmoid probabilities (clamped log at saturated logits)",
      ("F.binary_cross_entropy_with_logits(recon_logits, x, reduction=\"sum\")",
       "F.binary_cross_entropy(torch.sigmoid(recon_logits), x, reduction=\"sum\")")),
    M("task6_7", "beta ignored",
      ("    return recon + beta * gaussian_kl(mu, logvar)", "    return recon + gaussian_kl(mu, logvar)")),
    M("task6_7", "interpolation misses the end point",
      ("    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype)[:, None]",
       "    t = (torch.arange(steps, dtype=z0.dtype) / steps)[:, None]")),
    M("task6_7", "interpolation returns logits",
      ("        return torch.sigmoid(decoder(z))", "        return decoder(z)")),
    # --- task 6.8: Inception Score and Frechet distance
    M("task6_8", "log IS (no exp)",
      ("    return float(np.exp(terms.sum(axis=1).mean()))", "    return float(terms.sum(axis=1).mean())")),
    M("task6_8", "IS with the notes' additive form (sum over samples, no exp)",
      ("    return float(np.exp(terms.sum(axis=1).mean()))", "    return float(terms.sum())")),
    M("task6_8", "IS with the KL reversed (marginal against each prediction)",
      ("""    terms[keep] = p[keep] * np.log(ratio)
    return float(np.exp(terms.sum(axis=1).mean()))""",
       """    terms[keep] = np.broadcast_to(marginal, p.shape)[keep] * np.log(1 / ratio)
    return float(np.exp(terms.sum(axis=1).mean()))""")),
    M("task6_8", "no 0 ln 0 convention in IS",
      ("    keep = p > 0                              # 0 ln 0 = 0; where p > 0 the marginal is > 0 too\n",
       "    keep = p >= 0\n")),
    M("task6_8", "element-wise square root of the covariance product",
      ("""    eig = np.linalg.eigvals(S1 @ S2)         # real and >= 0 for PSD S1, S2 (up to rounding)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig.real, 0.0, None))))""",
       """    tr_sqrt = float(np.trace(np.sqrt(np.abs(S1 * S2))))""")),
    M("task6_8", "Frechet distance without the mean term",
      ("float(np.sum((mu1 - mu2) ** 2) + np.trace(S1)", "float(np.trace(S1)")),
    M("task6_8", "Frechet distance with tr(S1 S2)^(1/2) as sqrt of the trace",
      ("    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig.real, 0.0, None))))",
       "    tr_sqrt = float(np.sqrt(np.clip(np.sum(eig.real), 0.0, None)))")),
    # --- task 6.9: training
    M("task6_9", "labels swapped in the discriminator step",
      ("logits_real, torch.ones_like(logits_real)", "logits_real, torch.zeros_like(logits_real)"),
      ("logits_fake, torch.zeros_like(logits_fake)", "logits_fake, torch.ones_like(logits_fake)")),
    M("task6_9", "missing zero_grad of the discriminator",
      ("        opt_d.zero_grad()\n", "")),
    # not detaching the fakes sends the discriminator's loss back through G and frees G's graph, so the
    # generator step that reuses them fails (written with fresh fakes for G, it would only waste work)
    M("task6_9", "fakes not detached in the discriminator step",
      ("logits_real, logits_fake = D(batch), D(fake.detach())", "logits_real, logits_fake = D(batch), D(fake)")),
    M("task6_9", "generator step through detached fakes",
      ("        logits_gen = D(fake)\n", "        logits_gen = D(fake.detach()).requires_grad_(True)\n")),
    # --- task 6.10: WGAN with weight clipping
    M("task6_10", "clipping gradients instead of weights",
      ("""            opt_c.step()
            with torch.no_grad():                                    # clip the WEIGHTS, after the step
                for p in critic.parameters():
                    p.clamp_(-clip, clip)""",
       """            torch.nn.utils.clip_grad_value_(critic.parameters(), clip)
            opt_c.step()""")),
    M("task6_10", "weights clipped before the optimiser step",
      ("""            opt_c.step()
            with torch.no_grad():                                    # clip the WEIGHTS, after the step
                for p in critic.parameters():
                    p.clamp_(-clip, clip)""",
       """            with torch.no_grad():
                for p in critic.parameters():
                    p.clamp_(-clip, clip)
            opt_c.step()""")),
    M("task6_10", "generator loss with the wrong sign",
      ("g_loss = -critic(G(", "g_loss = critic(G(")),
    # --- task 6.11: a VAE on the digits
    M("task6_11", "sampling z at evaluation instead of using the mean",
      ("""        mu, _ = model.encode(torch.as_tensor(x, dtype=torch.float32))
        return torch.sigmoid(model.decode(mu))""",
       """        mu, logvar = model.encode(torch.as_tensor(x, dtype=torch.float32))
        return torch.sigmoid(model.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)))""")),
    M("task6_11", "reconstruction averaged over the pixels (posterior collapse)",
      ("F.binary_cross_entropy_with_logits(logits, xb, reduction=\"sum\") / len(xb)",
       "F.binary_cross_entropy_with_logits(logits, xb)")),
    # --- task 6.12: sampling a generator, scoring its samples
    M("task6_12", "batch norm left in train mode while generating",
      ("    generator.eval()                        # batch norm: running statistics, not this batch's\n", "")),
    M("task6_12", "uniform noise (torch.rand) instead of the normal prior",
      ("z = torch.randn(n, latent_dim,", "z = torch.rand(n, latent_dim,")),
    M("task6_12", "seed ignored (global random state)",
      ("z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))", "z = torch.randn(n, latent_dim)")),
    M("task6_12", "covariance of the transposed features (np.cov without rowvar=False)",
      ("np.cov(feats_real, rowvar=False)", "np.cov(feats_real)"), ("np.cov(feats, rowvar=False)", "np.cov(feats)")),
    M("task6_12", "FID on the class probabilities instead of the features",
      ("""    probs, feats = classify_digits(images)
    _, feats_real = classify_digits(real)""",
       """    probs, _ = classify_digits(images)
    feats, feats_real = probs, classify_digits(real)[0]""")),
]

# The mistakes issue #19 names (its "Mutants to keep and kill" that this assignment's tasks cover):
# graded for real by tests/test_units_grading.py, one notebook per row of the pack.
NAMED = [
    ("task6_3", "saturating generator loss log(1 - D)"),
    ("task6_3", "BCE on raw logits (binary_cross_entropy, not _with_logits)"),
    ("task6_5", "critic keeps the sigmoid"),
    ("task6_5", "penalty without create_graph"),
    ("task6_6", "std = exp(logvar) (the notes' formula)"),
    ("task6_6", "KL sign flipped"),
    ("task6_9", "labels swapped in the discriminator step"),
    ("task6_9", "missing zero_grad of the discriminator"),
    ("task6_10", "clipping gradients instead of weights"),
    ("task6_11", "sampling z at evaluation instead of using the mean"),
    ("task6_12", "batch norm left in train mode while generating"),
    ("task6_12", "uniform noise (torch.rand) instead of the normal prior"),
]

# Task 6.9 as a student who follows only the task text might write it: a loss module, label tensors,
# both optimisers zeroed at the top of each step, the fakes computed again for the generator step.
_TRAIN_GAN_BY_THE_TEXT = """def train_gan(real, *, steps=1000, latent_dim=2, batch_size=128, lr=2e-3, seed=0):
    torch.manual_seed(seed)

    def mlp(n_in, n_out):
        return nn.Sequential(nn.Linear(n_in, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, n_out))

    G, D = mlp(latent_dim, 2), mlp(2, 1)
    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch_size, 1), torch.zeros(batch_size, 1)
    history = []
    for step in range(steps):
        opt_D.zero_grad()
        opt_G.zero_grad()
        x = real[torch.randint(len(real), (batch_size,))]
        z = torch.randn(batch_size, latent_dim)
        d_loss = bce(D(x), ones) + bce(D(G(z).detach()), zeros)
        d_loss.backward()
        opt_D.step()
        opt_G.zero_grad()
        g_loss = bce(D(G(z)), ones)
        g_loss.backward()
        opt_G.step()
        history.append((d_loss.item(), g_loss.item()))
    return G, D, history
"""

# Task 6.10 as a student who follows only the task text might write it.
_TRAIN_WGAN_BY_THE_TEXT = """def train_wgan(real, *, steps=100, n_critic=5, clip=0.01, latent_dim=1, batch_size=64, lr=5e-3, seed=0):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, 1))
    critic = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    opt_G = torch.optim.RMSprop(G.parameters(), lr=lr)
    opt_C = torch.optim.RMSprop(critic.parameters(), lr=lr)
    history = []
    for step in range(steps):
        for _ in range(n_critic):
            idx = torch.randint(len(real), (batch_size,))
            z = torch.randn(batch_size, latent_dim)
            fake = G(z).detach()
            loss_C = torch.mean(critic(fake)) - torch.mean(critic(real[idx]))
            opt_C.zero_grad()
            loss_C.backward()
            opt_C.step()
            for p in critic.parameters():
                p.data.clamp_(-clip, clip)
        z = torch.randn(batch_size, latent_dim)
        loss_G = -torch.mean(critic(G(z)))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        history.append((loss_C.item(), loss_G.item()))
    return G, critic, history
"""

# Task 6.11 with PyTorch's data utilities (the order of the minibatches is not the solution's: the
# tests are properties of the trained model, not its exact weights).
_TRAIN_VAE_WITH_A_LOADER = """from torch.utils.data import DataLoader, TensorDataset


def train_vae(x, *, latent_dim=2, epochs=20, batch_size=64, lr=3e-3, seed=0):
    torch.manual_seed(seed)
    model = DigitsVAE(latent_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True)
    for epoch in range(epochs):
        for (xb,) in loader:
            mu, logvar = model.encode(xb)
            std = torch.exp(logvar / 2)
            z = mu + std * torch.randn_like(std)
            logits = model.decode(z)
            bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="none").sum(dim=1)
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)
            loss = (bce + kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def reconstruct(model, x):
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encode(x)
        return model.decode(mu).sigmoid()
"""

CORRECT_ALTERNATIVES = [
    M("task6_1", "D* and V with explicit loops",
      ("""    total = p + q
    out = np.full(total.shape, 0.5)
    np.divide(p, total, out=out, where=total > 0)
    return out""",
       """    out = np.empty(len(p))
    for k in range(len(p)):
        out[k] = p[k] / (p[k] + q[k]) if p[k] + q[k] > 0 else 0.5
    return out""")),
    M("task6_2", "sorted copies with sorted()",
      ("    return float(np.mean(np.abs(np.sort(x) - np.sort(y))))",
       "    return sum(abs(a - b) for a, b in zip(sorted(x), sorted(y))) / len(x)")),
    M("task6_3", "the softplus identities (the task's second hint)",
      ("""    loss_real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    loss_fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))""",
       """    loss_real = F.softplus(-logits_real).mean()
    loss_fake = F.softplus(logits_fake).mean()"""),
      ("    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))",
       "    return F.softplus(-logits_fake).mean()")),
    M("task6_4", "MSE against constant targets",
      ("    return 0.5 * ((scores_real - 1) ** 2).mean() + 0.5 * (scores_fake ** 2).mean()",
       "    return 0.5 * F.mse_loss(scores_real, torch.ones_like(scores_real)) + 0.5 * F.mse_loss(scores_fake, torch.zeros_like(scores_fake))")),
    M("task6_5", "interpolates built as a fresh leaf, eps drawn of shape (N, 1, ...) directly",
      ("""    if eps is None:
        eps = torch.rand(n, dtype=real.dtype, device=real.device)
    eps = eps.reshape(n, *([1] * (real.dim() - 1)))
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)""",
       """    shape = (n,) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, dtype=real.dtype) if eps is None else eps.view(shape)
    x_hat = torch.lerp(fake.detach(), real.detach(), eps)
    x_hat.requires_grad_()"""),
      ("    norms = grad.reshape(n, -1).norm(dim=1)", "    norms = torch.sqrt((grad ** 2).flatten(1).sum(dim=1))")),
    M("task6_6", "std via torch.exp(logvar / 2); KL with logvar.exp()",
      ("    return mu + torch.exp(0.5 * logvar) * eps", "    std = (logvar / 2).exp()\n    return eps * std + mu"),
      ("    return 0.5 * torch.sum(torch.exp(logvar) + mu ** 2 - 1.0 - logvar, dim=1).mean()",
       "    per_image = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)\n    return per_image.mean()")),
    M("task6_7", "a loop over t, decoded one by one",
      ("""    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype)[:, None]
    z = (1 - t) * z0[None, :] + t * z1[None, :]
    with torch.no_grad():
        return torch.sigmoid(decoder(z))""",
       """    rows = []
    with torch.no_grad():
        for t in torch.linspace(0, 1, steps, dtype=z0.dtype):
            rows.append(torch.sigmoid(decoder((z0 + t * (z1 - z0))[None]))[0])
    return torch.stack(rows)""")),
    M("task6_8", "scipy.linalg.sqrtm (the task's hint) and a per-row KL loop",
      ("""    eig = np.linalg.eigvals(S1 @ S2)         # real and >= 0 for PSD S1, S2 (up to rounding)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig.real, 0.0, None))))""",
       """    from scipy.linalg import sqrtm
    tr_sqrt = float(np.trace(sqrtm(S1 @ S2).real))"""),
      ("""    terms = np.zeros_like(p)
    keep = p > 0                              # 0 ln 0 = 0; where p > 0 the marginal is > 0 too
    ratio = p[keep] / np.broadcast_to(marginal, p.shape)[keep]
    terms[keep] = p[keep] * np.log(ratio)
    return float(np.exp(terms.sum(axis=1).mean()))""",
       """    kls = []
    for row in p:
        nz = row > 0
        kls.append(np.sum(row[nz] * np.log(row[nz] / marginal[0][nz])))
    return float(np.exp(np.mean(kls)))""")),
    Mutant(task="task6_9", name="the task text only: a loss module, both optimisers zeroed each step",
           source=_TRAIN_GAN_BY_THE_TEXT),
    Mutant(task="task6_10", name="the task text only: p.data.clamp_ over the parameters, losses as named steps",
           source=_TRAIN_WGAN_BY_THE_TEXT),
    Mutant(task="task6_11", name="a DataLoader over a TensorDataset; reconstruct in eval mode via the encoder's outputs",
           source=_TRAIN_VAE_WITH_A_LOADER),
    M("task6_12", "global seed and torch.randn; covariances with np.cov(features.T)",
      ("    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))",
       "    torch.manual_seed(seed)\n    z = torch.randn(n, latent_dim)"),
      ("np.cov(feats_real, rowvar=False)", "np.cov(feats_real.T)"), ("np.cov(feats, rowvar=False)", "np.cov(feats.T)")),
]
