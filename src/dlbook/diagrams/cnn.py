"""第 6 章 (CNN) の概念図。

数値を含む図は、本文の計算例と同じ配列を受け取って描く (図の数値は本文の
数値そのもの)。モデルの図は実物のモジュール (torchvision のコンストラクタ、
``dlbook.models``、``dlbook.architectures``) から描く。どの関数も
:class:`dlbook.diagrams.SVG` を返す。
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook.diagrams.core import (
    COLORS,
    SVG,
    arrow,
    box,
    canvas,
    grid,
    label,
    render,
    to_svg,
)

# ------------------------------------------------------------- 格子の図


def _window_mask(
    shape: tuple[int, int], r0: int, c0: int, k: int
) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[r0 : r0 + k, c0 : c0 + k] = True
    return mask


def conv_sliding(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    stride: int,
    pad: int,
    pos: tuple[int, int],
) -> SVG:
    """パディングした入力の上をフィルタがストライドでずれる図。

    Args:
        x: 入力 (H, W) (パディングする前)。
        w: フィルタ (K, K)。
        y: 出力 (OH, OW) (``x`` と ``w`` から計算したもの)。
        stride: ストライド。
        pad: パディング。
        pos: 強調する出力の位置 (i, j)。
    """
    K = w.shape[0]
    xp = np.pad(x, pad)
    Hp, Wp = xp.shape
    i, j = pos
    cells = xp.astype(object)  # パディングの 0 もそのまま書く
    width = Wp + K + y.shape[1] + 6
    fig, ax = canvas(width, Hp + 2.2)
    win = _window_mask((Hp, Wp), stride * i, stride * j, K)
    grid(
        ax,
        cells,
        (0, 0),
        highlight=win,
        title=f"入力 (周囲に P={pad} の 0、ストライド S={stride})",
        size=10,
    )
    # パディングの枠 (灰色の破線) と元の入力の枠
    ax.add_patch(
        _rect((pad, pad), x.shape[1], x.shape[0], COLORS["blue"], lw=2.2)
    )
    wx = Wp + 1.5
    wy = (Hp - K) / 2
    grid(ax, w, (wx, wy), title=f"フィルタ ({K}×{K})", size=10)
    ox = wx + K + 2.5
    oy = (Hp - y.shape[0]) / 2
    grid(
        ax,
        y,
        (ox, oy),
        highlight=[(i, j)],
        title=f"出力 ({y.shape[0]}×{y.shape[1]})",
        size=10,
    )
    label(ax, (wx - 0.75, Hp / 2), "*", size=16)
    label(ax, (ox - 1.25, Hp / 2), "=", size=16)
    return to_svg(fig)


def _rect(
    xy: tuple[float, float], w: float, h: float, color: str, lw: float
) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(
        xy, w, h, fill=False, edgecolor=color, linewidth=lw, zorder=3
    )


def multichannel_conv(C: int = 3, F: int = 2, K: int = 3) -> SVG:
    """C チャネルの入力と C×K×K のフィルタ F 枚から F 枚の特徴マップができる図。"""
    fig, ax = canvas(17, 7.2)
    colors = [COLORS["fill_orange"], COLORS["fill_green"], COLORS["fill"]]

    def stack(x0: float, y0: float, n: int, s: float, fill: list[str]) -> None:
        for c in reversed(range(n)):
            box(
                ax,
                (x0 + 0.35 * c, y0 + 0.35 * c),
                (s, s),
                color=fill[c % len(fill)],
                rounded=False,
            )

    stack(0.3, 1.5, C, 3.6, colors)
    label(ax, (2.4, 0.8), f"入力 C={C}\n(C, H, W)", size=10)
    label(ax, (5.6, 3.6), "*", size=16)
    ys = [4.0, 0.9]
    for f in range(F):
        stack(6.4, ys[f], C, 1.4, colors)
        label(
            ax,
            (9.6, ys[f] + 1.0),
            f"フィルタ {f + 1}\n({C}, {K}, {K})",
            size=9,
        )
        arrow(ax, (10.6, ys[f] + 1.0), (12.3, 3.3 - 0.9 * (f - 0.5)))
    out_fill = [COLORS["fill_yellow"], COLORS["fill_purple"]]
    stack(12.6, 1.7, F, 3.0, out_fill)
    label(ax, (14.4, 0.8), f"出力 F={F}\n(F, OH, OW)", size=10)
    label(
        ax,
        (8.5, 6.9),
        "全チャネルの積和 → 1 枚のマップ / フィルタ F 枚 → F 枚",
        size=10,
    )
    return to_svg(fig)


def im2col_picture(
    x: np.ndarray, col: np.ndarray, K: int, column: int = 0
) -> SVG:
    """4×4 の入力の窓を列に並べた im2col の図。

    Args:
        x: 入力 (H, W) (1 チャネル、1 枚)。
        col: ``im2col(x[None, None], K, K)`` の結果 (K*K, OH*OW)。
        K: フィルタの一辺。
        column: 強調する列 (出力位置の番号)。
    """
    H, W = x.shape
    OW = W - K + 1
    i, j = divmod(column, OW)
    fig, ax = canvas(W + col.shape[1] + 4.5, max(H, col.shape[0]) + 1.6)
    top = col.shape[0] - H
    grid(
        ax,
        x,
        (0, top),
        highlight=_window_mask((H, W), i, j, K),
        title=f"入力 ({H}×{W})",
        size=10,
    )
    cx = W + 3
    mask = np.zeros(col.shape, dtype=bool)
    mask[:, column] = True
    grid(
        ax,
        col,
        (cx, 0),
        highlight=mask,
        title=f"列の行列 ({col.shape[0]}×{col.shape[1]})",
        size=10,
    )
    arrow(ax, (W + 0.3, top + H / 2), (cx - 0.3, col.shape[0] / 2), "im2col")
    for c in range(col.shape[1]):
        label(ax, (cx + c + 0.5, -0.4), f"({c // OW},{c % OW})", size=8)
    return to_svg(fig)


def receptive_field(layers: Sequence[tuple[int, int]], width: int = 17) -> SVG:
    """1 次元に描いた受容野: 最上段の 1 画素が下の層のどの範囲に依存するか。

    Args:
        layers: 下 (入力側) から順に各層の (カーネル K, ストライド S)。
        width: 入力の画素数 (図の幅)。
    """
    # 上の層から下へ、依存する範囲 [lo, hi] をたどる (出力は中央の 1 画素)
    n = len(layers)
    sizes = [width]
    for K, S in layers:
        sizes.append((sizes[-1] - K) // S + 1)
    lo = hi = sizes[-1] // 2
    ranges = [(lo, hi)]
    for K, S in reversed(layers):
        lo, hi = lo * S, hi * S + K - 1
        ranges.append((lo, hi))
    ranges.reverse()  # ranges[l]: 層 l (0 = 入力) で依存する範囲
    fig, ax = canvas(width + 7, 1.6 * n + 2.2)
    for level in range(n + 1):
        m = sizes[level]
        y = 1.6 * level + 0.3
        jump = int(np.prod([S for _, S in layers[:level]])) if level else 1
        offset = (width - ((m - 1) * jump + 1)) / 2 if level else 0.0
        lo, hi = ranges[level]
        for k in range(m):
            xk = offset + k * jump
            color = COLORS["highlight"] if lo <= k <= hi else "white"
            box(ax, (xk, y), (0.9, 0.9), color=color, rounded=False, lw=0.8)
        name = "入力" if level == 0 else f"層 {level}"
        spec = (
            ""
            if level == 0
            else f" (K={layers[level - 1][0]}, S={layers[level - 1][1]})"
        )
        label(ax, (width + 0.4, y + 0.45), f"{name}{spec}", size=9, ha="left")
        if level:
            label(
                ax,
                (width + 0.4, y - 0.3),
                f"受容野 {_rf(layers[:level])}",
                size=8,
                ha="left",
                color=COLORS["muted"],
            )
    return to_svg(fig)


def _rf(layers: Sequence[tuple[int, int]]) -> int:
    r, j = 1, 1
    for K, S in layers:
        r, j = r + (K - 1) * j, j * S
    return r


def pooling_picture(
    x: np.ndarray, y_max: np.ndarray, y_avg: np.ndarray
) -> SVG:
    """2×2・ストライド 2 の最大プーリングと平均プーリング (窓ごとに色分け)。"""
    H, W = x.shape
    fig, ax = canvas(W + 9, H + 1.6)
    edges = [
        COLORS["orange"],
        COLORS["green"],
        COLORS["blue"],
        COLORS["purple"],
    ]
    grid(ax, x, (0, 0), title=f"入力 ({H}×{W})", size=10)
    oh, ow = y_max.shape
    k = H // oh
    mx, my = W + 2.2, H / 2 + 0.4
    grid(ax, y_max, (mx, my), title="最大", size=10)
    grid(ax, y_avg, (mx + ow + 2.0, my), title="平均", size=10)
    for i in range(oh):
        for j in range(ow):
            c = edges[(i * ow + j) % 4]  # 窓と出力のセルを同じ色の枠で結ぶ
            ax.add_patch(
                _rect(
                    (j * k + 0.08, (oh - 1 - i) * k + 0.08),
                    k - 0.16,
                    k - 0.16,
                    c,
                    3.0,
                )
            )
            for g0 in (mx, mx + ow + 2.0):
                ax.add_patch(
                    _rect(
                        (g0 + j + 0.06, my + oh - 1 - i + 0.06),
                        0.88,
                        0.88,
                        c,
                        3.0,
                    )
                )
    arrow(ax, (W + 0.2, H / 2), (mx - 0.2, my + 1))
    return to_svg(fig)


def conv_backward_flip(
    delta: np.ndarray,
    w: np.ndarray,
    dx: np.ndarray,
    pos: tuple[int, int] = (0, 0),
) -> SVG:
    """入力の勾配 = 周囲を K-1 の 0 で埋めた δ と 180° 回したフィルタの相互相関。"""
    K = w.shape[0]
    dp = np.pad(delta, K - 1)
    cells = dp.astype(object)
    Hp, Wp = dp.shape
    fig, ax = canvas(Wp + K + dx.shape[1] + 6, Hp + 1.8)
    a, b = pos
    grid(
        ax,
        cells,
        (0, 0),
        highlight=_window_mask((Hp, Wp), a, b, K),
        title=f"δ の周囲を K-1={K - 1} の 0 で埋める",
        size=10,
    )
    wx = Wp + 1.5
    wf = w[::-1, ::-1]
    grid(ax, wf, (wx, (Hp - K) / 2), title="180° 回したフィルタ", size=10)
    ox = wx + K + 2.5
    grid(
        ax,
        dx,
        (ox, (Hp - dx.shape[0]) / 2),
        highlight=[pos],
        title="∂L/∂x",
        size=10,
    )
    label(ax, (wx - 0.75, Hp / 2), "*", size=16)
    label(ax, (ox - 1.25, Hp / 2), "=", size=16)
    return to_svg(fig)


def dilated_taps(dilation: int, K: int = 3) -> np.ndarray:
    """膨張率 ``dilation`` の K×K フィルタが触れる画素 (周囲に 1 画素の余白を付けた格子)。

    Returns:
        形 ``(n, n)`` の真偽値の配列 (``n = dilation * (K - 1) + 3``)。
    """
    n = dilation * (K - 1) + 3
    mask = np.zeros((n, n), dtype=bool)
    for p in range(K):
        for q in range(K):
            mask[1 + dilation * p, 1 + dilation * q] = True
    return mask


def dilated_and_transposed(
    x_t: np.ndarray, w_t: np.ndarray, y_t: np.ndarray, dilation: int = 2
) -> SVG:
    """左: 膨張畳み込みの 3×3 フィルタが触れる画素。右: 転置畳み込みの計算例。

    Args:
        x_t: 転置畳み込みの入力 (2, 2)。
        w_t: 転置畳み込みのフィルタ (K, K)。
        y_t: ``conv_transpose2d(x_t, w_t, stride=2)`` の出力。
        dilation: 膨張率。
    """
    span = 2 * dilation + 1
    mask = dilated_taps(dilation)
    n = mask.shape[0]
    fig, ax = canvas(
        n + x_t.shape[1] + w_t.shape[1] + y_t.shape[1] + 9,
        max(n, y_t.shape[0]) + 1.8,
    )
    grid(
        ax,
        np.full((n, n), "", dtype=object),
        (0, 0),
        highlight=mask,
        title=f"膨張率 {dilation} の 3×3 (受容野 {span}×{span})",
        size=10,
    )
    x0 = n + 2.0
    top = y_t.shape[0]
    grid(ax, x_t, (x0, top - x_t.shape[0]), title="入力", size=10)
    x1 = x0 + x_t.shape[1] + 1.2
    grid(ax, w_t, (x1, top - w_t.shape[0]), title="フィルタ", size=10)
    x2 = x1 + w_t.shape[1] + 1.8
    grid(
        ax,
        y_t,
        (x2, 0),
        title=f"転置畳み込み (S=2) {y_t.shape[0]}×{y_t.shape[1]}",
        size=10,
    )
    return to_svg(fig)


def separable_conv(C_in: int = 3, C_out: int = 4, K: int = 3) -> SVG:
    """深さ方向畳み込み (チャネルごと) と点方向 1×1 畳み込みの 2 段。"""
    fig, ax = canvas(19, 6.2)
    fills = [
        COLORS["fill_orange"],
        COLORS["fill_green"],
        COLORS["fill"],
        COLORS["fill_purple"],
    ]
    for c in range(C_in):
        y = 4.3 - 1.6 * c
        box(ax, (0.2, y), (1.2, 1.2), color=fills[c % 4], rounded=False)
        box(
            ax,
            (3.0, y + 0.2),
            (0.8, 0.8),
            f"{K}×{K}",
            color=fills[c % 4],
            size=8,
            rounded=False,
        )
        box(ax, (5.4, y), (1.2, 1.2), color=fills[c % 4], rounded=False)
        arrow(ax, (1.5, y + 0.6), (2.9, y + 0.6))
        arrow(ax, (3.9, y + 0.6), (5.3, y + 0.6))
    label(ax, (3.4, 5.9), f"深さ方向: チャネルごとに {K}×{K} を 1 枚", size=10)
    for f in range(C_out):
        y = 4.7 - 1.35 * f
        box(
            ax,
            (9.0, y + 0.15),
            (2.4, 0.7),
            f"1×1×{C_in}",
            color=COLORS["fill_gray"],
            size=8,
        )
        box(
            ax,
            (13.0, y),
            (1.0, 1.0),
            color=COLORS["fill_yellow"],
            rounded=False,
        )
        arrow(ax, (11.5, y + 0.5), (12.9, y + 0.5))
    for c in range(C_in):
        for f in range(C_out):
            arrow(
                ax,
                (6.7, 4.9 - 1.6 * c),
                (8.9, 5.2 - 1.35 * f),
                lw=0.6,
                color=COLORS["muted"],
            )
    label(
        ax,
        (11.3, 5.9),
        f"点方向: 1×1 で {C_in} → {C_out} チャネルを混ぜる",
        size=10,
    )
    label(
        ax,
        (16.6, 2.8),
        f"積和の比\n1/C_out + 1/K²\n= 1/{C_out} + 1/{K * K}",
        size=10,
    )
    return to_svg(fig)


def vit_patches(image: np.ndarray, patch: int) -> SVG:
    """画像をパッチに切り、1 列のトークン列にする ViT の入口。

    Args:
        image: (H, W, 3) か (H, W) の画像 (0〜1 か 0〜255)。
        patch: パッチの一辺 (画素)。
    """
    H, W = image.shape[:2]
    gh, gw = H // patch, W // patch
    fig, ax = canvas(18, 7.5)
    ext = 6.0
    ax.imshow(
        image[: gh * patch, : gw * patch],
        extent=(0.3, 0.3 + ext, 1.0, 1.0 + ext),
        cmap="gray" if image.ndim == 2 else None,
    )
    for k in range(gh + 1):
        y = 1.0 + ext * k / gh
        ax.plot([0.3, 0.3 + ext], [y, y], color="white", lw=1.5)
    for k in range(gw + 1):
        x = 0.3 + ext * k / gw
        ax.plot([x, x], [1.0, 1.0 + ext], color="white", lw=1.5)
    label(
        ax,
        (3.3, 0.4),
        f"{H}×{W} → {gh}×{gw} 個の {patch}×{patch} パッチ",
        size=10,
    )
    arrow(ax, (6.6, 4.0), (8.0, 4.0), "平らにして\n線形写像")
    n_tok = min(gh * gw, 8)
    for t in range(n_tok + 1):
        name = "CLS" if t == 0 else f"p{t}"
        box(
            ax,
            (8.4 + 1.0 * t, 3.4),
            (0.85, 1.2),
            name,
            color=COLORS["fill_green"] if t == 0 else COLORS["fill"],
            size=7,
        )
    label(ax, (8.4 + 1.0 * (n_tok + 1) + 0.2, 4.0), "…", size=12)
    label(ax, (12.9, 5.4), f"トークン {gh * gw} 個 + 位置埋め込み", size=10)
    arrow(ax, (12.9, 3.2), (12.9, 1.9))
    box(
        ax,
        (9.4, 0.6),
        (7.0, 1.2),
        "Transformer 符号化器 (自己注意)",
        color=COLORS["fill_yellow"],
        size=10,
    )
    return to_svg(fig)


# ------------------------------------------------------------- 実物から描くグラフ


def _conv_label(name: str, m: Any) -> str:
    k = m.kernel_size[0]
    text = f"{k}×{k} conv, {m.out_channels}"
    if m.stride[0] > 1:
        text += f", /{m.stride[0]}"
    if getattr(m, "groups", 1) > 1:
        text += f", groups={m.groups}"
    return text


def module_labels(model: Any) -> dict[str, str]:
    """モジュールの限定名 → 箱の文字 (畳み込みはカーネル・チャネル・ストライド)。"""
    from torch import nn

    out = {}
    for name, m in model.named_modules():
        if not name:
            continue
        if isinstance(m, nn.Conv2d):
            out[name] = _conv_label(name, m)
        elif isinstance(m, nn.BatchNorm2d):
            out[name] = "BN"
        elif isinstance(m, nn.ReLU):
            out[name] = "ReLU"
        elif isinstance(m, nn.Linear):
            out[name] = f"全結合, {m.out_features}"
        elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            k = (
                m.kernel_size
                if isinstance(m.kernel_size, int)
                else m.kernel_size[0]
            )
            kind = "最大" if isinstance(m, nn.MaxPool2d) else "平均"
            out[name] = f"{kind}プーリング {k}×{k}"
    return out


def block_graph(
    module: Any,
    input_shape: tuple[int, ...],
    *,
    max_depth: int = 2,
    rankdir: str = "TB",
    extra_labels: dict[str, str] | None = None,
    leaf_types: tuple[type, ...] = (),
) -> SVG:
    """実物のブロック (残差・ボトルネック・SE・Inception …) をデータの流れとして描く。

    ``leaf_types`` の型のモジュールは 1 つの箱にする (ResNet の段をブロック単位で描く)。
    """
    from dlbook.diagrams.graphs import module_graph

    labels = module_labels(module)
    labels.update(extra_labels or {})
    g = module_graph(
        module,
        input_shape,
        max_depth=max_depth,
        rankdir=rankdir,
        labels=labels,
        leaf_types=leaf_types,
    )
    return render(g)


def chain_graph(
    layers: Any,
    input_shape: tuple[int, ...],
    title: str,
    *,
    merge_relu: bool = True,
) -> SVG:
    """``nn.Sequential`` を左から右への 1 列の箱にする (形は実際に流して測る)。

    連続する同じ種類の畳み込み (カーネル・チャネルが同じ) は「×n」にまとめ、
    ReLU・Dropout は前の箱に含め、Flatten は省く (箱の形は平らにする前の形)。
    """
    import torch
    from torch import nn

    param = next(layers.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(input_shape, device=device)  # meta なら形だけ流れる
    rows: list[list[Any]] = []  # [文字, 形, 個数, 種類]
    with torch.no_grad():
        for m in layers:
            x = m(x)
            shape = "×".join(str(d) for d in x.shape[1:])
            if isinstance(m, nn.Conv2d):
                text = _conv_label("", m)
                if rows and rows[-1][0] == text and rows[-1][3] == "conv":
                    rows[-1][2] += 1
                    rows[-1][1] = shape
                else:
                    rows.append([text, shape, 1, "conv"])
            elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
                lab = module_labels(nn.Sequential(m))["0"]
                rows.append([lab, shape, 1, "pool"])
            elif isinstance(m, nn.Linear):
                rows.append([f"全結合, {m.out_features}", shape, 1, "fc"])
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                rows.append(["平均プーリング (適応)", shape, 1, "pool"])
            elif rows and not isinstance(m, nn.Flatten):  # ReLU, Dropout など
                rows[-1][1] = shape  # 形は変わらないが、前の箱に含める
    return _chain_picture(
        [("入力\n" + "×".join(str(d) for d in input_shape[1:]), "in")]
        + [
            (text + (f" ×{count}" if count > 1 else "") + f"\n{shape}", kind)
            for text, shape, count, kind in rows
        ],
        title,
    )


def _chain_picture(
    items: list[tuple[str, str]], title: str, per_row: int = 6
) -> SVG:
    """箱を左から右へ ``per_row`` 個ずつ折り返して並べ、矢印でつなぐ。"""
    fills = {
        "in": COLORS["fill_gray"],
        "conv": COLORS["fill"],
        "pool": COLORS["fill_orange"],
        "fc": COLORS["fill_green"],
    }
    w, h, gap_x, gap_y = 3.6, 1.4, 0.9, 1.0
    n_rows = (len(items) + per_row - 1) // per_row
    width = per_row * w + (per_row - 1) * gap_x + 0.4
    height = n_rows * h + (n_rows - 1) * gap_y + 1.4
    fig, ax = canvas(width, height)
    label(ax, (width / 2, height - 0.45), title, size=12)
    pos = []
    for k, (text, kind) in enumerate(items):
        r, c = divmod(k, per_row)
        x = 0.2 + c * (w + gap_x)
        y = height - 1.2 - (r + 1) * h - r * gap_y
        box(ax, (x, y), (w, h), text, color=fills[kind], size=8.5)
        pos.append((x, y))
    for k in range(1, len(pos)):
        (x0, y0), (x1, y1) = pos[k - 1], pos[k]
        if y0 == y1:
            arrow(ax, (x0 + w, y0 + h / 2), (x1, y1 + h / 2))
        else:  # 次の行の先頭へ折り返す
            arrow(
                ax,
                (x0 + w / 2, y0),
                (x1 + w / 2, y1 + h),
                lw=1.0,
                color=COLORS["muted"],
            )
    return to_svg(fig)


def resnet_block_label(block: Any) -> str:
    """torchvision の BasicBlock / Bottleneck 1 つを 2 行の文字にする (実物から読む)。"""
    convs = [m for n, m in block.named_children() if n.startswith("conv")]
    body = " → ".join(_conv_label("", m) for m in convs)
    down = getattr(block, "downsample", None)
    if down is not None:
        shortcut = "近道: 射影 (" + _conv_label("", down[0]) + " + BN)"
    else:
        shortcut = "近道: 恒等"
    return f"{type(block).__name__}: {body}\n{shortcut}"
