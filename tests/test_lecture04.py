"""Lecture 04 (recurrent networks and language models): the unit contract's checks on the lecture notebook.

Structure (issue #17's topics in order, exercises, Conventions and Pitfalls notes), collapsed checks,
"things to try" quoted by tests/test_explorers_rnn.py, and no copy of a graded task's code: neither of
course_lib's reference implementations of the NumPy tasks (course_lib.nn.rnn) nor of the solution
regions of solutions/04_rnn once that notebook exists. nbval runs every cell (the notebook asserts its
own numbers and its CPU budget of 60 s).
"""
from __future__ import annotations

import ast
import re
import textwrap

from tests.lecture_harness import REPO, Lecture, flat, near_copies, region_lines

LECTURE = Lecture("04_rnn")

# The lecture's sections, in issue #17's order.
SECTIONS = ["## 1. Sequences and memory", "## 2. Language models: chains of conditionals", "## 3. The vanilla RNN",
            "## 4. Training: per-token cross-entropy, teacher forcing, BPTT",
            "## 5. Why it is hard: vanishing and exploding gradients", "## 6. Long short-term memory (LSTM)",
            "## 7. Why the LSTM helps, and what it does not fix", "## 8. The GRU", "## 9. Perplexity",
            "## 10. Sampling and temperature", "## 11. Applications and the bridge to attention", "## 12. Summary",
            "## 13. Further reading"]
MAJOR = 11          # sections 1-11 end with exercises

# Issue #17's topic list, each with a phrase the lecture must contain (whitespace normalised).
TOPICS = {
    "slot filling": "arrive Taipei on November 2nd", "three output shapes": "### 1.3 Three shapes of output",
    "1-of-N encoding": "### 1.2 Encoding words: 1-of-N", "chain of conditionals": r"\prod_{t=1}^{T} P(w_t \mid w_{<t})",
    "sampling vs argmax": "the **argmax** each time", "unrolled, shared weights": "**the same weights**",
    "dW as a sum over time": "**sum over time**", "Jordan networks": "**Jordan networks**",
    "deep and bidirectional": "**Bidirectional RNNs**", "teacher forcing": "### 4.2 Teacher forcing",
    "BPTT and truncated BPTT": "**Truncated BPTT**", "the w^999 toy": "**20,751.6**", "0.99^999": "**4.4e-5**",
    "clipping by value": "$(15, -15)$", "clipping by norm": "$(9, -12)$", "LSTM gates": "### 6.1 Gates and the memory cell",
    "4x parameters": "### 6.2 Four times the parameters", "hand-set example": r"$y \approx [0, 0, 0, 7, 0]$",
    "additive cell path": "### 7.1 The additive cell path", "positive forget-gate bias": "**positive forget-gate bias**",
    "not the cliffs": "**not the cliffs**", "GRU update form": r"$h_t = (1 - z_t)\odot n_t + z_t \odot h_{t-1}$",
    "perplexity of uniform over k": "has perplexity exactly $k$",
    "base independence": "The base of the logarithm does not matter",
    "temperature": "**Temperature** $\\tau$", "many-to-one": "**Many-to-one**", "seq2seq": "**Sequence-to-sequence**",
    "captioning tokens": "`<START>` (first input), `<END>` (stop) and `<NULL>`", "CTC": "**Speech recognition with CTC**",
    "COCO count corrected": "413,915 captions", "LSTM as gradient descent": "### 11.2 The LSTM as gradient descent",
    "bridge to attention": "**Attention** (Bahdanau et al., 2015)",
}
# The conventions issue #17 asks to state, each with a phrase of its note.
CONVENTIONS = {
    "gate order (i, f, g, o)": "stack the four blocks as **(i, f, g, o)**", "x @ Wx": "multiplies on the right, `x @ Wx`",
    "one bias vs two": "PyTorch has **two bias vectors**", "GRU update form": "$z$ near 1 **keeps** the old state",
    "loss normalisation": "**sums over time and divides by the batch size $N$**",
    "what the loss's exp means": "Only the per-token mean is a cross-entropy whose exponential is the perplexity",
    "(N, T, D) vs (T, N, D)": "`course_lib` is batch-first, $(N, T, D)$",
}



