"""第 5 章 (深層学習フレームワーク) の概念図。

数値を含む図は、章の計算例のテンソルや記録をそのまま受け取って描く
(図と本文の数値がずれない)。流れ図は Graphviz に配置を任せる。
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from dlbook.diagrams.core import (
    COLORS,
    SVG,
    arrow,
    box,
    canvas,
    digraph,
    grid,
    label,
    render,
    to_svg,
)


def _storage_values(t: torch.Tensor) -> list[Any]:
    """テンソルが見ている記憶領域の要素 (storage_offset から)。"""
    n = t.untyped_storage().nbytes() // t.element_size()
    flat = torch.empty(0, dtype=t.dtype)
    flat.set_(t.untyped_storage(), 0, (n,), (1,))
    return flat.tolist()


def storage_diagram(A: torch.Tensor, T: torch.Tensor, C: torch.Tensor) -> SVG:
    """記憶領域・形・ストライド: ``A``、その転置 ``T``、コピー ``C``。

    Args:
        A: 2 次元の連続なテンソル。
        T: ``A.t()`` (``A`` と記憶領域を共有する)。
        C: ``T.contiguous()`` (別の記憶領域)。
    """
    if T.data_ptr() != A.data_ptr() or C.data_ptr() == A.data_ptr():
        raise ValueError("T は A と記憶領域を共有し、C は共有しないこと")
    store = _storage_values(A)
    store_c = _storage_values(C)
    n = len(store)
    fig, ax = canvas(n + 10, 10.5)
    grid(ax, [store], (5, 8.5), title="A と T の記憶領域 (storage)")
    for i in range(n):
        label(ax, (5.5 + i, 8.1), str(i), size=8, color=COLORS["muted"])
    x0, _, x1, y1 = grid(ax, A.tolist(), (0.5, 3.5))
    label(
        ax,
        ((x0 + x1) / 2, y1 + 0.5),
        f"A {tuple(A.shape)}\nストライド {A.stride()}",
        size=10,
    )
    tx0, _, tx1, ty1 = grid(ax, T.tolist(), (n + 5, 2.5), color=COLORS["fill"])
    label(
        ax,
        ((tx0 + tx1) / 2, ty1 + 0.5),
        f"T = A.t() {tuple(T.shape)}\nストライド {T.stride()}",
        size=10,
    )
    for x in [(x0 + x1) / 2, (tx0 + tx1) / 2]:  # どちらも記憶領域の先頭を指す
        arrow(ax, (x, ty1 + 1.1), (5.3, 8.4), color=COLORS["blue"])
    label(
        ax,
        (n / 2 + 5, 6.6),
        "同じ記憶領域を別のストライドで読む (view)",
        size=9,
        color=COLORS["blue"],
    )
    grid(ax, [store_c], (5, 1), color=COLORS["fill_orange"])
    label(
        ax,
        (n / 2 + 5, 0.4),
        f"T.contiguous(): 並べ直したコピー、ストライド {C.stride()}",
        size=10,
        color=COLORS["orange"],
    )
    return to_svg(fig)


def vjp_diagram(v: torch.Tensor, J: torch.Tensor, grad: torch.Tensor) -> SVG:
    """ベクトル–ヤコビ積 ``v^T J = x.grad`` を数値入りの格子で描く。

    Shape:
        - v: :math:`(m,)`、J: :math:`(m, n)`、grad: :math:`(n,)`
    """
    m, n = J.shape
    if v.shape != (m,) or grad.shape != (n,):
        raise ValueError(
            f"形が合わない: v {tuple(v.shape)}, J {(m, n)}, "
            f"grad {tuple(grad.shape)}"
        )
    fig, ax = canvas(2 * n + m + 6, m + 3)
    y = 1
    grid(
        ax,
        [v.tolist()],
        (0.5, y + (m - 1) / 2),
        title="v",
        color=COLORS["fill_orange"],
    )
    label(ax, (m + 1.0, y + m / 2), "×", size=14)
    grid(ax, J.tolist(), (m + 1.5, y), title="J = ∂y/∂x", color=COLORS["fill"])
    label(ax, (m + n + 2.5, y + m / 2), "=", size=14)
    grid(
        ax,
        [grad.tolist()],
        (m + n + 3.5, y + (m - 1) / 2),
        title="x.grad",
        color=COLORS["fill_green"],
    )
    return to_svg(fig)


def training_loop_diagram() -> SVG:
    """学習ループ: 5 つの操作の循環と、エポックの終わりの評価。"""
    g = digraph(rankdir="LR", nodesep="0.3")
    g.node(
        "data", "DataLoader\nミニバッチ (X, y)", fillcolor=COLORS["fill_gray"]
    )
    steps = [
        ("fwd", "1. 順伝播\ny_hat = net(X)"),
        ("loss", "2. 損失\nloss_fn(y_hat, y)"),
        ("zero", "3. opt.zero_grad()"),
        ("back", "4. loss.backward()"),
        ("step", "5. opt.step()"),
    ]
    for key, text in steps:
        g.node(key, text)
    g.edge("data", "fwd", label="X.to(dev)")
    for (a, _), (b, _) in itertools.pairwise(steps):
        g.edge(a, b)
    g.edge(
        "step",
        "data",
        label="次のミニバッチ",
        style="dashed",
        constraint="false",
    )
    g.node(
        "eval",
        "エポックの終わり\nnet.eval() + no_grad()\n検証の損失・正解率",
        fillcolor=COLORS["fill_green"],
    )
    g.edge("step", "eval", label="1 周したら")
    return render(g)


def dataloader_diagram(
    n: int, batch_size: int, batch_shape: Sequence[int]
) -> SVG:
    """DataLoader の中の流れ (Dataset → サンプラー → 束 → ワーカー → collate)。"""
    g = digraph(rankdir="LR", nodesep="0.25")
    g.node(
        "ds",
        f"Dataset\n{n} 件\n__len__ / __getitem__",
        fillcolor=COLORS["fill_gray"],
    )
    g.node("sampler", "サンプラー\n番号の順序\n(shuffle, generator)")
    g.node("batch", f"番号の束\n{batch_size} 個ずつ")
    g.node(
        "workers",
        "ワーカー (num_workers)\nds[i] と変換 (transform)\nを 1 件ずつ",
        fillcolor=COLORS["fill_yellow"],
    )
    g.node("collate", f"collate\n積み重ねる\n{tuple(batch_shape)}")
    g.node(
        "loop",
        "学習ループ\n(pin_memory → GPU)",
        fillcolor=COLORS["fill_green"],
    )
    g.edge("ds", "sampler", label="len")
    g.edge("sampler", "batch")
    g.edge("batch", "workers")
    g.edge("ds", "workers", style="dashed", label="複製")
    g.edge("workers", "collate")
    g.edge("collate", "loop")
    return render(g)


def param_groups_diagram(model: nn.Module, opt: torch.optim.Optimizer) -> SVG:
    """パラメータの名前から、それが属する最適化器のグループへの対応。"""
    names = {id(p): name for name, p in model.named_parameters()}
    g = digraph(rankdir="LR", nodesep="0.08", ranksep="0.8")
    for i, group in enumerate(opt.param_groups):
        settings = (
            f"lr={group['lr']:g}\nweight_decay={group['weight_decay']:g}"
        )
        gid = f"group{i}"
        g.node(
            gid, f"グループ {i}\n{settings}", fillcolor=COLORS["fill_green"]
        )
        for p in group["params"]:
            pid = f"p{id(p)}"
            g.node(
                pid,
                f"{names[id(p)]} {tuple(p.shape)}",
                fillcolor=COLORS["fill"]
                if p.ndim > 1
                else COLORS["fill_orange"],
                fontsize="10",
            )
            g.edge(pid, gid)
    return render(g)


def early_stopping_diagram(
    val_losses: Sequence[float], best_epoch: int, patience: int
) -> SVG:
    """エポックごとの検証の損失と、最良のエポック・patience・終了。"""
    n = len(val_losses)
    fig, ax = canvas(max(n, 8) * 1.25 + 1, 4.2)
    for i, v in enumerate(val_losses, start=1):
        x = (i - 1) * 1.25 + 0.5
        best = i == best_epoch
        after = best_epoch < i <= best_epoch + patience
        color = (
            COLORS["highlight"]
            if best
            else COLORS["fill_gray"]
            if after
            else COLORS["fill"]
        )
        box(ax, (x, 1.4), (1.1, 1.0), f"{v:.2f}", color=color, size=8)
        if i == 1 or i % 5 == 0 or best or i == n:
            label(ax, (x + 0.55, 1.0), str(i), size=8, color=COLORS["muted"])
    bx = (best_epoch - 1) * 1.25 + 1.05
    label(
        ax,
        (bx, 3.6),
        f"最良 (エポック {best_epoch}) → best.pt に保存",
        size=9,
        color=COLORS["orange"],
    )
    arrow(ax, (bx, 3.3), (bx, 2.5), color=COLORS["orange"])
    label(
        ax,
        (0.5, 0.4),
        f"エポック (灰色: 更新なしの {patience} エポック → "
        f"終了し best.pt を読み戻す)",
        size=9,
        ha="left",
    )
    return to_svg(fig)


def autocast_diagram(
    ops: Mapping[str, torch.dtype], low: torch.dtype, device: str
) -> SVG:
    """autocast の中で測った演算の出力の型を、16 ビットと float32 に分けて描く。"""
    low_ops = [k for k, dt in ops.items() if dt == low]
    f32_ops = [k for k, dt in ops.items() if dt == torch.float32]
    rows = max(len(low_ops), len(f32_ops))
    fig, ax = canvas(13, rows * 0.8 + 2.6)
    top = rows * 0.8 + 1.2
    name = str(low).removeprefix("torch.")
    label(
        ax, (3.5, top + 0.6), f"出力が {name}", size=11, color=COLORS["blue"]
    )
    label(
        ax, (9.5, top + 0.6), "出力が float32", size=11, color=COLORS["orange"]
    )
    for i, op in enumerate(low_ops):
        box(ax, (0.5, top - 0.8 * (i + 1)), (6, 0.65), op, size=9)
    for i, op in enumerate(f32_ops):
        box(
            ax,
            (6.8, top - 0.8 * (i + 1)),
            (5.7, 0.65),
            op,
            size=9,
            color=COLORS["fill_orange"],
        )
    label(
        ax,
        (6.5, 0.35),
        f"測定: {device} の autocast ({name})",
        size=9,
        color=COLORS["muted"],
    )
    return to_svg(fig)


def data_parallel_diagram(world_size: int, batch_size: int) -> SVG:
    """データ並列: ミニバッチを分け、勾配を all-reduce で平均し、同じ更新をする。"""
    g = digraph(rankdir="TB", nodesep="0.5")
    g.node(
        "batch", f"ミニバッチ {batch_size} 件", fillcolor=COLORS["fill_gray"]
    )
    g.node(
        "ar",
        "all-reduce\n平均 g = (g_0 + … + g_{R-1}) / R",
        shape="ellipse",
        fillcolor=COLORS["fill_yellow"],
    )
    shard = batch_size // world_size
    for r in range(world_size):
        g.node(
            f"m{r}", f"ランク {r}\nモデルの複製 θ\n{shard} 件で順伝播・逆伝播"
        )
        g.node(
            f"u{r}",
            f"ランク {r}\nθ ← θ − η × 平均 g",
            fillcolor=COLORS["fill_green"],
        )
        g.edge("batch", f"m{r}", label=f"{shard} 件")
        g.edge(f"m{r}", "ar", label=f"g_{r}")
        g.edge("ar", f"u{r}", label="平均 g")
    with g.subgraph() as same:
        same.attr(rank="same")
        for r in range(world_size):
            same.node(f"u{r}")
    g.node(
        "note",
        "すべてのランクで同じ重み",
        shape="plaintext",
        style="",
        fillcolor="white",
    )
    g.edge(f"u{world_size - 1}", "note", style="invis")
    return render(g)


def sampler_diagram(
    epoch0: Sequence[Sequence[Sequence[int]]],
    epoch1: Sequence[Sequence[Sequence[int]]],
) -> SVG:
    """``DistributedSampler`` のシャード: ``[rank][step]`` → 番号、2 エポック分。"""
    ranks = len(epoch0)
    steps = len(epoch0[0])
    per = len(epoch0[0][0])
    width = 2 * (steps * per + 1) + 4
    fig, ax = canvas(width, ranks * 1.6 + 2.4)
    for e, shards in enumerate([epoch0, epoch1]):
        x = 2.5 + e * (steps * per + 2)
        label(
            ax,
            (x + steps * per / 2, ranks * 1.6 + 1.6),
            f"エポック {e} (set_epoch({e}))",
            size=10,
        )
        for r in range(ranks):
            y = (ranks - 1 - r) * 1.6 + 0.5
            row = [i for batch in shards[r] for i in batch]
            fill = COLORS["fill"] if r == 0 else COLORS["fill_orange"]
            grid(ax, [row], (x, y), color=fill, size=9)
            for s in range(1, steps):
                ax.plot(
                    [x + s * per] * 2,
                    [y - 0.15, y + 1.15],
                    color=COLORS["ink"],
                    lw=2.5,
                )
            if e == 0:
                label(ax, (1.2, y + 0.5), f"ランク {r}", size=10)
    return to_svg(fig)


def checkpoint_diagram(ckpt: Mapping[str, Any]) -> SVG:
    """再開用のチェックポイント (``save_training_state`` の辞書) の中身。"""
    g = digraph(rankdir="LR", nodesep="0.12")
    g.node(
        "file", "ckpt.pt\n(torch.save の辞書)", fillcolor=COLORS["fill_gray"]
    )
    for key, value in ckpt.items():
        if isinstance(value, Mapping):
            inner = list(value)
            if key == "model":
                text = (
                    f"{len(inner)} 個のテンソル\n"
                    + "\n".join(inner[:3])
                    + "\n…"
                )
            else:
                shown = [str(k) for k in inner if not str(k).startswith("_")]
                text = "\n".join(shown[:5]) + ("\n…" if len(shown) > 5 else "")
        elif value is None:
            text = "なし"
        else:
            text = str(value)
        fill = COLORS["fill_yellow"] if key == "rng" else COLORS["fill"]
        g.node(key, f"{key}\n{text}", fillcolor=fill)
        g.edge("file", key)
    return render(g)


__all__ = [
    "autocast_diagram",
    "checkpoint_diagram",
    "data_parallel_diagram",
    "dataloader_diagram",
    "early_stopping_diagram",
    "param_groups_diagram",
    "sampler_diagram",
    "storage_diagram",
    "training_loop_diagram",
    "vjp_diagram",
]
