"""概念図の道具: matplotlib で格子・箱・矢印を、Graphviz でグラフを描き、SVG にする。

本書の概念図 (ニューロン、計算グラフ、im2col の行列、残差ブロック …) は、
ビルドのたびにこのモジュールの関数で描く。数値を含む図は、横の計算例と
同じ配列を受け取って描くので、図と本文の数値はずれない。

- matplotlib の図 (:func:`canvas` + :func:`grid` / :func:`box` / :func:`arrow`)
  は :func:`to_svg` で SVG にする。文字はパスになるので、読者の環境に
  日本語フォントがなくても字が化けない (豆腐にならない)。
- グラフ (計算グラフ、モジュールの木、アーキテクチャ) は Graphviz に配置を任せる。
  :func:`digraph` で本書の書式の ``graphviz.Digraph`` を作り、:func:`render` で
  ``dot -Tsvg:cairo`` に通す。cairo は字形をパスとして埋め込む。
- どちらも白い背景を持つので、テーマのダークモードでも読める。

どの SVG も :class:`SVG` (``.data`` に SVG の文字列、``.texts`` に描いた文字列)。
本では ``glue("fig-ch4-graph", svg, display=False)`` で貼り、
``{glue:figure}`` で番号・代替テキスト・キャプションを付ける。
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.text import Text

#: 概念図の字体。Debian の fonts-noto-cjk (本のページと同じ字体)。
FONT = "Noto Sans CJK JP"

#: 概念図の色 (Okabe-Ito の配色を淡くした塗りと、濃い線・強調)。
COLORS: dict[str, str] = {
    "ink": "#222222",  # 線と文字
    "muted": "#777777",  # 補助の線・注記
    "blue": "#0072B2",
    "orange": "#D55E00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "yellow": "#E69F00",
    "sky": "#56B4E9",
    "fill": "#EAF2FA",  # 既定の塗り (淡い青)
    "fill_orange": "#FBE9DF",
    "fill_green": "#E0F3EC",
    "fill_purple": "#F6E7F0",
    "fill_yellow": "#FDF1D8",
    "fill_gray": "#F2F2F2",
    "highlight": "#FFD9A8",  # 格子の強調セル
}

#: 図の 1 単位 (データ座標の 1) のインチ数。
UNIT_INCH = 0.42

_RC = {
    "font.family": [FONT],
    "font.size": 11,
    "svg.fonttype": "path",  # 文字をパスにする (閲覧環境のフォントに依存しない)
    "svg.hashsalt": "dlbook-diagrams",  # 要素 ID を固定 (出力が毎回同じになる)
    "axes.unicode_minus": False,
}


@dataclass
class SVG:
    """概念図の SVG。Jupyter と myst-nb には ``image/svg+xml`` として渡る。

    Attributes:
        data: SVG の文字列 (``<svg`` で始まる)。
        texts: 図に描いた文字列 (テストで数値を照合するため)。
    """

    data: str
    texts: list[str] = field(default_factory=list)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, str]:
        summary = " / ".join(self.texts[:6])
        return {"image/svg+xml": self.data, "text/plain": f"<図: {summary}>"}

    def save(self, path: str) -> None:
        """SVG をファイルに書く。"""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.data)


# ---------------------------------------------------------------- matplotlib


def canvas(
    width: float, height: float, unit: float = UNIT_INCH
) -> tuple[Figure, Axes]:
    """幅 ``width``・高さ ``height`` (データ単位) の白い画布を作る。

    座標は左下が (0, 0)、y は上向き。軸・目盛りは描かない。1 単位は
    ``unit`` インチ。pyplot を通さないので、ノートブックで勝手に表示されない。
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"画布の大きさは正: width={width}, height={height}")
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(width * unit, height * unit), facecolor="white")
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _fontsize(ax: Axes, size: float | None) -> float:
    return float(size) if size is not None else 11.0


def label(
    ax: Axes,
    xy: tuple[float, float],
    text: str,
    *,
    size: float | None = None,
    color: str = COLORS["ink"],
    ha: str = "center",
    va: str = "center",
    **kwargs: Any,
) -> Text:
    """点 ``xy`` に文字列を置く (既定は中央ぞろえ)。"""
    return ax.text(
        xy[0],
        xy[1],
        text,
        fontsize=_fontsize(ax, size),
        color=color,
        ha=ha,
        va=va,
        fontfamily=FONT,
        **kwargs,
    )


