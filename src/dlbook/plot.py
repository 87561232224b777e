"""本書の図: 日本語フォント付きの一貫したスタイルで描く。

``import dlbook.plot`` した時点で ``matplotlib_fontja`` が日本語フォント
(IPAex ゴシック) を設定し、``setup_style`` が本書のスタイルを当てる。

どの関数も ``matplotlib.figure.Figure`` を返す。pyplot を通さずに作るので、
ノートブックで勝手に表示されることはなく、本では
``glue("fig-ch5-history", fig, display=False)`` で図として貼る。
バックエンドに依存しない (Agg でも動き、``plt.show()`` はいらない)。
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import matplotlib as mpl
import matplotlib_fontja  # noqa: F401 (日本語フォントを登録・設定する)
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from dlbook.history import History

if TYPE_CHECKING:
    import torch

ArrayLike: TypeAlias = "np.ndarray | torch.Tensor"

#: 本書の色 (訓練・検証・強調)。色覚の多様性に配慮した Okabe-Ito の配色。
COLORS: dict[str, str] = {
    "train": "#0072B2",
    "val": "#D55E00",
    "accent": "#009E73",
    "wrong": "#CC0000",
}


def setup_style() -> None:
    """本書の図のスタイル (日本語フォント・大きさ・格子) を設定する。

    何度呼んでも同じ結果になる。SVG の要素 ID を固定し、出力が
    実行のたびに変わらないようにする。
    """
    mpl.rcParams.update(
        {
            "font.family": ["IPAexGothic"],
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.unicode_minus": False,  # IPAex にない記号を避ける
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "image.cmap": "viridis",
            "svg.hashsalt": "dlbook",
        }
    )


setup_style()


def _new_figure(width: float, height: float) -> Figure:
    """pyplot を通さずに図を作る (自動表示されない)。"""
    return Figure(figsize=(width, height), layout="constrained")


def _to_numpy(x: ArrayLike) -> np.ndarray:
    # テンソルがあるなら torch は読み込み済み (NumPy だけの章で torch を読まない)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return (n + ncols - 1) // ncols, ncols


def _image_axes(
    fig: Figure,
    n: int,
    ncols: int,
) -> tuple[list[Axes], int, int]:
    nrows, ncols = _grid(n, ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes:
        ax.set_axis_off()
    return axes, nrows, ncols


def plot_history(
    history: History, title: str | None = None, val_label: str = "検証"
) -> Figure:
    """学習曲線 (損失と正解率、訓練と検証) を左右に並べて描く。

    Args:
        history: ``dlbook.train.fit`` の戻り値。
        title: 図全体の見出し。
        val_label: 評価に使ったデータの呼び名 (凡例)。テストデータで
            評価したときは ``"テスト"`` とする。
    """
    fig = _new_figure(8.0, 3.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(1, len(history) + 1)
    ax_loss.plot(epochs, history.train_loss, "o-", color=COLORS["train"],
                 label="訓練")  # fmt: skip
    ax_acc.plot(epochs, np.asarray(history.train_acc) * 100, "o-",
                color=COLORS["train"], label="訓練")  # fmt: skip
    if history.val_loss:
        ax_loss.plot(epochs, history.val_loss, "s--", color=COLORS["val"],
                     label=val_label)  # fmt: skip
        ax_acc.plot(epochs, np.asarray(history.val_acc) * 100, "s--",
                    color=COLORS["val"], label=val_label)  # fmt: skip
    ax_loss.set(xlabel="エポック", ylabel="損失", title="損失")
    ax_acc.set(xlabel="エポック", ylabel="正解率 (%)", title="正解率")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return fig


def _as_hwc(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """``(C, H, W)`` / ``(H, W)`` の画像を imshow 用の形と cmap にする。"""
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]  # (H, W)
    if img.ndim == 2:
        return img, "gray"
    if img.ndim == 3 and img.shape[0] == 3:
        return np.clip(img.transpose(1, 2, 0), 0.0, 1.0), None  # (H, W, 3)
    raise ValueError(
        f"画像は (C, H, W) (C = 1, 3) か (H, W) の形です: {img.shape}",
    )


def show_images(
    images: ArrayLike,
    labels: ArrayLike | None = None,
    classes: Sequence[str] | None = None,
    preds: ArrayLike | None = None,
    ncols: int = 8,
    size: float = 1.2,
    title: str | None = None,
) -> Figure:
    """画像を格子状に並べる。ラベルと予測があれば見出しに書く。

    予測 ``preds`` を渡すと見出しは「予測 (正解)」になり、
    間違いは赤で示す。

    Args:
        images: 画素値 [0, 1] の画像 (標準化したものは
            ``dlbook.data.denormalize`` で戻してから渡す)。
        labels: 正解ラベル。
        classes: クラス名 (ラベルの番号を名前に直す)。
        preds: 予測ラベル。
        ncols: 1 行に並べる枚数。
        size: 1 枚の大きさ (インチ)。
        title: 図全体の見出し。

    Shape:
        - images: :math:`(N, C, H, W)` (:math:`C \\in \\{1, 3\\}`) または
          :math:`(N, H, W)`
        - labels, preds: :math:`(N,)`
    """
    imgs = _to_numpy(images)
    n = len(imgs)
    nrows, nc = _grid(n, ncols)
    fig = _new_figure(nc * size, nrows * (size + 0.25))
    axes, _, _ = _image_axes(fig, n, ncols)

    def name(k: int) -> str:
        return classes[k] if classes is not None else str(k)

    lab = _to_numpy(labels).astype(int) if labels is not None else None
    pred = _to_numpy(preds).astype(int) if preds is not None else None
    for i in range(n):
        img, cmap = _as_hwc(imgs[i])
        axes[i].imshow(img, cmap=cmap, vmin=0.0, vmax=1.0)
        if pred is not None:
            wrong = lab is not None and pred[i] != lab[i]
            text = name(pred[i])
            if lab is not None:
                text += f" ({name(lab[i])})"
            color = COLORS["wrong"] if wrong else "black"
            axes[i].set_title(text, fontsize=8, color=color)
        elif lab is not None:
            axes[i].set_title(name(lab[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(
    cm: ArrayLike,
    classes: Sequence[str],
    normalize: bool = False,
    title: str | None = None,
) -> Figure:
    """混同行列を描く (行 = 正解、列 = 予測)。

    Args:
        cm: ``dlbook.train.confusion_matrix`` の戻り値。
        classes: クラス名。
        normalize: ``True`` なら行ごとの割合 (%) で表示する。
        title: 見出し。

    Shape:
        - cm: :math:`(K, K)`
    """
    mat = _to_numpy(cm).astype(float)
    K = len(classes)
    if mat.shape != (K, K):
        raise ValueError(
            f"混同行列の形 {mat.shape} がクラス数 {K} と合いません",
        )
    if normalize:
        rows = mat.sum(axis=1, keepdims=True)  # (K, 1)
        mat = 100 * np.divide(mat, rows, out=np.zeros_like(mat),
                              where=rows > 0)  # fmt: skip
    side = 1.2 + 0.45 * K
    fig = _new_figure(side + 1.0, side)
    ax = fig.subplots()
    im = ax.imshow(mat, cmap="Blues")
    ax.grid(False)
    ticks = np.arange(K)
    ax.set_xticks(ticks, labels=list(classes), rotation=45, ha="right")
    ax.set_yticks(ticks, labels=list(classes))
    ax.set(xlabel="予測", ylabel="正解")
    threshold = mat.max() / 2 if mat.size else 0.0
    for i in range(K):
        for j in range(K):
            text = f"{mat[i, j]:.0f}"
            color = "white" if mat[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color=color)  # fmt: skip
    fig.colorbar(im, ax=ax, label="割合 (%)" if normalize else "件数")
    ax.set_title(title or "混同行列")
    return fig


def show_feature_maps(
    maps: ArrayLike,
    ncols: int = 8,
    max_maps: int = 32,
    size: float = 1.0,
    title: str | None = None,
) -> Figure:
    """畳み込み層の出力 (特徴マップ) をチャネルごとに並べる。

    各マップは自分の最小値〜最大値で色を付ける (マップ間の明るさは
    比べられない)。

    Args:
        maps: 1 枚の画像の特徴マップ。
        ncols: 1 行に並べる枚数。
        max_maps: 表示する最大のチャネル数 (先頭から)。
        size: 1 枚の大きさ (インチ)。
        title: 図全体の見出し。

    Shape:
        - maps: :math:`(C, H, W)` または :math:`(1, C, H, W)`
    """
    arr = _to_numpy(maps)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]  # (C, H, W)
    if arr.ndim != 3:
        raise ValueError(f"特徴マップは (C, H, W) の形です: {arr.shape}")
    arr = arr[:max_maps]
    n = len(arr)
    nrows, nc = _grid(n, ncols)
    fig = _new_figure(nc * size, nrows * (size + 0.2))
    axes, _, _ = _image_axes(fig, n, ncols)
    for c in range(n):
        axes[c].imshow(arr[c], cmap="viridis")
        axes[c].set_title(f"ch {c}", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def show_filters(
    W: ArrayLike,
    ncols: int = 8,
    max_filters: int = 64,
    size: float = 0.8,
    title: str | None = None,
) -> Figure:
    """畳み込みのフィルタ (重み) を画像として並べる。

    入力が 3 チャネルならフィルタごとに [0, 1] へ伸ばしてカラーで、
    それ以外は入力チャネルの平均を、0 を灰色とする色 (青が負・赤が正)
    で描く。

    Args:
        W: 重み (``conv.weight``)。
        ncols: 1 行に並べる枚数。
        max_filters: 表示する最大のフィルタ数 (先頭から)。
        size: 1 枚の大きさ (インチ)。
        title: 図全体の見出し。

    Shape:
        - W: :math:`(FN, C, FH, FW)`
    """
    w = _to_numpy(W).astype(float)
    if w.ndim != 4:
        raise ValueError(f"フィルタは (FN, C, FH, FW) の形です: {w.shape}")
    w = w[:max_filters]
    FN, C = w.shape[:2]  # (FN, C, FH, FW)
    nrows, nc = _grid(FN, ncols)
    fig = _new_figure(nc * size, nrows * size)
    axes, _, _ = _image_axes(fig, FN, ncols)
    for k in range(FN):
        if C == 3:
            f = w[k].transpose(1, 2, 0)  # (FH, FW, 3)
            lo, hi = f.min(), f.max()
            f = (f - lo) / (hi - lo) if hi > lo else np.full_like(f, 0.5)
            axes[k].imshow(f, interpolation="nearest")
        else:
            f = w[k].mean(axis=0)  # (FH, FW)
            m = float(np.abs(f).max()) or 1.0
            axes[k].imshow(f, cmap="coolwarm", vmin=-m, vmax=m,
                           interpolation="nearest")  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig


def figure_fonts(fig: Figure) -> set[str]:
    """図の中の文字に実際に使われるフォントファイルの名前を返す (検査用)。"""
    from matplotlib import font_manager

    names: set[str] = set()
    for text in fig.findobj(Text):
        if not text.get_text():
            continue
        path = font_manager.findfont(text.get_fontproperties())
        names.add(path.rsplit("/", 1)[-1])
    return names


__all__ = [
    "COLORS",
    "figure_fonts",
    "plot_confusion_matrix",
    "plot_history",
    "setup_style",
    "show_feature_maps",
    "show_filters",
    "show_images",
]
