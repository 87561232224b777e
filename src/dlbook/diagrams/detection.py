"""第 6 章の後半 (NumPy の CNN、転移学習、物体検出、分類を超えて) の概念図。

数値を含む図 (IoU、NMS、アンカー、適合率–再現率曲線、層の形) は本文の計算例と
同じ値を受け取って描く。モデルの図 (転移学習の凍結、U-Net) は実物のモジュール
から描く。どの関数も :class:`dlbook.diagrams.SVG` を返す。
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from dlbook.diagrams.core import (
    COLORS,
    SVG,
    arrow,
    box,
    canvas,
    digraph,
    label,
    render,
    to_svg,
)

_PALETTE = [COLORS[c] for c in ("blue", "orange", "green", "purple", "yellow")]


# ------------------------------------------------------------ NumPy の CNN
def layer_stack(shapes: Sequence[tuple[str, tuple[int, ...]]]) -> SVG:
    """層の名前と出力の形 (``numpy_cnn.layer_shapes`` の結果) を縦に並べる。

    形はバッチの軸を除いて ``C×H×W`` (平坦化の後は次元数) と書く。
    """
    g = digraph(rankdir="LR", nodesep="0.15", ranksep="0.25")
    fills = {
        "Conv2d": COLORS["fill"],
        "ReLU": COLORS["fill_gray"],
        "MaxPool2d": COLORS["fill_orange"],
        "Flatten": COLORS["fill_gray"],
        "Affine": COLORS["fill_green"],
    }
    for k, (name, shape) in enumerate(shapes):
        dims = "×".join(str(d) for d in shape[1:])
        g.node(f"n{k}", f"{name}\n{dims}", fillcolor=fills.get(name, "white"))
        if k:
            g.edge(f"n{k - 1}", f"n{k}")
    g.node(
        "loss", "Softmax +\n交差エントロピー", fillcolor=COLORS["fill_purple"]
    )
    g.edge(f"n{len(shapes) - 1}", "loss")
    return render(g)


# ---------------------------------------------------------------- 転移学習
def _blocks(model: Any) -> list[str]:
    """``model.features`` を畳み込みごとのブロックに分け、その説明を返す。"""
    from torch import nn

    names: list[str] = []
    for m in model.features.children():
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0]
            names.append(
                f"畳み込み {m.in_channels}→{m.out_channels} ({k}×{k})"
            )
    return names


def transfer_modes(model: Any, stages: Sequence[Sequence[int]]) -> SVG:
    """ゼロから・特徴抽出・ファインチューニング・段階的な解凍を並べた図。

    ブロックは ``model.features`` の畳み込みから、ヘッドは ``model.fc`` から
    数える。灰色の箱は凍結 (学習しない)、色の箱は学習する層。

    Args:
        model: ``features`` (``nn.Sequential``) と ``fc`` を持つモデル。
        stages: 段階的な解凍の各段階で学習するブロックの番号
            (ヘッドはいつも学習する)。例 ``[[], [2], [1, 2]]``。
    """
    blocks = _blocks(model)
    head = f"ヘッド {model.fc.in_features}→{model.fc.out_features}"
    B = len(blocks)
    cols: list[tuple[str, list[str], str]] = [
        ("ゼロから", ["train"] * B, "乱数の初期値"),
        ("特徴抽出", ["frozen"] * B, "事前学習の重み"),
        ("ファインチューニング", ["train"] * B, "事前学習の重み"),
    ]
    for s, trainable in enumerate(stages):
        state = ["train" if b in trainable else "frozen" for b in range(B)]
        cols.append((f"段階的な解凍 {s + 1}", state, "事前学習の重み"))
    colw, boxw, boxh = 4.6, 4.0, 0.9
    fig, ax = canvas(colw * len(cols) + 0.2, (B + 1) * 1.3 + 2.2)
    for c, (title, states, init) in enumerate(cols):
        x = 0.3 + c * colw
        top = (B + 1) * 1.3 + 0.6
        label(ax, (x + boxw / 2, top + 0.9), title, size=11)
        label(
            ax, (x + boxw / 2, top + 0.35), init, size=9, color=COLORS["muted"]
        )
        for b, name in enumerate(blocks):
            y = top - 1.3 * (b + 1)
            frozen = states[b] == "frozen"
            box(
                ax,
                (x, y),
                (boxw, boxh),
                name + (" 凍結" if frozen else ""),
                color=COLORS["fill_gray"] if frozen else COLORS["fill"],
                edge=COLORS["muted"] if frozen else COLORS["ink"],
                dashed=frozen,
                size=9,
            )
        y = top - 1.3 * (B + 1)
        new = c > 0
        box(
            ax,
            (x, y),
            (boxw, boxh),
            head + (" (新しい)" if new else ""),
            color=COLORS["fill_green"],
            size=9,
        )
    return to_svg(fig)


# ---------------------------------------------------------------- 箱と IoU
def _flip(y: float, height: float) -> float:
    return height - y  # 画像の座標 (y 下向き) → 画布 (y 上向き)


def iou_boxes(
    a: Sequence[float], b: Sequence[float], iou: float, size: float = 80
) -> SVG:
    """2 つの箱 (xyxy、画素) と重なりを描き、IoU の計算を書き添える。

    Args:
        a, b: 箱 ``(x1, y1, x2, y2)``。
        iou: ``detection.box_iou`` で求めた値 (図の式の答え)。
        size: 画像の一辺 (画素)。
    """
    s = 10.0  # 10 画素を 1 単位で描く
    W = size / s
    fig, ax = canvas(W + 9.5, W)
    ax.add_patch(
        Rectangle((0, 0), W, W, fill=False, ec=COLORS["muted"], lw=0.8)
    )
    for (x1, y1, x2, y2), col, name in (
        (a, COLORS["blue"], "A"),
        (b, COLORS["orange"], "B"),
    ):
        ax.add_patch(
            Rectangle(
                (x1 / s, _flip(y2, size) / s),
                (x2 - x1) / s,
                (y2 - y1) / s,
                fill=False,
                ec=col,
                lw=2,
            )
        )
        label(ax, (x1 / s + 0.3, _flip(y1, size) / s - 0.4), name, color=col)
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    iw, ih = max(ix2 - ix1, 0.0), max(iy2 - iy1, 0.0)
    if iw * ih > 0:
        ax.add_patch(
            Rectangle(
                (ix1 / s, _flip(iy2, size) / s),
                iw / s,
                ih / s,
                fc=COLORS["highlight"],
                ec="none",
                zorder=0,
            )
        )
        label(
            ax,
            ((ix1 + ix2) / 2 / s, _flip((iy1 + iy2) / 2, size) / s),
            "A∩B",
            size=9,
        )
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    inter = iw * ih
    x0 = W + 0.6
    lines = [
        f"|A| = {a[2] - a[0]:g}×{a[3] - a[1]:g} = {area_a:g}",
        f"|B| = {b[2] - b[0]:g}×{b[3] - b[1]:g} = {area_b:g}",
        f"|A∩B| = {iw:g}×{ih:g} = {inter:g}",
        f"IoU = {inter:g} / ({area_a:g} + {area_b:g} − {inter:g})",
        f"    = {iou:.4f}",
    ]
    for k, text in enumerate(lines):
        label(ax, (x0, W - 1.2 - 1.3 * k), text, ha="left", size=10)
    return to_svg(fig)


def _draw_boxes(
    ax: Any,
    boxes: np.ndarray,
    x0: float,
    size: float,
    s: float,
    colors: Sequence[str],
    lw: float,
) -> None:
    for (x1, y1, x2, y2), col in zip(boxes, colors, strict=True):
        ax.add_patch(
            Rectangle(
                (x0 + x1 / s, _flip(y2, size) / s),
                (x2 - x1) / s,
                (y2 - y1) / s,
                fill=False,
                ec=col,
                lw=lw,
            )
        )


def nms_before_after(
    boxes: np.ndarray,
    scores: np.ndarray,
    keep: np.ndarray,
    groups: np.ndarray,
    size: float = 120,
) -> SVG:
    """NMS の前 (すべての箱) と後 (残った箱とスコア) を左右に並べる。

    Args:
        boxes: 箱 (K, 4) xyxy。
        scores: スコア (K,)。
        keep: ``detection.nms`` が残した添字。
        groups: 各箱がどの物体のまわりの箱か (K,) (色分けに使う)。
        size: 画像の一辺 (画素)。
    """
    s = 10.0
    W = size / s
    gap = 1.5
    fig, ax = canvas(2 * W + gap, W + 1.3)
    cols = [_PALETTE[int(g) % len(_PALETTE)] for g in groups]
    for x0 in (0.0, W + gap):
        ax.add_patch(
            Rectangle((x0, 0), W, W, fill=False, ec=COLORS["muted"], lw=0.8)
        )
    _draw_boxes(ax, boxes, 0.0, size, s, cols, 0.6)
    kept = np.asarray(keep)
    _draw_boxes(
        ax, boxes[kept], W + gap, size, s, [cols[k] for k in kept], 1.8
    )
    for k in kept:
        x1, y1 = boxes[k, 0], boxes[k, 1]
        label(
            ax,
            (W + gap + x1 / s + 0.1, _flip(y1, size) / s - 0.35),
            f"{scores[k]:.2f}",
            size=7,
            ha="left",
            color=cols[k],
        )
    label(ax, (W / 2, W + 0.6), f"NMS の前: {len(boxes)} 個")
    label(ax, (W + gap + W / 2, W + 0.6), f"NMS の後: {len(kept)} 個")
    arrow(ax, (W + 0.2, W / 2), (W + gap - 0.2, W / 2))
    return to_svg(fig)


def anchor_grid(
    anchors: np.ndarray,
    grid_size: int,
    stride: float,
    cell: tuple[int, int],
    n_scales: int,
    n_ratios: int,
) -> SVG:
    """特徴マップの格子と、1 つのセルに置いたアンカー箱を描く。

    Args:
        anchors: ``detection.anchor_boxes`` の結果 (S*S*A, 4)。
        grid_size: 格子の一辺 S。
        stride: 1 セルの画素数。
        cell: アンカーを描くセル (行, 列)。
        n_scales, n_ratios: 大きさと縦横比の数 (A = n_scales * n_ratios)。
    """
    size = grid_size * stride
    s = stride / 1.2  # 1 セルを 1.2 単位で描く
    W = size / s
    A = n_scales * n_ratios
    fig, ax = canvas(W + 7.5, W + 1.0)
    for k in range(grid_size + 1):
        ax.plot([k * 1.2, k * 1.2], [0, W], color=COLORS["muted"], lw=0.6)
        ax.plot([0, W], [k * 1.2, k * 1.2], color=COLORS["muted"], lw=0.6)
    cs = (np.arange(grid_size) + 0.5) * 1.2
    xs, ys = np.meshgrid(cs, cs)
    ax.plot(xs.ravel(), ys.ravel(), ".", color=COLORS["muted"], ms=3)
    i, j = cell
    start = (i * grid_size + j) * A
    mine = anchors[start : start + A]
    cols = [_PALETTE[k // n_ratios] for k in range(A)]
    _draw_boxes(ax, mine, 0.0, size, s, cols, 1.5)
    ax.add_patch(
        Rectangle(
            (j * 1.2, W - (i + 1) * 1.2),
            1.2,
            1.2,
            fc=COLORS["highlight"],
            ec="none",
            zorder=0,
        )
    )
    label(
        ax,
        (W / 2, W + 0.5),
        f"{grid_size}×{grid_size} の特徴マップ (1 セル = {stride:g} 画素)",
    )
    x0 = W + 0.8
    texts = [
        f"1 セルに {A} 個のアンカー",
        f"大きさ {n_scales} 通り (色) ×",
        f"縦横比 {n_ratios} 通り",
        f"全部で {len(anchors)} 個",
    ]
    for k, t in enumerate(texts):
        label(ax, (x0, W - 1.0 - 1.1 * k), t, ha="left", size=10)
    return to_svg(fig)


def two_stage_vs_one_stage() -> SVG:
    """2 段階 (Faster R-CNN) と 1 段階 (YOLO/SSD/RetinaNet) の検出器の流れ。"""
    g = digraph(rankdir="LR", nodesep="0.25", ranksep="0.3")
    with g.subgraph(name="cluster_two") as c:
        c.attr(
            label="2 段階 (Faster R-CNN)",
            style="rounded",
            color=COLORS["muted"],
        )
        c.node("i2", "画像", fillcolor="white")
        c.node("b2", "バックボーン\n(+ FPN)")
        c.node(
            "rpn", "RPN\n候補領域 約 1000 個", fillcolor=COLORS["fill_orange"]
        )
        c.node(
            "roi", "RoIAlign\n7×7 に切り出す", fillcolor=COLORS["fill_orange"]
        )
        c.node(
            "h2", "ヘッド\nクラス + 箱の補正", fillcolor=COLORS["fill_green"]
        )
        c.node("n2", "NMS → 検出", fillcolor=COLORS["fill_gray"])
        for a, b in (
            ("i2", "b2"),
            ("b2", "rpn"),
            ("rpn", "roi"),
            ("roi", "h2"),
            ("h2", "n2"),
        ):
            c.edge(a, b)
        c.edge("b2", "roi", style="dashed", label="特徴マップ")
    with g.subgraph(name="cluster_one") as c:
        c.attr(
            label="1 段階 (YOLO, SSD, RetinaNet)",
            style="rounded",
            color=COLORS["muted"],
        )
        c.node("i1", "画像", fillcolor="white")
        c.node("b1", "バックボーン\n(+ FPN)")
        c.node(
            "h1",
            "密なヘッド\n全セル・全アンカーで\nクラス + 箱",
            fillcolor=COLORS["fill_green"],
        )
        c.node("n1", "NMS → 検出", fillcolor=COLORS["fill_gray"])
        for a, b in (("i1", "b1"), ("b1", "h1"), ("h1", "n1")):
            c.edge(a, b)
    return render(g)


def pr_curve(precision: np.ndarray, recall: np.ndarray, ap_all: float) -> SVG:
    """適合率–再現率の点、補間した階段、その下の面積 (全点補間の AP) を描く。

    Args:
        precision, recall: ``detection.precision_recall`` の結果 (スコア順)。
        ap_all: ``average_precision(..., method="all")`` (塗った面積)。
    """
    interp = np.maximum.accumulate(precision[::-1])[::-1]
    L = 7.0  # 軸の長さ
    ox, oy = 1.4, 1.2
    fig, ax = canvas(L + 5.6, L + 2.2)
    # 補間した階段の下を塗る
    r_prev = 0.0
    for r, p in zip(recall, interp, strict=True):
        if r > r_prev:
            ax.add_patch(
                Rectangle(
                    (ox + r_prev * L, oy),
                    (r - r_prev) * L,
                    p * L,
                    fc=COLORS["fill"],
                    ec="none",
                    zorder=0,
                )
            )
        r_prev = r
    # 階段: 再現率が増える点ごとに、その点の補間適合率の高さで右へ進む
    xs, ys, r_prev = [], [], 0.0
    for r, p in zip(recall, interp, strict=True):
        if r > r_prev:
            xs += [r_prev, float(r)]
            ys += [float(p), float(p)]
            r_prev = float(r)
    ax.plot(
        [ox + x * L for x in xs],
        [oy + y * L for y in ys],
        color=COLORS["blue"],
        lw=1.8,
    )
    ax.plot(
        ox + recall * L, oy + precision * L, "o", color=COLORS["orange"], ms=5
    )
    for k, (r, p) in enumerate(zip(recall, precision, strict=True)):
        label(
            ax,
            (ox + r * L + 0.15, oy + p * L + 0.3),
            f"{k + 1}",
            size=8,
            color=COLORS["orange"],
            ha="left",
        )
    arrow(ax, (ox, oy), (ox + L + 0.4, oy))
    arrow(ax, (ox, oy), (ox, oy + L + 0.4))
    for v in (0.0, 0.5, 1.0):
        label(ax, (ox + v * L, oy - 0.4), f"{v:g}", size=9)
        label(ax, (ox - 0.4, oy + v * L), f"{v:g}", size=9)
    label(ax, (ox + L / 2, oy - 1.0), "再現率 (recall)", size=10)
    label(ax, (ox - 1.1, oy + L / 2), "適合率", size=10, rotation=90)
    x0 = ox + L + 0.8
    label(
        ax,
        (x0, oy + L - 0.3),
        "● 上位 k 個の (再現率, 適合率)",
        ha="left",
        size=9,
        color=COLORS["orange"],
    )
    label(
        ax,
        (x0, oy + L - 1.2),
        "― 補間した適合率",
        ha="left",
        size=9,
        color=COLORS["blue"],
    )
    label(
        ax,
        (x0, oy + L - 2.1),
        f"塗った面積 = AP = {ap_all:.4f}",
        ha="left",
        size=9,
    )
    return to_svg(fig)


# ---------------------------------------------------------- 分類を超えて
def unet(model: Any) -> SVG:
    """U-Net (``segmentation.TinyUNet``) の符号化器・復号化器・スキップ接続。

    ``model.widths`` (段ごとのチャネル数) と ``model.in_channels``,
    ``model.n_classes`` から描く。
    """
    widths = list(model.widths)
    D = len(widths)
    fig, ax = canvas(4.0 * (2 * D - 1) + 2.5, 2.0 * D + 2.0)
    pos: dict[tuple[str, int], tuple[float, float]] = {}
    for d, w in enumerate(widths):
        y = 2.0 * (D - 1 - d) + 1.2
        xl = 0.8 + 4.0 * d
        pos[("enc", d)] = (xl, y)
        box(ax, (xl, y), (3.0, 1.0), f"畳み込み ×2\n{w} ch, 1/{2**d}", size=8)
        if d < D - 1:
            xr = 0.8 + 4.0 * (2 * D - 2 - d)
            pos[("dec", d)] = (xr, y)
            box(
                ax,
                (xr, y),
                (3.0, 1.0),
                f"連結 → 畳み込み\n{w} ch, 1/{2**d}",
                color=COLORS["fill_green"],
                size=8,
            )
            arrow(
                ax,
                (xl + 3.0, y + 0.5),
                (xr, y + 0.5),
                "スキップ接続 (連結)",
                color=COLORS["muted"],
                size=8,
                dashed=True,
            )
    for d in range(D - 1):
        xl, y = pos[("enc", d)]
        xn, yn = pos[("enc", d + 1)]
        arrow(
            ax,
            (xl + 1.5, y),
            (xn + 1.5, yn + 1.0),
            "最大プーリング",
            size=7,
            offset=(-1.3, 0.0),
            color=COLORS["orange"],
        )
        up_from = pos[("enc", D - 1)] if d == D - 2 else pos[("dec", d + 1)]
        xr, yr = pos[("dec", d)]
        arrow(
            ax,
            (up_from[0] + 1.5, up_from[1] + 1.0),
            (xr + 1.5, yr),
            "転置畳み込み",
            size=7,
            offset=(1.3, 0.0),
            color=COLORS["green"],
        )
    xr, y = pos[("dec", 0)]
    label(
        ax,
        (xr + 1.5, y + 1.5),
        f"1×1 畳み込み → {model.n_classes} クラス/画素",
        size=8,
    )
    xl, y = pos[("enc", 0)]
    label(ax, (xl + 1.5, y + 1.5), f"入力 {model.in_channels} ch", size=8)
    return to_svg(fig)


def gradcam_pipeline() -> SVG:
    """Grad-CAM の計算の流れ: 上の段が順伝播、下の段が勾配から重みとマップ。"""
    fig, ax = canvas(21.0, 6.4)
    w, h = 3.4, 1.4
    top = [
        ("画像", "white"),
        ("畳み込み層\n(最後の 1 つまで)", COLORS["fill"]),
        ("特徴マップ $A^k$\n(K 枚, h×w)", COLORS["fill_orange"]),
        ("残りの層\n(GAP + 全結合)", COLORS["fill"]),
        ("クラス c の\nスコア $y^c$", COLORS["fill_purple"]),
    ]
    xs = [0.3 + 4.2 * k for k in range(5)]
    yt, yb = 4.4, 0.6
    for k, (text, col) in enumerate(top):
        box(ax, (xs[k], yt), (w, h), text, color=col, size=10)
        if k:
            arrow(ax, (xs[k - 1] + w, yt + h / 2), (xs[k], yt + h / 2))
    bottom = [
        (
            xs[4],
            "勾配 $\\partial y^c / \\partial A^k$\n(逆伝播)",
            COLORS["fill_gray"],
        ),
        (xs[3], "重み $\\alpha_k$ =\n勾配の空間平均", COLORS["fill_gray"]),
        (
            xs[2],
            "ReLU$(\\sum_k \\alpha_k A^k)$\n→ 拡大して重ねる",
            COLORS["fill_green"],
        ),
    ]
    for k, (x, text, col) in enumerate(bottom):
        box(ax, (x, yb), (w, h), text, color=col, size=10)
        if k:
            arrow(ax, (bottom[k - 1][0], yb + h / 2), (x + w, yb + h / 2))
    arrow(
        ax,
        (xs[4] + w / 2, yt),
        (xs[4] + w / 2, yb + h),
        "逆伝播",
        offset=(0.9, 0.0),
        size=9,
        dashed=True,
    )
    arrow(
        ax,
        (xs[2] + w / 2, yt),
        (xs[2] + w / 2, yb + h),
        "$A^k$",
        offset=(0.5, 0.0),
        size=9,
        dashed=True,
    )
    return to_svg(fig)
