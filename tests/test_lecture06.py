"""Lecture 06 (generative models: VAEs and GANs) follows the unit contract, items 1-4.

The lecture itself runs under nbval (every cell, its collapsed checks included); these tests read
the notebook: the sections of issue 19 in order, exercises, Conventions and Pitfalls notes, the
numbers the issue asks for, collapsed checks, the explorers' "things to try" quoted by
tests/test_explorers_generative.py, and no graded task implemented in a lecture code cell.
"""
from __future__ import annotations

from tests.lecture_harness import Lecture, flat

LECTURE = Lecture("06_generative")

# The lecture's major sections, in issue 19's order.
SECTIONS = ["## 1. Why a network should output a distribution",
            "## 2. Maximum likelihood is minimising",
            "## 3. Autoencoders and the variational autoencoder",
            "## 4. Generative adversarial networks: the idea and the algorithm",
            "## 5. GAN theory: the optimal discriminator and the Jensen-Shannon divergence",
            "## 6. The non-saturating generator loss",
            "## 7. What goes wrong: disjoint supports, and better divergences",
            "## 8. Mode collapse, and evaluating generators",
            "## 9. Conditional GANs, pix2pix and CycleGAN (in brief)",
            "## 10. Explorers", "## 11. Summary", "## 12. Further reading"]

# Issue 19's topics, each with a phrase the lecture must contain.
TOPICS = {
    "taxonomy": "### 1.2 A taxonomy of generative models", "KL direction of MLE": r"\mathrm{KL}(P_{\text{data}} \,\|\, P_G)",
    "reparameterisation": "### 3.3 The reparameterisation trick", "ELBO": "evidence lower bound",
    "closed-form KL": "### 3.4 The Gaussian KL in closed form", "latent walks": "### 3.6 Latent walks",
    "optimal discriminator": r"D^*(x) = \frac{p(x)}{p(x) + q(x)}", "max V": r"-2\log 2 + 2\,\mathrm{JSD}",
    "non-saturating": "**non-saturating**", "disjoint supports": "### 7.1 JS is stuck at $\\log 2$",
    "LSGAN": "### 7.2 LSGAN", "WGAN": "### 7.3 WGAN", "weight clipping": "**clipping every weight**",
    "WGAN-GP": "### 7.4 WGAN-GP", "mode collapse": "**mode collapse**", "mode dropping": "**mode dropping**",
    "Inception Score": "### 8.2 Inception Score", "FID": "### 8.3 Fréchet Inception Distance",
    "birthday paradox": "### 8.4 Memorisation and the birthday paradox", "conditional GAN": "**conditional GAN**",
    "pix2pix": "**pix2pix**", "CycleGAN": "**CycleGAN**",
}

# The numbers the brief and issue 19 ask the lecture to show (each is asserted by a collapsed check).
NUMBERS = ["-1.25347", "0.06641", "(0.714, 0.5, 0.286)", "-1.0101", "-100", "-0.01", "-0.99", "0.693147",
           "0.30894", "0.61788", "0.607", "0.368", "0.52852", "2 \\ln 2 = 1.3863", "0.6931", "0.25", "0.125",
           "= 160", "115{,}260", "0.27489"]

# Conventions issue 19 asks to be stated, each with a phrase of its note.
CONVENTIONS = {
    "D loss: sum vs average": "is the **sum** of the two BCE means", "logits vs probabilities": "outputs **logits**",
    "noise prior": "The noise prior is $\\mathcal{N}(0, I)$", "image range": "data scaled to $[-1, 1]$",
    "log-variance vs standard deviation": "outputs the **log-variance**",
    "KL direction in each place": "each in its own direction",
}

# The assignment's graded functions (06_gan_vae.md (e)): no lecture code cell may define one.
GRADED = ["optimal_discriminator", "gan_value", "js_divergence", "discriminator_loss", "generator_loss",
          "ls_discriminator_loss", "ls_generator_loss", "critic_loss", "gradient_penalty", "wasserstein_1d",
          "train_gan", "reparameterize", "gaussian_kl", "vae_loss", "interpolate", "inception_score",
          "frechet_distance", "train_wgan", "train_vae", "reconstruct", "generate", "score_samples"]



def test_lecture_structure_and_no_outputs():
    """The device line and %matplotlib first; the three explorers shown; the demos call course_lib; no outputs."""
    LECTURE.check_setup(("display(div_explorer)", "display(ring_explorer)", "display(latent_explorer)",
                         "train_digits_vae()", "train_ring_gan(", "VAE.reparameterize(", "discriminator_loss(",
                         "generator_loss(", "vae_loss(", "divergence_1d(", "discrete_gan_divergences(",
                         "latent_interpolation(", "modes_covered("), timer="t_lecture")


def test_lecture_sections_topics_exercises_notes():
    """Contract item 1: sections in order, issue 19's topics, 2-4 exercises per major section (1-9),
    Conventions and Pitfalls notes, the numbers the issue asks for, the prose of a lecture."""
    LECTURE.check_sections(SECTIONS, major=9, words=6_000)
    LECTURE.check_phrases(TOPICS)
    LECTURE.check_phrases(CONVENTIONS, what="convention")
    LECTURE.check_phrases([(n, n) for n in NUMBERS], what="number")
    assert LECTURE.markdown.count("**Conventions.**") >= 5


def test_lecture_corrects_the_notes():
    """The notes' KL term is twice the KL, and their noise scale is the variance: both corrections shown."""
    md = flat(LECTURE.markdown)
    assert "**The notes' term is twice the KL.**" in md
    assert "**The noise must be scaled by the standard deviation**" in md


def test_lecture_checks_are_collapsed():
    """Contract item 2: CI-only checks sit in collapsed cells that start with the marker; a teaching cell holds
    at most two asserts; the last check holds the lecture to its CPU budget."""
    LECTURE.check_collapsed(min_checks=20)


def test_lecture_explorer_suggestions_are_tested():
    """Contract item 3: each "things to try" of the three explorers is quoted by a test of
    tests/test_explorers_generative.py (the texts change together)."""
    LECTURE.check_suggestions_quoted("test_explorers_generative.py", [4, 2, 3])


def test_lecture_defines_no_graded_function():
    """Contract item 4: no lecture code cell defines a function the assignment grades (demos call course_lib)."""
    LECTURE.check_defines_none_of(GRADED)


def test_lecture_does_not_copy_a_solution():
    """Contract item 4: no lecture code cell holds 3 or more consecutive non-trivial lines of a solution region
    of the unit's assignment."""
    LECTURE.check_copies_no_solution()
