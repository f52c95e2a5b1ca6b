"""Text shipped inside scikit-learn, for character-level language models: nothing downloads.

scikit-learn ships the description of each of its datasets as reStructuredText
(``sklearn/datasets/descr/*.rst``); read in sorted file order they make one English
corpus of about 43,000 characters (92 distinct ones with scikit-learn 1.9).
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["sklearn_text", "split_text"]


def sklearn_text() -> str:
    """scikit-learn's dataset descriptions, concatenated in sorted file-name order.

    Raises:
        FileNotFoundError: if this scikit-learn ships no descriptions (reinstall scikit-learn).

    Introduced in lecture 04_rnn.
    """
    # lazy: only to find the texts scikit-learn ships; importing course_lib.data does not load it
    import sklearn

    folder = Path(sklearn.__file__).parent / "datasets" / "descr"
    files = sorted(folder.glob("*.rst"))
    if not files:
        raise FileNotFoundError(f"no dataset descriptions under {folder}: reinstall scikit-learn "
                                "(`make setup`), the character corpus is read from there")
    return "".join(f.read_text(encoding="utf-8") for f in files)


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split ``text`` into a training head and a validation tail (no shuffling: the tail is unseen prose).

    Args:
        text: the corpus; val_fraction: in (0, 1), the share of characters kept for validation.

    Returns:
        (train, val) with ``train + val == text``.

    Introduced in lecture 04_rnn.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = int(round(len(text) * (1 - val_fraction)))
    return text[:cut], text[cut:]
