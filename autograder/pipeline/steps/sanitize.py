"""Step 3: nbgrader's sanitize pass, as ``nbgrader autograde`` runs it.

ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells (which puts
back every locked cell from the gradebook, hidden tests included, and, with
``add_missing_cells``, grade cells the student deleted) and CheckCellMetadata,
in nbgrader's order.  ``add_missing_cells`` can fail on an odd layout; then
nbgrader's plain pass still grades what is there.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec

if TYPE_CHECKING:
    import logging

    from nbformat import NotebookNode
    from traitlets.config import Config

__all__ = ["sanitize", "PASS"]

PASS = (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata)


def sanitize(nb: NotebookNode, resources: dict, cfg: Config, log: logging.Logger) -> tuple[NotebookNode, dict]:
    """(notebook, resources) after the pass; raises what the plain pass raises."""
    cfg = copy.deepcopy(cfg)
    raw = copy.deepcopy(nb)
    cfg.OverwriteCells.add_missing_cells = True
    try:
        for cls in PASS:
            nb, resources = cls(config=cfg, log=log)(nb, resources)
        return nb, resources
    except Exception:
        nb = raw
        cfg.OverwriteCells.add_missing_cells = False
        for cls in PASS:
            nb, resources = cls(config=cfg, log=log)(nb, resources)
        return nb, resources
