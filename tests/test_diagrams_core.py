"""dlbook.diagrams の道具: SVG の中身、格子の数値、Graphviz、実物から描くグラフ。"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dlbook import diagrams as dg


def _grid_svg(values: np.ndarray, **kwargs: object) -> dg.SVG:
    fig, ax = dg.canvas(values.shape[1] + 1, values.shape[0] + 2)
    dg.grid(ax, values, (0.5, 0.5), **kwargs)  # type: ignore[arg-type]
    return dg.to_svg(fig)


class TestMatplotlibSVG:
    def test_text_is_drawn_as_paths_on_white(self) -> None:
        fig, ax = dg.canvas(4, 2)
        dg.box(ax, (0.5, 0.5), (3, 1), "畳み込み層")
        svg = dg.to_svg(fig)
        assert svg.data.startswith("<svg")
        # 文字はパス (閲覧側のフォントに依らない)
        assert "<text" not in svg.data
        assert "<path" in svg.data
        assert "fill: #ffffff" in svg.data  # 白い背景: ダークモードでも読める
        assert svg.texts == ["畳み込み層"]

    def test_grid_writes_each_value_row_major(self) -> None:
        x = np.array([[1, 2, 0], [-1, 3.5, 4]])
        svg = _grid_svg(x, title="入力 x")
        assert svg.texts == ["1", "2", "0", "-1", "3.5", "4", "入力 x"]

    def test_grid_format_and_blank_cells(self) -> None:
        x = np.array([[0.125, np.nan], [None, "a"]], dtype=object)
        svg = _grid_svg(x, fmt="{:.2f}")
        assert svg.texts == ["0.12", "a"]

    def test_highlight_mask_must_match(self) -> None:
        _fig, ax = dg.canvas(3, 3)
        with pytest.raises(ValueError, match="highlight の形"):
            dg.grid(ax, np.zeros((2, 2)), highlight=np.zeros((3, 3), bool))
        with pytest.raises(ValueError, match="2 次元"):
            dg.grid(ax, np.zeros(4))

    def test_highlighted_cells_are_coloured(self) -> None:
        plain = _grid_svg(np.zeros((2, 2)))
        marked = _grid_svg(np.zeros((2, 2)), highlight=[(0, 1)])
        colour = dg.COLORS["highlight"].lower()
        assert colour not in plain.data.lower()
        assert colour in marked.data.lower()

    def test_canvas_rejects_empty_size(self) -> None:
        with pytest.raises(ValueError, match="画布"):
            dg.canvas(0, 2)

    def test_output_is_deterministic(self) -> None:
        a = _grid_svg(np.eye(3))
        b = _grid_svg(np.eye(3))
        assert a.data == b.data

    def test_mimebundle_is_svg(self) -> None:
        fig, _ = dg.canvas(1, 1)
        bundle = dg.to_svg(fig)._repr_mimebundle_()
        assert bundle["image/svg+xml"].startswith("<svg")


class TestGraphviz:
    def test_render_embeds_glyphs(self) -> None:
        g = dg.digraph("LR")
        g.node("x", "入力 x\n(4, 784)")
        g.node("a", "Affine")
        g.edge("x", "a", label="順伝播")
        svg = dg.render(g)
        assert svg.data.startswith("<svg")
        assert "<text" not in svg.data and "<symbol" in svg.data
        assert svg.texts == ["入力 x\n(4, 784)", "Affine", "順伝播"]
        assert "fill:rgb(100%,100%,100%)" in svg.data.replace(" ", "")

    def test_ids_differ_between_documents(self) -> None:
        """cairo の ID (glyph0-1 …) は文書ごと。1 つの HTML に並べても混ざらない。"""
        ids = []
        for word in ("入力", "出力"):
            g = dg.digraph()
            g.node("n", word)
            data = dg.render(g).data
            found = set(re.findall(r'\bid="([^"]+)"', data))
            refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', data))
            assert refs and refs <= found  # 参照はすべて同じ文書の ID を指す
            ids.append(found)
        assert not ids[0] & ids[1]

    def test_graph_texts_reads_quoted_bare_and_html_labels(self) -> None:
        src = 'a [label="x = 2"]\nb [label=relu]\nc [label=<<b>y</b> = 3>]\n'
        assert dg.graph_texts(src) == ["x = 2", "relu", "y = 3"]


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x) + x)


class TestModelGraphs:
    def test_module_graph_follows_the_data_flow(self) -> None:
        g = dg.module_graph(_Residual(), (2, 3, 8, 8))
        texts = g.source
        assert "conv: Conv2d" in texts and "relu: ReLU" in texts
        # 残差の合流: add には入力と conv の出力の 2 本が入る
        add = re.search(r"(\w+) \[label=\"add", texts)
        assert add is not None
        assert len(re.findall(rf"-> {add.group(1)}\b", texts)) == 2
        assert "2×3×8×8" in texts  # 実際の順伝播で測った形

    def test_module_graph_depth(self) -> None:
        net = nn.Sequential(
            nn.Sequential(nn.Linear(4, 5), nn.ReLU()), nn.Linear(5, 2)
        )
        shallow = dg.module_graph(net, (1, 4), max_depth=1).source
        deep = dg.module_graph(net, (1, 4), max_depth=2).source
        assert "0: Sequential" in shallow and "0.0: Linear" not in shallow
        assert "0.0: Linear" in deep and "1×5" in deep
        with pytest.raises(ValueError, match="max_depth"):
            dg.module_graph(net, max_depth=0)

    def test_autograd_graph_names_backward_functions_and_leaves(self) -> None:
        x = torch.tensor(2.0, requires_grad=True)
        w = torch.tensor(3.0, requires_grad=True)
        y = (x * w + 1).relu()
        texts = dg.render(dg.autograd_graph(y, {"x": x, "w": w})).texts
        for name in (
            "ReluBackward0",
            "AddBackward0",
            "MulBackward0",
            "x\n()",
            "w\n()",
        ):
            assert name in texts
        with pytest.raises(ValueError, match="grad_fn"):
            dg.autograd_graph(torch.ones(2))


@pytest.mark.slow
def test_japanese_glyphs_render_in_chromium(
    tmp_path: Path, browser: object
) -> None:
    """豆腐 (字形のない四角) なら、違う文字でも同じ絵になる。違う絵になることを見る。"""
    shots = []
    for i, word in enumerate(["入力層", "畳込層"]):  # 同じ字数
        fig, ax = dg.canvas(4, 1.5)
        dg.label(ax, (2, 0.75), word, size=18)
        g = dg.digraph()
        g.node("n", word)
        for kind, svg in (("mpl", dg.to_svg(fig)), ("gv", dg.render(g))):
            path = tmp_path / f"{kind}{i}.svg"
            svg.save(str(path))
            page = tmp_path / f"{kind}{i}.html"
            page.write_text(
                f'<body style="margin:0"><img id="i" src="{path.name}">'
            )
            tab = browser.new_page()  # type: ignore[attr-defined]
            tab.goto(page.as_uri())
            shots.append((kind, tab.locator("#i").screenshot()))
            tab.close()
    by_kind: dict[str, list[bytes]] = {}
    for kind, png in shots:
        by_kind.setdefault(kind, []).append(png)
    for kind, (a, b) in by_kind.items():
        assert a != b, f"{kind}: 違う日本語が同じ絵になった (豆腐)"
        assert len(a) > 1500, f"{kind}: 絵がほとんど空"