def box(
    ax: Axes,
    xy: tuple[float, float],
    wh: tuple[float, float],
    text: str = "",
    *,
    color: str = COLORS["fill"],
    edge: str = COLORS["ink"],
    size: float | None = None,
    rounded: bool = True,
    lw: float = 1.2,
    dashed: bool = False,
) -> tuple[float, float]:
    """左下 ``xy``・大きさ ``wh`` の箱を描き、中央に ``text`` を書く。

    Returns:
        箱の中心の座標 (矢印の端に使う)。
    """
    (x, y), (w, h) = xy, wh
    style = "round,pad=0,rounding_size=0.15" if rounded else "square,pad=0"
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle=style,
            facecolor=color,
            edgecolor=edge,
            linewidth=lw,
            linestyle="--" if dashed else "-",
        )
    )
    center = (x + w / 2, y + h / 2)
    if text:
        label(ax, center, text, size=size)
    return center


def arrow(
    ax: Axes,
    p0: tuple[float, float],
    p1: tuple[float, float],
    text: str | None = None,
    *,
    color: str = COLORS["ink"],
    size: float | None = None,
    lw: float = 1.4,
    curve: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.25),
    dashed: bool = False,
) -> FancyArrowPatch:
    """``p0`` から ``p1`` への矢印。``text`` は矢印の中点から ``offset`` ずらして書く。

    ``curve`` は弧の曲がり (0 で直線、正で左に膨らむ)。
    """
    patch = FancyArrowPatch(
        p0,
        p1,
        arrowstyle="-|>",
        mutation_scale=12,
        color=color,
        linewidth=lw,
        linestyle="--" if dashed else "-",
        connectionstyle=f"arc3,rad={curve}",
        shrinkA=0,
        shrinkB=0,
    )
    ax.add_patch(patch)
    if text:
        mid = (
            (p0[0] + p1[0]) / 2 + offset[0],
            (p0[1] + p1[1]) / 2 + offset[1],
        )
        label(ax, mid, text, size=size, color=color)
    return patch


def grid(
    ax: Axes,
    values: np.ndarray | Sequence[Sequence[float]],
    xy: tuple[float, float] = (0.0, 0.0),
    *,
    cell: float = 1.0,
    fmt: str = "{:g}",
    color: str = "white",
    highlight: Iterable[tuple[int, int]] | np.ndarray | None = None,
    highlight_color: str = COLORS["highlight"],
    title: str | None = None,
    size: float | None = None,
    shade: bool = False,
    lw: float = 1.0,
) -> tuple[float, float, float, float]:
    """2 次元配列を数値入りの格子として描く。行 0 が上、列 0 が左。

    Args:
        values: 形 (R, C) の配列。``None`` や NaN のセルは空欄にする。
        xy: 格子の左下の座標。
        cell: 1 セルの辺の長さ (データ単位)。
        fmt: 数値の書式 (``str.format``)。文字列のセルはそのまま書く。
        highlight: 強調するセル。(行, 列) の列か、形 (R, C) の真偽値の配列。
        title: 格子の上に書く見出し (例: 「入力 x (4×4)」)。
        shade: True なら値の大きさで塗る (特徴マップ向き、灰色の濃淡)。

    Returns:
        格子の外枠 (x0, y0, x1, y1)。
    """
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 2:
        raise ValueError(f"grid は 2 次元配列を描く: shape={arr.shape}")
    R, C = arr.shape
    x0, y0 = xy
    mask = np.zeros((R, C), dtype=bool)
    if highlight is not None:
        h = np.asarray(highlight)
        if h.dtype == bool:
            if h.shape != (R, C):
                raise ValueError(
                    f"highlight の形 {h.shape} が格子 {(R, C)} と違う"
                )
            mask = h
        else:
            for r, c in np.asarray(h, dtype=int).reshape(-1, 2):
                mask[r, c] = True
    numeric = np.array(
        [[_as_float(v) for v in row] for row in arr], dtype=float
    )
    lo, hi = np.nanmin(numeric, initial=0.0), np.nanmax(numeric, initial=1.0)
    for r in range(R):
        for c in range(C):
            x, y = x0 + c * cell, y0 + (R - 1 - r) * cell
            face = color
            if shade and np.isfinite(numeric[r, c]) and hi > lo:
                level = 0.95 - 0.6 * (numeric[r, c] - lo) / (hi - lo)
                face = str(round(float(level), 3))
            if mask[r, c]:
                face = highlight_color
            ax.add_patch(
                Rectangle(
                    (x, y),
                    cell,
                    cell,
                    facecolor=face,
                    edgecolor=COLORS["ink"],
                    linewidth=lw,
                )
            )
            text = _cell_text(arr[r, c], fmt)
            if text:
                label(ax, (x + cell / 2, y + cell / 2), text, size=size)
    x1, y1 = x0 + C * cell, y0 + R * cell
    if title:
        label(
            ax,
            ((x0 + x1) / 2, y1 + 0.35 * cell),
            title,
            size=size,
            va="bottom",
        )
    return x0, y0, x1, y1


def _as_float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _cell_text(v: Any, fmt: str) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    f = float(v)
    if np.isnan(f):
        return ""
    if float(f).is_integer():
        f = int(f) if fmt == "{:g}" else f
    return fmt.format(f)


