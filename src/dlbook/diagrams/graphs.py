"""実物から描くグラフ: ``nn.Module`` のデータの流れと、テンソルの自動微分グラフ。

どちらも打ち直した図ではなく、渡されたオブジェクトをたどって描く。

- :func:`module_graph` は ``torch.fx`` でモデルを記号的に実行し、
  層 (葉のモジュール) と関数 (``add`` など) をデータの流れの順につなぐ。
  残差接続のような分岐・合流もそのまま出る。``input_shape`` を渡すと
  各層の出力の形を書き添える。
- :func:`autograd_graph` は ``tensor.grad_fn`` から ``next_functions`` を
  たどり、逆伝播で呼ばれる関数 (``MulBackward0`` など) と、勾配がたまる葉
  (``AccumulateGrad``) を描く。
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import fx, nn

from dlbook.diagrams.core import COLORS, digraph


class _DepthTracer(fx.Tracer):
    """``max_depth`` より深いモジュールと ``leaf_types`` を 1 つの箱として扱う。"""

    def __init__(self, max_depth: int, leaf_types: tuple[type, ...]) -> None:
        super().__init__()
        self.max_depth = max_depth
        self.leaf_types = leaf_types

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, self.leaf_types):
            return True
        depth = qualname.count(".") + 1 if qualname else 0
        return depth >= self.max_depth or super().is_leaf_module(m, qualname)


def _shape_text(meta: Any) -> str:
    tm = getattr(meta, "shape", None)
    if tm is None:
        return ""
    return "×".join(str(d) for d in tm)


def module_graph(
    model: nn.Module,
    input_shape: tuple[int, ...] | None = None,
    *,
    max_depth: int = 1,
    leaf_types: Iterable[type] = (),
    rankdir: str = "TB",
    labels: Mapping[str, str] | None = None,
) -> Any:
    """モデルのデータの流れを Graphviz の有向グラフにする。

    Args:
        model: 描くモデル (``torch.fx`` で記号的に実行できるもの)。
        input_shape: 入力の形 (例: ``(1, 1, 28, 28)``)。渡すと各箱に出力の形を書く。
        max_depth: この深さのモジュールを 1 つの箱にする (1 なら直下の子)。
        leaf_types: 深さによらず 1 つの箱にする型 (例: ``BasicBlock``)。
        rankdir: ``"TB"`` (上から下) か ``"LR"``。
        labels: 限定名 → 箱の文字の上書き。

    Returns:
        ``graphviz.Digraph`` (:func:`dlbook.diagrams.render` で SVG にする)。
    """
    if max_depth < 1:
        raise ValueError(f"max_depth は 1 以上: {max_depth}")
    tracer = _DepthTracer(max_depth, tuple(leaf_types))
    graph = tracer.trace(model)
    gm = fx.GraphModule(model, graph)
    if input_shape is not None:
        from torch.fx.passes.shape_prop import ShapeProp

        was_training = model.training
        model.eval()
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(input_shape))
        model.train(was_training)
    labels = dict(labels or {})
    g = digraph(rankdir=rankdir)
    for node in gm.graph.nodes:
        shape = _shape_text(node.meta.get("tensor_meta"))
        if node.op == "placeholder":
            text = "入力" + (f"\n{shape}" if shape else "")
            g.node(node.name, text, fillcolor=COLORS["fill_gray"])
        elif node.op == "output":
            g.node(node.name, "出力", fillcolor=COLORS["fill_gray"])
        elif node.op == "call_module":
            sub = gm.get_submodule(str(node.target))
            head = labels.get(
                str(node.target), f"{node.target}: {type(sub).__name__}"
            )
            g.node(node.name, head + (f"\n{shape}" if shape else ""))
        else:  # call_function / call_method (add, flatten, relu …)
            name = getattr(node.target, "__name__", str(node.target))
            text = labels.get(node.name, name)
            g.node(
                node.name,
                text + (f"\n{shape}" if shape else ""),
                shape="ellipse",
                fillcolor=COLORS["fill_yellow"],
            )
        for arg in node.all_input_nodes:
            g.edge(arg.name, node.name)
    return g


def autograd_graph(
    output: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None
) -> Any:
    """``output.grad_fn`` から逆伝播のグラフを描く。

    Args:
        output: ``requires_grad`` の計算の結果のテンソル。
        params: 名前 → 葉のテンソル。葉の箱にこの名前と形を書く。

    Returns:
        ``graphviz.Digraph``。楕円が逆伝播の関数 (``grad_fn``)、
        緑の箱が勾配のたまる葉、灰色の箱が出力。
    """
    if output.grad_fn is None:
        raise ValueError(
            "output に grad_fn がない: requires_grad=True の葉から計算したテンソルを渡す"
        )
    names = {id(t): n for n, t in (params or {}).items()}
    g = digraph(rankdir="BT")
    seen: set[int] = set()
    out_id = "out"
    g.node(
        out_id,
        f"出力\n{tuple(output.shape)}",
        fillcolor=COLORS["fill_gray"],
    )

    def node_id(fn: Any) -> str:
        return f"fn{id(fn)}"

    def visit(fn: Any) -> None:
        if fn is None or id(fn) in seen:
            return
        seen.add(id(fn))
        if hasattr(fn, "variable"):  # AccumulateGrad: 葉のテンソル
            var = fn.variable
            name = names.get(id(var), "葉")
            g.node(
                node_id(fn),
                f"{name}\n{tuple(var.shape)}",
                fillcolor=COLORS["fill_green"],
            )
        else:
            g.node(
                node_id(fn),
                type(fn).__name__,
                shape="ellipse",
                fillcolor=COLORS["fill_yellow"],
            )
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                visit(nxt)
                g.edge(node_id(nxt), node_id(fn))

    visit(output.grad_fn)
    g.edge(node_id(output.grad_fn), out_id)
    return g
