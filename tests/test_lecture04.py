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
from pathlib import Path

import nbformat

from tests.test_unit01 import _normalised_lines, _trivial, near_copies

REPO = Path(__file__).resolve().parents[1]
LECTURE = REPO / "notebooks" / "lectures" / "04_rnn.ipynb"
SOLUTION = REPO / "solutions" / "04_rnn" / "04_rnn.ipynb"

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


def _cells():
    return nbformat.read(str(LECTURE), as_version=4).cells


def _markdown() -> str:
    return "\n\n".join(c.source for c in _cells() if c.cell_type == "markdown")


def _is_check(cell) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


def test_lecture_structure():
    """Device line and timer first; the three explorers displayed; the demos call course_lib; no outputs committed."""
    nb = nbformat.read(str(LECTURE), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = code[0].source
    assert "%matplotlib inline" in first and "describe()" in first and "LECTURE_T0" in first
    text = "\n".join(c.source for c in code)
    for needed in ("display(cliff_explorer)", "display(gate_explorer)", "display(temperature_explorer)",
                   "rnn_forward(", "rnn_backward(", "temporal_softmax_loss(", "sklearn_text()", "CharRNN(",
                   "fit(model", "clip_grad_norm_", "clip_grad_value_", "lstm_gate_state(", "model.generate("):
        assert needed in text, needed
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None, "commit the lecture without outputs"
    assert "CPU time" in code[-1].source and "< 60" in code[-1].source and _is_check(code[-1])


def test_lecture_sections_topics_exercises_conventions():
    """Contract item 1: #17's sections and topics in order; 2-4 exercises per major section; the conventions #17
    lists, in **Conventions.** notes; Pitfalls in every major section; the prose of a lecture."""
    md = _markdown()
    flat = " ".join(md.split())
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    for topic, phrase in TOPICS.items():
        assert " ".join(phrase.split()) in flat, f"missing topic: {topic} ({phrase!r})"
    for name, phrase in CONVENTIONS.items():
        assert phrase in flat, f"missing convention: {name}"
    for number in range(1, MAJOR + 1):
        body = md[md.index(SECTIONS[number - 1]):md.index(SECTIONS[number])]
        assert "### Exercises" in body, f"section {number} has no exercises"
        items = re.findall(r"^\d+\. ", body[body.rindex("### Exercises"):], re.M)
        assert 2 <= len(items) <= 4, f"section {number}: {len(items)} exercises, expected 2-4"
        assert "**Pitfalls.**" in body, f"section {number} has no Pitfalls note"
    assert md.count("**Conventions.**") >= 6
    assert len(md.split()) >= 6_000, f"{len(md.split())} words of prose"
    # the notes' wrong COCO count is named as wrong, never stated as the number
    assert "431,915, a transposition" in flat and "431915" not in flat


def test_lecture_checks_are_collapsed():
    """Contract item 2: CI-only checks sit in collapsed cells that start with the same comment; a teaching cell holds
    at most two asserts; every section's worked numbers are checked."""
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
    checked = "\n".join(c.source for c in checks)
    for number in ("20751.6", "4.4e-05", "[15.0, -15.0]", "[9.0, -12.0]", "1_576_960",
                   "[0.0001, 0.0003, 0.0003, 6.9995, 0.0]", "0.366", "- 7) < 1e-12", "- 4) < 1e-12", "413_915", "1.536"):
        assert number in checked, f"no collapsed check asserts {number}"


def _normalise_item(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def test_lecture_explorer_suggestions_are_tested():
    """Contract item 3: each "things to try" of the three explorers is quoted, whole, by a test of
    tests/test_explorers_rnn.py (the texts change together)."""
    md = _markdown()
    blocks = md.split("**Things to try**")[1:]
    assert len(blocks) == 3
    tests = _normalise_item(REPO.joinpath("tests", "test_explorers_rnn.py").read_text(encoding="utf-8"))
    counts = []
    for block in blocks:
        block = re.split(r"\n\s*\n(?![0-9] )", block.split("\n", 1)[1].strip("\n"))[0]     # the numbered list
        items = [" ".join(t.split()) for t in re.findall(r"^\d+\. (.*?)(?=^\d+\. |\Z)", block, re.M | re.S)]
        counts.append(len(items))
        for item in items:
            assert _normalise_item(item.replace("$", "").replace("^{T-1}", "^(T-1)")) in tests, \
                f"no test quotes the suggestion: {item}"
    assert counts == [5, 6, 4], counts


def _reference_regions() -> dict[str, list[str]]:
    """The statements (docstring dropped) of every public function of course_lib.nn.rnn: the reference
    implementations of the assignment's NumPy tasks."""
    path = REPO / "course_lib" / "nn" / "rnn.py"
    source = path.read_text(encoding="utf-8")
    regions = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body
            text = "\n".join(textwrap.dedent(ast.get_source_segment(source, s, padded=True) or "") for s in body)
            regions[f"course_lib.nn.rnn.{node.name}"] = [ln for ln in _normalised_lines(text) if not _trivial(ln)]
    return regions


def _solution_regions() -> dict[str, list[str]]:
    if not SOLUTION.exists():
        return {}
    regions = {}
    for cell in nbformat.read(str(SOLUTION), as_version=4).cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
            parts = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            regions[grade_id] = [ln for part in parts for ln in _normalised_lines(part) if not _trivial(ln)]
    return regions


def test_lecture_does_not_copy_a_graded_task():
    """Contract item 4: no lecture code cell holds 3 or more consecutive non-trivial lines of course_lib's reference
    RNN/LSTM/embedding/loss code or of a solution region of unit 04."""
    regions = {**_reference_regions(), **_solution_regions()}
    assert {"course_lib.nn.rnn.rnn_backward", "course_lib.nn.rnn.lstm_step_forward",
            "course_lib.nn.rnn.temporal_softmax_loss"} <= set(regions)
    code = [c.source for c in _cells() if c.cell_type == "code"]
    copies = near_copies(code, regions)
    assert not copies, "lecture code cells copy graded code:\n" + "\n".join(copies)
    # the detector sees a pasted reference body (lstm_step_forward's), renamed variables aside
    path = REPO / "course_lib" / "nn" / "rnn.py"
    source = path.read_text(encoding="utf-8")
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "lstm_step_forward")
    pasted = "\n".join(textwrap.dedent(ast.get_source_segment(source, s, padded=True) or "") for s in fn.body[1:])
    assert any(c.startswith("course_lib.nn.rnn.lstm_step_forward") for c in near_copies([pasted], regions))