def to_svg(fig: Figure) -> SVG:
    """matplotlib の図を :class:`SVG` にする (文字はパス、白い背景)。"""
    texts = [
        t.get_text()
        for t in fig.findobj(Text)
        if isinstance(t, Text) and t.get_visible() and t.get_text().strip()
    ]
    buf = io.StringIO()
    with mpl.rc_context(_RC):
        fig.savefig(
            buf,
            format="svg",
            facecolor="white",
            bbox_inches="tight",
            pad_inches=0.05,
            metadata={"Date": None, "Creator": None},
        )
    return SVG(_strip_xml_header(buf.getvalue()), texts)


def _strip_xml_header(data: str) -> str:
    """``<?xml …?>`` と DOCTYPE を除き ``<svg`` から始める (HTML に埋め込めるように)。"""
    start = data.find("<svg")
    if start < 0:
        raise ValueError("SVG の出力に <svg 要素がない")
    return data[start:]


# ---------------------------------------------------------------- Graphviz


def _graphviz() -> Any:
    import graphviz  # Debian の graphviz (dot) を呼ぶ薄い包み

    if shutil.which("dot") is None:
        raise RuntimeError(
            "Graphviz の dot コマンドがない。Debian なら `apt-get install graphviz` "
            "(tools/apt-packages.txt に載っている。make setup で入る)"
        )
    return graphviz


def digraph(rankdir: str = "TB", **graph_attr: str) -> Any:
    """本書の書式 (日本語フォント、白い背景、角の丸い箱) の有向グラフを作る。

    Args:
        rankdir: 並べる向き。``"TB"`` (上から下) か ``"LR"`` (左から右)。
        graph_attr: Graphviz のグラフ属性 (``nodesep="0.3"`` など) の上書き。

    Returns:
        ``graphviz.Digraph``。``.node`` / ``.edge`` で描き、:func:`render` で SVG にする。
    """
    gv = _graphviz()
    attrs = {
        "rankdir": rankdir,
        "bgcolor": "white",
        "fontname": FONT,
        "fontsize": "12",
        "pad": "0.15",
        "nodesep": "0.35",
        "ranksep": "0.4",
    }
    attrs.update(graph_attr)
    return gv.Digraph(
        graph_attr=attrs,
        node_attr={
            "fontname": FONT,
            "fontsize": "12",
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": COLORS["fill"],
            "color": COLORS["ink"],
            "penwidth": "1.2",
            "margin": "0.12,0.06",
        },
        edge_attr={
            "fontname": FONT,
            "fontsize": "10",
            "color": COLORS["ink"],
            "arrowsize": "0.7",
        },
    )


_LABEL = re.compile(
    r'(?:xlabel|headlabel|taillabel|label)=("(?:[^"\\]|\\.)*"|<|[^\s,\]"<]+)'
)


def _html_label(source: str, start: int) -> tuple[str, int]:
    """``start`` の ``<`` から対応する ``>`` までの HTML ラベルを返す (入れ子可)。"""
    depth = 0
    for i in range(start, len(source)):
        if source[i] == "<":
            depth += 1
        elif source[i] == ">":
            depth -= 1
            if depth == 0:
                return source[start + 1 : i], i + 1
    raise ValueError(
        f"DOT の HTML ラベルが閉じていない: {source[start : start + 40]!r}"
    )


def graph_texts(source: str) -> list[str]:
    """DOT のソースからラベルの文字列を取り出す (HTML ラベルはタグを除く)。"""
    out = []
    pos = 0
    while (m := _LABEL.search(source, pos)) is not None:
        raw = m.group(1)
        pos = m.end()
        if raw == "<":
            inner, pos = _html_label(source, m.start(1))
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", inner)).strip()
            text = (
                text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
            )
        elif raw.startswith('"'):
            text = (
                raw[1:-1]
                .replace('\\"', '"')
                .replace("\\n", "\n")
                .replace("\\l", "\n")
            )
        else:
            text = raw
        if text.strip():
            out.append(text)
    return out


def render(g: Any) -> SVG:
    """Graphviz のグラフを ``dot -Tsvg:cairo`` で :class:`SVG` にする (字形はパス)。"""
    data = g.pipe(format="svg", renderer="cairo", encoding="utf-8")
    return SVG(_unique_ids(_strip_xml_header(data)), graph_texts(g.source))


def _unique_ids(data: str) -> str:
    """cairo は要素 ID を文書ごとに ``glyph0-1`` から振る。同じ HTML に複数の SVG を
    埋め込んでも字形が混ざらないよう、ID に内容のハッシュを前置する。"""
    prefix = "d" + hashlib.sha1(data.encode("utf-8")).hexdigest()[:10] + "-"
    data = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', data)
    return re.sub(r'(href="#|url\(#)([^")]+)', rf"\1{prefix}\2", data)
