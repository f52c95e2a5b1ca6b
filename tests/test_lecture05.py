"""Lecture 05 (attention and transformers) against the unit contract: its sections in issue #18's order,
exercises, Conventions and Pitfalls, collapsed checks, explorers whose suggestions are tested, and no code
that solves the assignment's graded tasks.

The notebook is read, not run: nbval runs it (`pytest notebooks/lectures/05_attention.ipynb`), and its
collapsed check cells assert every number the text states.
"""
from __future__ import annotations

from tests.lecture_harness import Lecture, defined_names

LECTURE = Lecture("05_attention")

# Issue #18's topic list, in its order (kernel regression first, as the gentlest attention).
SECTIONS = ["## 1. Sequence to sequence and the context bottleneck", "## 2. Softmax as selection; attention as kernel",
            "## 3. Attention in an RNN decoder", "## 4. Queries, keys and values", "## 5. Self-attention and positional",
            "## 6. Masks: causal and padding", "## 7. Multi-head attention", "## 8. The transformer block",
            "## 9. Training and decoding", "## 10. Beyond the basics", "## 11. Summary", "## 12. Further reading"]
# Each topic issue #18 names, with a phrase the lecture must contain.
TOPICS = {
    "teacher forcing": "**teacher forcing**", "context bottleneck": "### 1.2 The bottleneck",
    "softmax as differentiable selection": "### 2.1 Selecting from a set, differentiably",
    "Nadaraya-Watson": "### 2.2 Nadaraya-Watson kernel regression",
    "additive vs dot-product": "### 3.2 Additive and dot-product",
    "an alignment learned from the loss": "### 3.3 An alignment learned from the loss alone",
    "score variance 64 -> 1": "**variance 64 without the scale, 1 with it.**",
    "permutation equivariance": "### 5.2 Permutation equivariance",
    "adding equals concatenating": "### 5.4 Adding is concatenating",
    "the notes' j < i mask": "### 6.2 The notes' causal mask leaves the first row empty",
    "4E^2 + 4E": "**$4E^2 + 4E$ whatever the number of heads**", "post-LN and pre-LN": "(**pre-LN**)",
    "cross-attention": "### 8.2 Encoder-decoder and cross-attention", "exposure bias": "**exposure bias**",
    "decoder fed unshifted targets": "teacher forcing done right and done wrong",
    "greedy 0.216 vs beam 0.324": "probability $0.216$", "sampling": "### 9.3 Sampling",
    "BPE": "`XcdeXXce`; then `Xc` occurs twice and becomes `Y`: `YdeXYe`", "L x L cost": "### 10.3 The $L \\times L$ cost",
}
# The assignment's graded functions (issue #18, units/05 (e)): the lecture calls course_lib or PyTorch for these.
GRADED = ("masked_softmax", "attention_forward", "attention_backward", "causal_mask", "padding_mask", "split_heads",
          "merge_heads", "multi_head_attention_forward", "sinusoidal_positional_encoding", "bpe_train", "beam_search",
          "attention_pool", "SeqClassifier")



def test_lecture_structure_and_no_outputs():
    LECTURE.check_setup(("AttentionExplorer()", "KernelRegressionExplorer()", "PositionalEncodingExplorer()",
                         "BeamSearchExplorer()", "scaled_dot_product_attention(", "causal_mask(", "Seq2SeqTransformer(",
                         "multi_head_attention_forward(", "nn.MultiheadAttention(", "norm_first=", "beam_search_trace(",
                         "kernel_regression_state("))
    assert "\n".join(LECTURE.code).count("display(") >= 4
    assert "assert cpu < 60" in LECTURE.code[-1], "the last cell checks the 60 s CPU budget"


def test_lecture_sections_topics_exercises():
    """Contract item 1: the sections in order, 2-4 exercises ending each of sections 1-10, issue #18's topics,
    Conventions and Pitfalls, and the prose of a lecture."""
    LECTURE.check_sections(SECTIONS, major=10, words=5_000)
    LECTURE.check_phrases(TOPICS)
    md = LECTURE.markdown
    assert md.count("**Conventions.**") >= 5
    for convention in ("*Score layout.*", "*Mask meaning.*", "*Positional encoding.*", "*Norm placement.*",
                       "*Heads.*", "*Beam score.*"):
        assert convention in md, convention


def test_lecture_checks_are_collapsed():
    """Contract item 2: checks sit in collapsed cells; a teaching cell holds at most two asserts."""
    LECTURE.check_collapsed(min_checks=20)


def test_lecture_explorer_suggestions_are_tested():
    """Contract item 3: every "things to try" is quoted by a test of tests/test_explorers_attention.py."""
    LECTURE.check_suggestions_quoted("test_explorers_attention.py", [3, 6, 3, 3])


def test_lecture_defines_no_graded_function():
    """Contract item 4: the lecture calls course_lib / PyTorch for what the assignment grades."""
    LECTURE.check_defines_none_of(GRADED)
    assert defined_names("x = 1\ndef beam_search(f, bos):\n    pass\nsplit_heads = lambda x, h: x") == \
        {"beam_search", "split_heads"}


def test_lecture_does_not_copy_a_solution():
    """Contract item 4: no lecture code cell holds 3 consecutive non-trivial lines of a solution region."""
    LECTURE.check_copies_no_solution()
