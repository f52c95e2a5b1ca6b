"""Interactive explorers of the later units, one module per unit's topic.

Each explorer's compute part is a plain function (tested without a browser);
the ipywidgets class draws a figure before any control moves. Units 01-03's
explorers live in :mod:`course_lib.widgets`.
"""
