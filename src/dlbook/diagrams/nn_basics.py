"""第 4 章 (ニューラルネットワークの基礎) の概念図。

どの関数も :class:`dlbook.diagrams.core.SVG` を返す。数値を含む図は、
本文の計算例と同じ配列・オブジェクトを受け取って描く (図と本文がずれない)。
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

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

_FWD = COLORS["blue"]  # 順伝播の値
_BWD = COLORS["orange"]  # 逆伝播の勾配


def _fmt(v: float, digits: int = 3) -> str:
    return f"{float(v):.{digits}f}"


def neuron_and_perceptron() -> SVG:
    """左に生物学的ニューロン、右に同じ形のパーセプトロンを並べる。"""
    fig, ax = canvas(17.0, 6.0)
    # 左: ニューロン (樹状突起 → 細胞体 → 軸索 → 終末)
    soma = (4.0, 3.0)
    for dy in (-1.6, -0.5, 0.6, 1.7):
        ax.plot(
            [1.0, soma[0] - 0.8],
            [soma[1] + dy * 1.2, soma[1] + dy * 0.25],
            color=COLORS["ink"],
            lw=1.5,
        )
    ax.add_patch(_circle(soma, 0.9, COLORS["fill_yellow"]))
    ax.plot(
        [soma[0] + 0.9, 7.2], [soma[1], soma[1]], color=COLORS["ink"], lw=2.5
    )
    for dy in (-0.5, 0.0, 0.5):
        ax.plot(
            [7.2, 7.8], [soma[1], soma[1] + dy], color=COLORS["ink"], lw=1.5
        )
    label(ax, (1.6, 5.5), "樹状突起\n(入力を受け取る)", size=9)
    label(ax, (soma[0], soma[1]), "細胞体", size=9)
    label(ax, (4.2, 1.0), "和が閾値を超えると発火", size=9)
    label(ax, (6.2, 3.6), "軸索", size=9)
    label(ax, (4.2, 0.2), "生物学的ニューロン", size=11)
    # 右: パーセプトロン
    xs = [
        (10.0, 5.0, "$x_1$", "$w_1$"),
        (10.0, 3.0, "$x_2$", "$w_2$"),
        (10.0, 1.0, "$x_D$", "$w_D$"),
    ]
    node = (13.3, 3.0)
    for x, y, name, w in xs:
        ax.add_patch(_circle((x, y), 0.45, COLORS["fill"]))
        label(ax, (x, y), name)
        arrow(
            ax,
            (x + 0.45, y),
            (node[0] - 0.85, node[1] + (y - 3.0) * 0.25),
            w,
            offset=(0.0, 0.3),
        )
    label(ax, (10.0, 2.05), "…", rotation=90)
    ax.add_patch(_circle(node, 0.85, COLORS["fill_yellow"]))
    label(ax, node, "$\\Sigma$ → step", size=10)
    arrow(
        ax, (node[0], 0.6), (node[0], node[1] - 0.85), "$b$", offset=(0.35, 0)
    )
    arrow(ax, (node[0] + 0.85, node[1]), (16.6, node[1]), "$y$")
    label(ax, (13.3, 0.2), "パーセプトロン", size=11)
    return to_svg(fig)


def _circle(xy: tuple[float, float], r: float, color: str):  # type: ignore[no-untyped-def]
    from matplotlib.patches import Circle

    return Circle(xy, r, facecolor=color, edgecolor=COLORS["ink"], lw=1.2)


def perceptron_boundary(
    w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray, title: str
) -> SVG:
    """学習したパーセプトロンの直線 w·x + b = 0、法線 w、各点の符号付き距離。"""
    fig, ax = canvas(8.0, 8.0)
    s = 3.2  # 1 (入力の単位) あたりの図の長さ
    o = np.array([1.6, 1.6])  # 入力 (0, 0) の図の上の位置

    def P(p: np.ndarray | Sequence[float]) -> tuple[float, float]:
        q = o + s * np.asarray(p, dtype=float)
        return float(q[0]), float(q[1])

    ax.plot(
        *zip(P([-0.4, 0]), P([1.5, 0]), strict=True),
        color=COLORS["muted"],
        lw=0.8,
    )
    ax.plot(
        *zip(P([0, -0.4]), P([0, 1.5]), strict=True),
        color=COLORS["muted"],
        lw=0.8,
    )
    w = np.asarray(w, dtype=float)
    # 直線 w1 x1 + w2 x2 + b = 0 を正方形 [-0.4, 1.5]^2 の中で描く
    u = np.linspace(-0.4, 1.5, 2)
    if abs(w[1]) > 1e-12:
        line = np.stack([u, -(b + w[0] * u) / w[1]], axis=1)
    else:
        line = np.stack([np.full(2, -b / w[0]), u], axis=1)
    ax.plot(
        *zip(*[P(p) for p in line], strict=True), color=COLORS["orange"], lw=2
    )
    dist = (X @ w + b) / np.linalg.norm(w)  # 符号付き距離
    for x, ti, d in zip(X, t, dist, strict=True):
        color = COLORS["orange"] if ti > 0 else COLORS["blue"]
        ax.add_patch(_circle(P(x), 0.22, color))
        label(
            ax,
            (P(x)[0] + 0.25, P(x)[1] - 0.55),
            f"{d:+.2f}",
            size=9,
            ha="left",
        )
    mid = line.mean(axis=0)
    n = w / np.linalg.norm(w) * 0.35
    arrow(
        ax,
        P(mid),
        P(mid + n),
        "$\\mathbf{w}$",
        color=COLORS["orange"],
        offset=(0.35, 0.0),
    )
    label(ax, (4.0, 7.6), title, size=11)
    label(
        ax,
        (4.0, 0.35),
        f"w = ({w[0]:g}, {w[1]:g}), b = {b:g}、数字は直線までの符号付き距離",
        size=8,
    )
    return to_svg(fig)


def xor_network(w_b: Mapping[str, tuple[np.ndarray, float]]) -> SVG:
    """NAND と OR の隠れ層、AND の出力層で XOR を作る 2 層のネットワーク。

    Args:
        w_b: ゲート名 ("NAND", "OR", "AND") → 学習した (w, b)。
    """
    g = digraph(rankdir="LR", ranksep="0.9")
    for x in ("x1", "x2"):
        g.node(
            x,
            x.replace("1", "₁").replace("2", "₂"),
            shape="circle",
            fillcolor=COLORS["fill"],
        )
    for gate in ("NAND", "OR", "AND"):
        w, b = w_b[gate]
        g.node(
            gate,
            f"{gate}\nb = {b:g}",
            shape="circle",
            fillcolor=COLORS["fill_yellow"],
        )
    for gate in ("NAND", "OR"):
        w, _ = w_b[gate]
        g.edge("x1", gate, label=f"{w[0]:g}")
        g.edge("x2", gate, label=f"{w[1]:g}")
    w, _ = w_b["AND"]
    g.edge("NAND", "AND", label=f"{w[0]:g}")
    g.edge("OR", "AND", label=f"{w[1]:g}")
    g.node("y", "XOR", shape="plaintext", style="")
    g.edge("AND", "y")
    return render(g)


def mlp_shapes(layers: Sequence[object], n: int, d_in: int) -> SVG:
    """``Sequential`` の層の並びを、各層の出力の形とともに描く。

    Args:
        layers: ``net.layers`` (``Affine`` と活性化層)。
        n: ミニバッチの大きさ N。
        d_in: 入力の次元。
    """
    g = digraph(rankdir="LR", nodesep="0.25", ranksep="0.35")
    g.node("in", f"入力 X\n({n}, {d_in})", fillcolor=COLORS["fill_gray"])
    prev, d, d_prev = "in", d_in, d_in
    for i, layer in enumerate(layers):
        name = type(layer).__name__
        params = getattr(layer, "params", {})
        if "W" in params:
            d_out = params["W"].shape[1]
            text = f"{name}\nW ({params['W'].shape[0]}, {d_out})\nb ({d_out},)"
            d = d_out
            fill = COLORS["fill"]
        else:
            text = name
            fill = COLORS["fill_yellow"]
        g.node(f"l{i}", text, fillcolor=fill)
        g.edge(prev, f"l{i}", label=f"({n}, {d_prev})")
        d_prev, prev = d, f"l{i}"
    g.node("out", f"スコア\n({n}, {d})", fillcolor=COLORS["fill_gray"])
    g.edge(prev, "out")
    return render(g)


def output_heads() -> SVG:
    """課題ごとの出力層と損失の組。"""
    g = digraph(rankdir="LR", nodesep="0.2", ranksep="0.35")
    rows = [
        (
            "mul",
            "多クラス分類",
            "ソフトマックス\ny = softmax(a)",
            "交差エントロピー",
        ),
        ("bin", "2 値分類", "シグモイド\ny = σ(a)", "2 値交差エントロピー"),
        ("reg", "回帰", "恒等写像\ny = a", "平均二乗誤差"),
    ]
    for key, task, act, loss in rows:
        g.node(f"{key}t", task, shape="plaintext", style="")
        g.node(f"{key}a", act, fillcolor=COLORS["fill_yellow"])
        g.node(f"{key}l", loss, fillcolor=COLORS["fill_orange"])
        g.node(
            f"{key}g",
            "∂L/∂a = y − t",
            shape="plaintext",
            style="",
            fontcolor=_BWD,
        )
        g.edge(f"{key}t", f"{key}a")
        g.edge(f"{key}a", f"{key}l")
        g.edge(f"{key}l", f"{key}g", style="dashed", color=_BWD)
    return render(g)


def computational_graph(v: Mapping[str, float]) -> SVG:
    """「手で計算する例」の計算グラフ。辺の上に順伝播の値 (青)、
    下に逆伝播で届く勾配 (橙) を書く。

    Args:
        v: ``x1, x2, w1, w2, b, t, u1, u2, a, y, L`` (順伝播の値) と
            ``dL_dy, dL_da, dL_dw1, dL_dw2, dL_db`` (勾配)。
    """
    g = digraph(rankdir="LR", ranksep="0.8", nodesep="0.3")
    for name in ("w1", "x1", "w2", "x2", "b"):
        g.node(
            name,
            name.replace("1", "₁").replace("2", "₂"),
            shape="plaintext",
            style="",
        )
    g.node("m1", "×", shape="circle")
    g.node("m2", "×", shape="circle")
    g.node("add", "+", shape="circle")
    g.node("sig", "σ", shape="circle")
    g.node("loss", "½(y − t)²", shape="box")
    g.node("L", "L", shape="plaintext", style="")

    def e(a: str, b: str, val: float, grad: float | None) -> None:
        lab = f"<<font color='{_FWD}'>{_fmt(val, 4)}</font>"
        if grad is not None:
            lab += f"<br/><font color='{_BWD}'>{_fmt(grad, 4)}</font>"
        g.edge(a, b, label=lab + ">")

    e("w1", "m1", v["w1"], v["dL_dw1"])
    e("x1", "m1", v["x1"], None)
    e("w2", "m2", v["w2"], v["dL_dw2"])
    e("x2", "m2", v["x2"], None)
    e("m1", "add", v["u1"], v["dL_da"])
    e("m2", "add", v["u2"], v["dL_da"])
    e("b", "add", v["b"], v["dL_db"])
    e("add", "sig", v["a"], v["dL_da"])
    e("sig", "loss", v["y"], v["dL_dy"])
    e("loss", "L", v["L"], 1.0)
    return render(g)


def fan_out() -> SVG:
    """1 つの変数が 2 つのノードに使われると、逆伝播で勾配が足し合わされる。"""
    g = digraph(rankdir="LR", ranksep="0.7")
    g.node("x", "x", shape="circle")
    g.node("f", "u = f(x)", fillcolor=COLORS["fill_yellow"])
    g.node("g", "v = g(x)", fillcolor=COLORS["fill_yellow"])
    g.node("L", "L(u, v)", fillcolor=COLORS["fill_orange"])
    g.edge("x", "f", color=_FWD)
    g.edge("x", "g", color=_FWD)
    g.edge("f", "L", color=_FWD)
    g.edge("g", "L", color=_FWD)
    g.edge(
        "L", "f", label="∂L/∂u", color=_BWD, style="dashed", constraint="false"
    )
    g.edge(
        "L", "g", label="∂L/∂v", color=_BWD, style="dashed", constraint="false"
    )
    g.node(
        "sum",
        "∂L/∂x = ∂L/∂u · f′(x) + ∂L/∂v · g′(x)",
        shape="plaintext",
        style="",
        fontcolor=_BWD,
    )
    g.edge("x", "sum", style="invis")
    return render(g)


def backprop_chain() -> SVG:
    """Affine → ReLU → Affine → ソフトマックス交差エントロピー の順伝播 (上) と
    出力側から戻る δ (下)。"""
    g = digraph(rankdir="LR", nodesep="0.5", ranksep="0.45")
    chain = [
        ("X", "X"),
        ("af1", "Affine 1\nW₁, b₁"),
        ("h", "ReLU"),
        ("af2", "Affine 2\nW₂, b₂"),
        ("sce", "Softmax +\n交差エントロピー"),
        ("L", "L"),
    ]
    for key, text in chain:
        shape = "plaintext" if key in ("X", "L") else "box"
        g.node(
            key,
            text,
            shape=shape,
            **({"style": ""} if shape == "plaintext" else {}),
        )
    fwd = ["X", "A₁", "H₁", "A₂ (スコア)", "L"]
    for (a, _), (b, _), lab in zip(chain[:-1], chain[1:], fwd, strict=True):
        g.edge(a, b, label=lab, color=_FWD, fontcolor=_FWD)
    bwd = ["Δ₂ = (Y − T)/N", "Δ₂ W₂ᵀ", "Δ₁ = (Δ₂ W₂ᵀ) ⊙ h′(A₁)", "Δ₁ W₁ᵀ"]
    pairs = [("sce", "af2"), ("af2", "h"), ("h", "af1"), ("af1", "X")]
    for (a, b), lab in zip(pairs, bwd, strict=True):
        g.edge(
            a,
            b,
            label=lab,
            color=_BWD,
            fontcolor=_BWD,
            style="dashed",
            constraint="false",
        )
    return render(g)


def gd_on_curve(
    theta: np.ndarray,
    loss: np.ndarray,
    path: np.ndarray,
    path_loss: np.ndarray,
) -> SVG:
    """1 次元の損失曲線の上を、勾配の逆向きに進む勾配降下法の点列。

    Args:
        theta, loss: 曲線を描く点。
        path, path_loss: 勾配降下法の各反復のパラメータと損失 (本文と同じ値)。
    """
    fig, ax = canvas(10.0, 6.0)
    x0, x1 = float(theta.min()), float(theta.max())
    y0, y1 = float(loss.min()), float(loss.max())

    def P(x: float, y: float) -> tuple[float, float]:
        return 0.8 + 8.6 * (x - x0) / (x1 - x0), 0.9 + 4.4 * (y - y0) / (
            y1 - y0
        )

    ax.plot(
        *zip(
            *[P(x, y) for x, y in zip(theta, loss, strict=True)], strict=True
        ),
        color=COLORS["ink"],
        lw=1.5,
    )
    pts = [P(x, y) for x, y in zip(path, path_loss, strict=True)]
    for k, (p, q) in enumerate(itertools.pairwise(pts)):
        arrow(ax, p, q, color=COLORS["orange"], curve=-0.3, lw=1.2)
        label(ax, (p[0], p[1] + 0.35), f"θ{k}", size=8, color=COLORS["orange"])
    for p in pts:
        ax.add_patch(_circle(p, 0.11, COLORS["orange"]))
    label(ax, (5.0, 0.3), "パラメータ θ  (各点で −η∇L の向きに進む)", size=9)
    label(ax, (0.4, 5.6), "損失 L(θ)", size=9, ha="left")
    return to_svg(fig)


def training_loop() -> SVG:
    """ミニバッチ学習の 1 エポック: データ → ミニバッチ → 順伝播 → 損失 → 逆伝播 → 更新。"""
    g = digraph(rankdir="LR", nodesep="0.3", ranksep="0.35")
    steps = [
        ("data", "訓練データ\n(並べ替える)", COLORS["fill_gray"]),
        ("batch", "ミニバッチ\n(X, t)", COLORS["fill"]),
        ("fwd", "順伝播\nnet.forward", COLORS["fill"]),
        ("loss", "損失 L", COLORS["fill_orange"]),
        ("bwd", "逆伝播\nnet.backward", COLORS["fill_orange"]),
        ("upd", "更新\nθ ← θ − η∇L", COLORS["fill_green"]),
    ]
    for key, text, color in steps:
        g.node(key, text, fillcolor=color)
    for (a, _, _), (b, _, _) in itertools.pairwise(steps):
        g.edge(a, b)
    g.edge(
        "upd",
        "batch",
        label="次のミニバッチ",
        style="dashed",
        constraint="false",
    )
    return render(g)


def data_split(n_train: int, n_val: int, n_test: int) -> SVG:
    """訓練・検証・テストの分割と、それぞれを何に使うか。"""
    fig, ax = canvas(16.0, 4.2)
    total = n_train + n_val + n_test
    x = 0.3
    parts = [
        ("訓練", n_train, COLORS["fill"], "重みの更新"),
        ("検証", n_val, COLORS["fill_yellow"], "エポック数などの選択"),
        ("テスト", n_test, COLORS["fill_green"], "最後に 1 回だけ評価"),
    ]
    for name, n, color, use in parts:
        w = 15.4 * n / total
        box(
            ax,
            (x, 1.8),
            (w, 1.2),
            f"{name} {n:,} 枚",
            color=color,
            rounded=False,
            size=10,
        )
        label(ax, (x + w / 2, 1.2), use, size=9)
        x += w
    label(ax, (8.0, 3.6), "手書き数字のデータの分け方", size=11)
    return to_svg(fig)


def variance_gain(gains: Mapping[str, float], depth: int = 5) -> SVG:
    """逆伝播で 1 層戻るごとに勾配のノルムが √(n Var(w) E[h′(a)²]) 倍になる様子。

    Args:
        gains: 組の名前 → 1 層あたりのノルムの倍率 (本文で実測した値)。
        depth: 描く層の数。
    """
    rows = len(gains)
    fig, ax = canvas(3.0 + 2.6 * depth, 1.6 + 1.9 * rows)
    for r, (name, gain) in enumerate(gains.items()):
        y = 0.6 + 1.9 * (rows - 1 - r)
        label(ax, (0.1, y + 0.5), name, size=9, ha="left")
        for k in range(depth):
            size = float(np.clip(gain ** (depth - 1 - k), 0.02, 1.0))
            x = 3.0 + 2.6 * k
            box(
                ax,
                (x, y + 0.5 - 0.5 * size),
                (1.2, max(size, 0.06)),
                color=COLORS["fill_orange"],
                rounded=False,
            )
            if k < depth - 1:
                arrow(
                    ax,
                    (x + 2.5, y + 0.5),
                    (x + 1.3, y + 0.5),
                    f"×{gain:.2f}",
                    size=8,
                    color=COLORS["orange"],
                    offset=(0.0, 0.45),
                )
    label(
        ax,
        (3.0 + 1.3 * depth, 1.0 + 1.9 * rows),
        "← 逆伝播の向き (箱の高さ = 勾配のノルム)",
        size=9,
    )
    return to_svg(fig)


def symmetry(W1: np.ndarray, k: int = 3) -> SVG:
    """同じ初期値の隠れユニットは同じ勾配を受け取り、学習後も同じ重みのまま。

    Args:
        W1: 学習後の第 1 層の重み ``(D_in, D_hidden)``。先頭の ``k`` 列を描く。
    """
    g = digraph(rankdir="LR", ranksep="0.9")
    for i in range(2):
        g.node(f"x{i}", f"x{i + 1}", shape="circle", fillcolor=COLORS["fill"])
    for j in range(k):
        g.node(
            f"h{j}",
            f"隠れ {j + 1}",
            shape="circle",
            fillcolor=COLORS["fill_yellow"],
        )
        for i in range(2):
            g.edge(f"x{i}", f"h{j}", label=f"{W1[i, j]:.4f}")
        g.edge(f"h{j}", "y")
    g.node("y", "出力", shape="circle", fillcolor=COLORS["fill_gray"])
    return render(g)


def forward_vs_reverse() -> SVG:
    """前進モード (入力 1 方向ずつ) と逆モード (出力 1 つから全入力へ) の比較。"""
    g = digraph(rankdir="LR", nodesep="0.2", ranksep="0.6")
    with g.subgraph(name="cluster_f") as s:
        s.attr(label="前進モード: 入力 1 つにつき 1 回", fontcolor=_FWD)
        for i in range(3):
            s.node(f"fi{i}", f"θ{i + 1}", shape="circle")
        s.node("fL", "L", shape="circle", fillcolor=COLORS["fill_orange"])
        s.edge("fi0", "fL", label="∂L/∂θ₁", color=_FWD, fontcolor=_FWD)
        s.edge("fi1", "fL", style="dotted")
        s.edge("fi2", "fL", style="dotted")
    with g.subgraph(name="cluster_r") as s:
        s.attr(label="逆モード: 出力 1 つにつき 1 回", fontcolor=_BWD)
        for i in range(3):
            s.node(f"ri{i}", f"θ{i + 1}", shape="circle")
        s.node("rL", "L", shape="circle", fillcolor=COLORS["fill_orange"])
        for i in range(3):
            s.edge(
                f"ri{i}",
                "rL",
                label=f"∂L/∂θ{i + 1}",
                color=_BWD,
                fontcolor=_BWD,
                dir="back",
            )
    return render(g)
