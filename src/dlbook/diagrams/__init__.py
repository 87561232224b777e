"""本書の概念図をコードで描く (ビルドのたびに SVG を作る)。

``from dlbook import diagrams as dg`` として使う。

- 道具 (:mod:`dlbook.diagrams.core`): :func:`canvas`, :func:`grid`, :func:`box`,
  :func:`arrow`, :func:`label`, :func:`to_svg` (matplotlib → SVG)、
  :func:`digraph`, :func:`render` (Graphviz → SVG)、:data:`COLORS`。
- 実物から描くグラフ (:mod:`dlbook.diagrams.graphs`、torch を使う):
  :func:`module_graph`, :func:`autograd_graph`。torch は使うときに読み込む。
- 章ごとの図は同じパッケージの章のモジュールにある (``nn_basics``, ``framework``,
  ``cnn``, ``detection``)。
"""

from __future__ import annotations

from typing import Any

from dlbook.diagrams.core import (
    COLORS,
    FONT,
    SVG,
    arrow,
    box,
    canvas,
    digraph,
    graph_texts,
    grid,
    label,
    render,
    to_svg,
)

__all__ = [
    "COLORS",
    "FONT",
    "SVG",
    "arrow",
    "autograd_graph",
    "box",
    "canvas",
    "digraph",
    "graph_texts",
    "grid",
    "label",
    "module_graph",
    "render",
    "to_svg",
]


def __getattr__(name: str) -> Any:
    """torch を要する関数は、初めて使うときに読み込む (NumPy の章を軽く保つ)。"""
    if name in ("module_graph", "autograd_graph"):
        from dlbook.diagrams import graphs

        return getattr(graphs, name)
    raise AttributeError(f"module 'dlbook.diagrams' has no attribute {name!r}")
