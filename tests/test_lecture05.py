"""Lecture 05 (attention and transformers) against the unit contract: its sections in issue #18's order,
exercises, Conventions and Pitfalls, collapsed checks, explorers whose suggestions are tested, and no code
that solves the assignment's graded tasks.

The notebook is read, not run: nbval runs it (`pytest notebooks/lectures/05_attention.ipynb`), and its
collapsed check cells assert every number the text states.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
LECTURE = REPO / "notebooks" / "lectures" / "05_attention.ipynb"
SOLUTION = REPO / "solutions" / "05_attention" / "05_attention.ipynb"

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


def _cells():
    return nbformat.read(str(LECTURE), as_version=4).cells


def _markdown() -> str:
    return "\n\n".join(c.source for c in _cells() if c.cell_type == "markdown")


def _code() -> list[str]:
    return [c.source for c in _cells() if c.cell_type == "code"]


def _is_check(cell) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


def test_lecture_structure_and_no_outputs():
    code = _code()
    assert "%matplotlib inline" in code[0] and "describe()" in code[0] and "LECTURE_T0" in code[0]
    text = "\n".join(code)
    for explorer in ("AttentionExplorer()", "KernelRegressionExplorer()", "PositionalEncodingExplorer()",
                     "BeamSearchExplorer()"):
        assert explorer in text, explorer
    assert text.count("display(") >= 4
    for demo in ("scaled_dot_product_attention(", "causal_mask(", "Seq2SeqTransformer(", "multi_head_attention_forward(",
                 "nn.MultiheadAttention(", "norm_first=", "beam_search_trace(", "kernel_regression_state("):
        assert demo in text, demo
    for cell in _cells():
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "commit the lecture without outputs"
    assert "assert cpu < 60" in code[-1], "the last cell checks the 60 s CPU budget"


def test_lecture_sections_topics_exercises():
    """Contract item 1: the sections in order, 2-4 exercises ending each of sections 1-10, issue #18's topics,
    Conventions and Pitfalls, and the prose of a lecture."""
    md = _markdown()
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    for topic, phrase in TOPICS.items():
        assert phrase in md, f"missing topic: {topic}"
    for number in range(1, 11):
        body = md[md.index(SECTIONS[number - 1]):md.index(SECTIONS[number])]
        assert "### Exercises" in body, f"section {number} has no exercises"
        items = re.findall(r"^\d+\. ", body[body.rindex("### Exercises"):], re.M)
        assert 2 <= len(items) <= 4, f"section {number}: {len(items)} exercises, expected 2-4"
        assert "**Pitfalls.**" in body, f"section {number} has no pitfalls"
    assert md.count("**Conventions.**") >= 5
    for convention in ("*Score layout.*", "*Mask meaning.*", "*Positional encoding.*", "*Norm placement.*",
                       "*Heads.*", "*Beam score.*"):
        assert convention in md, convention
    assert len(md.split()) >= 5_000, f"{len(md.split())} words of prose"


def test_lecture_checks_are_collapsed():
    """Contract item 2: checks sit in collapsed cells; a teaching cell holds at most two asserts."""
    cells = _cells()
    checks = [c for c in cells if c.cell_type == "code" and _is_check(c)]
    assert len(checks) >= 20
    for c in cells:
        if c.cell_type != "code":
            continue
        asserts = len(re.findall(r"^\s*assert\b", c.source, re.M))
        if _is_check(c):
            assert c.source.startswith("# Checks (collapsed)") and asserts >= 1, c.source[:80]
        else:
            assert asserts <= 2, f"a teaching cell with {asserts} asserts:\n{c.source[:200]}"


def _suggestions(md: str) -> list[list[str]]:
    blocks = []
    for part in md.split("**Things to try**")[1:]:
        block = part.split("\n\n", 2)[1]                       # the numbered list after the "(each is checked ...)" line
        blocks.append([" ".join(t.split()) for t in re.findall(r"^\d+\. (.*?)(?=^\d+\. |\Z)", block, re.M | re.S)])
    return blocks


def test_lecture_explorer_suggestions_are_tested():
    """Contract item 3: every "things to try" is quoted by a test of tests/test_explorers_attention.py."""
    blocks = _suggestions(_markdown())
    assert [len(b) for b in blocks] == [3, 6, 3, 3]             # kernel regression, attention, positions, beam
    tests = " ".join(Path(__file__).with_name("test_explorers_attention.py").read_text(encoding="utf-8").split())
    for item in (i for b in blocks for i in b):
        assert item.replace("`", "") in tests.replace("`", ""), f"no test quotes the suggestion: {item}"


def _defined_graded(sources: list[str]) -> list[str]:
    pattern = re.compile(rf"^\s*(?:def|class)\s+({'|'.join(GRADED)})\b|^\s*({'|'.join(GRADED)})\s*=\s*lambda", re.M)
    return [m.group(1) or m.group(2) for src in sources for m in pattern.finditer(src)]


def test_lecture_defines_no_graded_function():
    """Contract item 4: the lecture calls course_lib / PyTorch for what the assignment grades."""
    assert _defined_graded(_code()) == []
    assert _defined_graded(["x = 1\ndef beam_search(f, bos):\n    pass", "  split_heads = lambda x, h: x"]) == \
        ["beam_search", "split_heads"]


def test_lecture_does_not_copy_a_solution():
    """Contract item 4: no lecture code cell holds 3 consecutive non-trivial lines of a solution region."""
    if not SOLUTION.exists():
        pytest.skip("the unit 05 assignment (helper u05a's) is not on this branch yet")
    from tests.test_unit01 import _normalised_lines, _trivial, near_copies

    nb = nbformat.read(str(SOLUTION), as_version=4)
    regions = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            parts = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            regions[grade_id] = [ln for part in parts for ln in _normalised_lines(part) if not _trivial(ln)]
    assert regions, "no solution regions found"
    copies = near_copies(_code(), regions)
    assert not copies, "lecture code cells copy solution regions:\n" + "\n".join(copies)