def test_lecture_structure():
    """Device line and timer first; the three explorers displayed; the demos call course_lib; no outputs committed."""
    assert LECTURE.notebook.metadata["kernelspec"]["name"] == "python3"
    LECTURE.check_setup(("display(cliff_explorer)", "display(gate_explorer)", "display(temperature_explorer)",
                         "rnn_forward(", "rnn_backward(", "temporal_softmax_loss(", "sklearn_text()", "CharRNN(",
                         "fit(model", "clip_grad_norm_", "clip_grad_value_", "lstm_gate_state(", "model.generate("))
    last = LECTURE.code_cells[-1]
    assert "CPU time" in last.source and "< 60" in last.source and LECTURE.is_check(last)


def test_lecture_sections_topics_exercises_conventions():
    """Contract item 1: #17's sections and topics in order; 2-4 exercises per major section; the conventions #17
    lists, in **Conventions.** notes; Pitfalls in every major section; the prose of a lecture."""
    LECTURE.check_sections(SECTIONS, major=MAJOR, words=6_000)
    LECTURE.check_phrases(TOPICS)
    LECTURE.check_phrases(CONVENTIONS, what="convention")
    md = LECTURE.markdown
    assert md.count("**Conventions.**") >= 6
    # the notes' wrong COCO count is named as wrong, never stated as the number
    assert "431,915, a transposition" in flat(md) and "431915" not in flat(md)


def test_lecture_checks_are_collapsed():
    """Contract item 2: CI-only checks sit in collapsed cells that start with the same comment; a teaching cell holds
    at most two asserts; every section's worked numbers are checked."""
    LECTURE.check_collapsed(min_checks=20)
    LECTURE.check_checked(("20751.6", "4.4e-05", "[15.0, -15.0]", "[9.0, -12.0]", "1_576_960",
                           "[0.0001, 0.0003, 0.0003, 6.9995, 0.0]", "0.366", "- 7) < 1e-12", "- 4) < 1e-12",
                           "413_915", "1.536"))


def _normalise_item(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.replace("$", "").replace("^{T-1}", "^(T-1)").lower())


def test_lecture_explorer_suggestions_are_tested():
    """Contract item 3: each "things to try" of the three explorers is quoted, whole, by a test of
    tests/test_explorers_rnn.py (the texts change together)."""
    LECTURE.check_suggestions_quoted("test_explorers_rnn.py", [5, 6, 4], normalise=_normalise_item)


def _reference_regions() -> dict[str, list[str]]:
    """The statements (docstring dropped) of every public function of course_lib.nn.rnn: the reference
    implementations of the assignment's NumPy tasks."""
    source = (REPO / "course_lib" / "nn" / "rnn.py").read_text(encoding="utf-8")
    regions = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body
            text = "\n".join(textwrap.dedent(ast.get_source_segment(source, s, padded=True) or "") for s in body)
            regions[f"course_lib.nn.rnn.{node.name}"] = region_lines(text)
    return regions


def test_lecture_does_not_copy_a_graded_task():
    """Contract item 4: no lecture code cell holds 3 or more consecutive non-trivial lines of course_lib's reference
    RNN/LSTM/embedding/loss code or of a solution region of unit 04."""
    regions = _reference_regions()
    assert {"course_lib.nn.rnn.rnn_backward", "course_lib.nn.rnn.lstm_step_forward",
            "course_lib.nn.rnn.temporal_softmax_loss"} <= set(regions)
    LECTURE.check_copies_no_solution(extra=regions)
    # the detector sees a pasted reference body (lstm_step_forward's), renamed variables aside
    source = (REPO / "course_lib" / "nn" / "rnn.py").read_text(encoding="utf-8")
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "lstm_step_forward")
    pasted = "\n".join(textwrap.dedent(ast.get_source_segment(source, s, padded=True) or "") for s in fn.body[1:])
    assert any(c.startswith("course_lib.nn.rnn.lstm_step_forward") for c in near_copies([pasted], regions))
