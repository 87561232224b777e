"""意味的セグメンテーション (semantic segmentation): 小さな U-Net と評価。

第6章「分類を超えて」で使う。:func:`dlbook.scenes.make_scenes` の図形の
シーンから画素ごとの正解 (0 = 背景、1〜3 = 円・四角・三角) を作り、
:class:`TinyUNet` を学習させて画素ごとのクラスを予測する。
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlbook.detection import Detection
from dlbook.scenes import _shape_mask


def scene_masks(targets: Sequence[Detection], size: int) -> Tensor:
    """生成シーンの正解の箱とラベルから、画素ごとのクラスの地図を作る。

    図形は箱に内接するので (``scenes._shape_mask``)、箱とラベルから
    画素の集合がそのまま決まる。

    Shape:
        - 戻り値 (Tensor[N, size, size], int64): 0 は背景、``label + 1`` は図形。
    """
    masks = torch.zeros(len(targets), size, size, dtype=torch.int64)
    for n, t in enumerate(targets):
        for box, label in zip(
            t["boxes"].tolist(), t["labels"].tolist(), strict=True
        ):
            x0, y0, x1, y1 = (int(v) for v in box)
            m = _shape_mask(int(label), x0, y0, x1 - x0, y1 - y0, size)
            masks[n][torch.from_numpy(m)] = int(label) + 1
    return masks


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class TinyUNet(nn.Module):
    """段数 ``len(widths)`` の小さな U-Net (Ronneberger ら 2015 の縮小版)。

    符号化器 (encoder) は「畳み込み 2 回 → 最大プーリング」で解像度を半分に
    しながらチャネルを増やす。復号化器 (decoder) は転置畳み込み (カーネル 2、
    ストライド 2) で解像度を倍に戻し、同じ解像度の符号化器の出力を
    チャネル方向に連結 (スキップ接続) してから畳み込む。最後の 1×1 畳み込みが
    画素ごとのクラスのスコアを出す。``skip=False`` ならスキップ接続を
    使わない (比較用。連結の代わりに 0 を連結してチャネル数をそろえる)。

    Shape:
        - 入力 (Tensor[N, in_channels, H, W]): H, W は 2^(段数-1) の倍数
        - 出力 (Tensor[N, n_classes, H, W])
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_classes: int = 4,
        widths: Sequence[int] = (8, 16, 32),
        skip: bool = True,
    ):
        super().__init__()
        self.in_channels, self.n_classes = in_channels, n_classes
        self.widths, self.skip = tuple(widths), skip
        w = self.widths
        self.down = nn.ModuleList(
            [_double_conv(in_channels, w[0])]
            + [_double_conv(w[d - 1], w[d]) for d in range(1, len(w))]
        )
        self.pool = nn.MaxPool2d(2)
        # 深い段から浅い段へ: 転置畳み込みで 2 倍にし、連結して畳み込む
        self.up = nn.ModuleList(
            [
                nn.ConvTranspose2d(w[d + 1], w[d], 2, stride=2)
                for d in range(len(w) - 1)
            ]
        )
        self.merge = nn.ModuleList(
            [_double_conv(2 * w[d], w[d]) for d in range(len(w) - 1)]
        )
        self.out = nn.Conv2d(w[0], n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for d, block in enumerate(self.down):
            x = block(x if d == 0 else self.pool(x))  # (N, w[d], H/2^d, W/2^d)
            skips.append(x)
        for d in reversed(range(len(self.up))):
            x = self.up[d](x)  # (N, w[d], H/2^d, W/2^d)
            s = skips[d] if self.skip else torch.zeros_like(skips[d])
            x = self.merge[d](torch.cat([s, x], dim=1))  # 連結 → (N, w[d], …)
        return self.out(x)  # (N, n_classes, H, W)


@torch.no_grad()
def predict_masks(
    model: nn.Module, X: Tensor, batch_size: int = 256
) -> Tensor:
    """画素ごとに最もスコアの高いクラス (Tensor[N, H, W], int64)。"""
    model.eval()
    return torch.cat([model(xb).argmax(dim=1) for xb in X.split(batch_size)])


def mean_iou(
    pred: Tensor, target: Tensor, n_classes: int
) -> tuple[float, list[float]]:
    r"""クラスごとの IoU :math:`|P_c \cap T_c| / |P_c \cup T_c|` とその平均 (mIoU)。

    正解にも予測にも現れないクラスは平均から除く。

    Shape:
        - pred, target (Tensor[N, H, W], int64)
    """
    ious = []
    for c in range(n_classes):
        p, t = pred == c, target == c
        union = int((p | t).sum())
        ious.append(float((p & t).sum()) / union if union else float("nan"))
    valid = [v for v in ious if v == v]
    return sum(valid) / len(valid), ious
