"""dlbook.plot のテスト: 日本語フォント、Figure を返すこと、決定的な出力。"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib import font_manager
from matplotlib.figure import Figure

from dlbook import plot
from dlbook.train import History

CJK_FONTS = ("ipaexg", "ipag", "notosanscjk", "notosansjp")


def _history() -> History:
    return History(
        train_loss=[2.0, 1.0, 0.5],
        train_acc=[0.3, 0.6, 0.8],
        val_loss=[1.9, 1.1, 0.7],
        val_acc=[0.35, 0.55, 0.7],
        lr=[0.1, 0.1, 0.1],
        epoch_time=[1.0, 1.0, 1.0],
    )


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return buf.getvalue()


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def _has_japanese(s: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" for ch in s)


class TestFont:
    def test_title_font_is_cjk(self) -> None:
        fig = plot.plot_history(_history(), title="学習曲線")
        title = fig._suptitle
        assert title is not None and title.get_text() == "学習曲線"
        path = font_manager.findfont(title.get_fontproperties())
        assert path.rsplit("/", 1)[-1].lower().startswith(CJK_FONTS)
        fonts = plot.figure_fonts(fig)
        assert all(name.lower().startswith(CJK_FONTS) for name in fonts)

    def test_glyphs_exist_for_japanese(self) -> None:
        # フォントに「損失」などの字形がある (豆腐にならない)
        from matplotlib.ft2font import FT2Font

        family = matplotlib.rcParams["font.family"]
        prop = font_manager.FontProperties(family=family)
        font = FT2Font(font_manager.findfont(prop))
        for ch in "損失正解率エポック混同行列予測":
            assert font.get_char_index(ord(ch)) != 0, ch


class TestFigures:
    def test_history(self) -> None:
        fig = plot.plot_history(_history())
        assert isinstance(fig, Figure) and len(fig.axes) == 2
        texts = _texts(fig)
        assert "損失" in texts and "正解率 (%)" in texts
        assert not plt.get_fignums()  # pyplot に登録しない (自動表示なし)

    def test_history_val_label(self) -> None:
        # テストデータで評価したときは凡例を「テスト」にできる
        legend = plot.plot_history(_history(), val_label="テスト").axes[0]
        labels = [t.get_text() for t in legend.get_legend().get_texts()]
        assert labels == ["訓練", "テスト"]

    @pytest.mark.parametrize(
        "shape",
        [(6, 3, 32, 32), (6, 1, 28, 28), (6, 8, 8)],
    )
    def test_show_images(self, shape: tuple[int, ...]) -> None:
        images = torch.rand(shape, generator=torch.Generator().manual_seed(0))
        labels = torch.arange(6)
        preds = torch.tensor([0, 1, 2, 0, 4, 5])
        classes = ["飛行機", "自動車", "鳥", "猫", "鹿", "犬"]
        fig = plot.show_images(images, labels, classes, preds, ncols=4)
        assert len(fig.axes) == 8  # 2 行 × 4 列 (余りは空)
        titles = [ax.get_title() for ax in fig.axes[:6]]
        assert titles[0] == "飛行機 (飛行機)" and titles[3] == "飛行機 (猫)"
        wrong = fig.axes[3].title.get_color()
        assert wrong == plot.COLORS["wrong"]

    def test_show_images_bad_shape(self) -> None:
        with pytest.raises(ValueError, match="形です"):
            plot.show_images(np.zeros((2, 4, 8, 8)))

    def test_confusion_matrix(self) -> None:
        cm = np.array([[5, 1, 0], [0, 4, 2], [1, 0, 6]])
        fig = plot.plot_confusion_matrix(cm, ["円", "リング", "正方形"])
        ax = fig.axes[0]
        assert ax.get_xlabel() == "予測" and ax.get_ylabel() == "正解"
        assert "6" in _texts(fig)
        fig = plot.plot_confusion_matrix(cm, list("abc"), normalize=True)
        assert "83" in _texts(fig)  # 5 / 6 = 83 %
        with pytest.raises(ValueError, match="クラス数"):
            plot.plot_confusion_matrix(cm, ["a", "b"])

    def test_feature_maps_and_filters(self) -> None:
        fig = plot.show_feature_maps(torch.randn(1, 10, 8, 8), ncols=5)
        assert len(fig.axes) == 10
        fig = plot.show_filters(torch.randn(4, 3, 3, 3), title="フィルタ")
        assert len(fig.axes) == 4 and _has_japanese(fig._suptitle.get_text())
        fig = plot.show_filters(torch.randn(6, 1, 5, 5))
        assert len(fig.axes) == 6
        with pytest.raises(ValueError, match="FN, C, FH, FW"):
            plot.show_filters(torch.randn(3, 3, 3))

    def test_deterministic_png(self) -> None:
        a = _png(plot.plot_history(_history(), title="学習曲線"))
        b = _png(plot.plot_history(_history(), title="学習曲線"))
        assert a == b
