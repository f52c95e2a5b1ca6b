"""Attack submissions: hostile or broken submissions the autograder must survive and not reward.

Each unit's module ``tests/attacks/unitNN.py`` defines ``ATTACKS`` (a list of
:class:`Attack`) and ``HONEST`` (ordinary submissions graded in the same run,
whose grade must not change because attacks ran beside them).  An attack is
data: how to build the submission directory from the unit's release and
solution, and the most points it may get.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attack:
    """One hostile submission.

    Attributes:
        name: short id, also the student id in the test instance.
        kind: resource | monkeypatch | disk | tamper | malformed | honest.
        build: ``build(ctx) -> {relative path: bytes or str}``, the submission's files
            (``ctx`` is a :class:`Context`); a value ``("symlink", target)`` makes a link.
        max_points: the most it may score (what it deserves at best).
        min_points: the least it must score (the parts that were done right still count).
        statuses: acceptable grading statuses (empty: any).
        what: what the attack tries, in a line.
    """

    name: str
    kind: str
    build: Callable
    max_points: float
    min_points: float = 0.0
    statuses: tuple = ()
    what: str = ""
    side_effects: tuple = field(default=())  # names of extra checks the test runs (e.g. "no_writes")


@dataclass
class Context:
    """What an attack is built from."""

    release: object          # the student release notebook (nbformat)
    source: object           # the instructor's source notebook
    solutions: dict          # task id -> solution source (markers removed)
    wrong: dict              # task id -> a plausible wrong implementation (a mutant)
    points: dict             # task id -> points
    source_path: str         # where the instructor's source notebook lives (for the symlink attack)
    notebook: str            # file name of the graded notebook
    canary_port: int = 0     # a TCP port the test listens on: nothing may connect
