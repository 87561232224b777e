"""CAM と Grad-CAM: 分類の根拠になった画像の場所をヒートマップで示す。

第6章「分類を超えて」で使う。

- CAM (Zhou ら 2016): 最後の畳み込みの特徴マップ :math:`A^k` を、GAP の後の
  全結合の重み :math:`w^c_k` で足し合わせる。GAP + 全結合で終わるモデル専用。
- Grad-CAM (Selvaraju ら 2017): 重みを勾配の空間平均
  :math:`\\alpha^c_k = \\frac{1}{hw} \\sum_{i,j} \\partial y^c / \\partial A^k_{ij}`
  にし、:math:`\\mathrm{ReLU}(\\sum_k \\alpha^c_k A^k)` とする。どの CNN でも使える。
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def grad_cam(
    model: nn.Module,
    layer: nn.Module,
    x: Tensor,
    classes: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Grad-CAM のヒートマップ (入力の大きさに拡大する前) を返す。

    ``layer`` の出力 :math:`A` (N, K, h, w) をフォワードフックで取り出し、
    クラス ``classes`` のスコアの勾配を求めて

    .. math::
        \alpha_k = \frac{1}{hw} \sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}},
        \qquad L = \mathrm{ReLU}\Big(\sum_k \alpha_k A^k\Big)

    を計算する。

    Args:
        model: 分類器 (評価モードで使う)。
        layer: 特徴マップを取り出す層 (普通は最後の畳み込みの後の ReLU)。
        x: 入力画像。
        classes: 画像ごとの対象クラス。``None`` なら予測したクラス。

    Returns:
        ``(cam, classes)``。cam は (Tensor[N, h, w]) で 0 以上。

    Shape:
        - x (Tensor[N, C, H, W]) → cam (Tensor[N, h, w]), classes (Tensor[N])
    """
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, _inp: object, out: Tensor) -> None:
        out.retain_grad()
        store["A"] = out

    handle = layer.register_forward_hook(hook)
    model.eval()
    try:
        with torch.enable_grad():
            scores = model(x)  # (N, K_classes)
            if classes is None:
                classes = scores.argmax(dim=1)
            model.zero_grad()
            scores.gather(1, classes[:, None]).sum().backward()
    finally:
        handle.remove()
    A = store["A"]  # (N, K, h, w)
    assert A.grad is not None
    alpha = A.grad.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    cam = F.relu((alpha * A).sum(dim=1))  # (N, h, w)
    return cam.detach(), classes


@torch.no_grad()
def class_activation_map(
    features: nn.Module, fc: nn.Linear, x: Tensor, classes: Tensor
) -> Tensor:
    r"""CAM: :math:`M^c = \sum_k w^c_k A^k` (``features`` は GAP の前まで)。

    Shape:
        - x (Tensor[N, C, H, W]), classes (Tensor[N]) → (Tensor[N, h, w])
    """
    A = features(x)  # (N, K, h, w)
    w = fc.weight[classes]  # (N, K)
    return (w[:, :, None, None] * A).sum(dim=1)


def upsample(cam: Tensor, size: tuple[int, int]) -> Tensor:
    """ヒートマップを双線形補間で入力の大きさにし、画像ごとに 0〜1 にする。

    Shape:
        - cam (Tensor[N, h, w]) → (Tensor[N, H, W])
    """
    up = F.interpolate(
        cam[:, None], size=size, mode="bilinear", align_corners=False
    )[:, 0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    return (up - lo) / (hi - lo).clamp_min(1e-12)


@torch.no_grad()
def deletion_check(
    model: nn.Module,
    x: Tensor,
    heat: Tensor,
    classes: Tensor,
    frac: float = 0.25,
    seed: int = 0,
) -> tuple[float, float]:
    """ヒートマップが分類の根拠を指しているかを、画素を消して確かめる。

    画像ごとに、ヒートマップの値が大きい順に画素の ``frac`` を画像の平均色で
    塗りつぶしたときと、同じ数の画素を無作為に選んで塗りつぶしたときの、
    クラス ``classes`` の確率の下がり幅の平均を返す。ヒートマップが根拠を
    指しているなら、前者の方が大きく下がる。

    Returns:
        ``(ヒートマップで消したときの低下, 無作為に消したときの低下)``。

    Shape:
        - x (Tensor[N, C, H, W]), heat (Tensor[N, H, W]), classes (Tensor[N])
    """
    model.eval()
    N, _, H, W = x.shape
    k = int(frac * H * W)
    base = F.softmax(model(x), dim=1).gather(1, classes[:, None])[:, 0]
    fill = x.mean(dim=(2, 3), keepdim=True).expand_as(x)  # (N, C, H, W)
    top = heat.reshape(N, -1).argsort(dim=1, descending=True)[:, :k]
    g = torch.Generator().manual_seed(seed)
    rand = torch.stack(
        [torch.randperm(H * W, generator=g)[:k] for _ in range(N)]
    )
    drops = []
    for idx in (top, rand):
        mask = torch.zeros(N, H * W, dtype=torch.bool)
        mask.scatter_(1, idx, True)
        mask = mask.reshape(N, 1, H, W)
        xd = torch.where(mask, fill, x)
        p = F.softmax(model(xd), dim=1).gather(1, classes[:, None])[:, 0]
        drops.append(float((base - p).mean()))
    return drops[0], drops[1]
