"""画像データの表し方: 写真の読み込み、グレースケール・二値化、軸の並べ替え。

画像は NumPy では ``(H, W, C)`` (高さ・幅・チャネル) の配列として、
PyTorch では ``(N, C, H, W)`` (枚数・チャネル・高さ・幅) のテンソルとして扱う。
この違いを行き来する関数と、画素値のチャネルごとの標準化をまとめる。
"""

from __future__ import annotations

import numpy as np
import torch

#: 輝度の重み (R, G, B)。scikit-image の ``rgb2gray`` と同じ値で、
#: ITU-R BT.709 の (0.2126, 0.7152, 0.0722) にほぼ等しい。
LUMA_WEIGHTS = (0.2125, 0.7154, 0.0721)

#: ImageNet で学習した torchvision のモデルが前提とするチャネルごとの平均と標準偏差。
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def load_photo(name: str = "astronaut") -> np.ndarray:
    """scikit-image に同梱された写真を読み込む (ダウンロードなし)。

    Args:
        name: ``"astronaut"``, ``"coffee"``, ``"chelsea"``, ``"rocket"``, ``"camera"``。

    Returns:
        ``uint8`` の配列。カラーは ``(H, W, 3)``、``camera`` は ``(H, W)``。

    Raises:
        ValueError: 未知の名前のとき。
    """
    if name not in PHOTOS:
        raise ValueError(f"未知の写真 {name!r}: {PHOTOS} から選んでください")
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def to_float(img: np.ndarray) -> np.ndarray:
    """``uint8`` の画素値 0〜255 を ``float32`` の 0〜1 に直す。"""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    return img.astype(np.float32)


def to_grayscale(img: np.ndarray) -> np.ndarray:
    """RGB 画像を輝度 (グレースケール) にする。

    .. math:: Y = 0.2125 R + 0.7154 G + 0.0721 B

    Shape:
        img: ``(H, W, 3)`` → 戻り値: ``(H, W)``、値は 0〜1 の ``float32``。

    Raises:
        ValueError: 最後の軸が 3 でないとき。
    """
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"(H, W, 3) の RGB 画像が必要です: shape={img.shape}")
    return to_float(img) @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)


def otsu_threshold(gray: np.ndarray, bins: int = 256) -> float:
    """大津の方法で二値化のしきい値を選ぶ (クラス間分散が最大になる値)。

    Args:
        gray: グレースケール画像 (値は任意の実数)。
        bins: ヒストグラムの区間数。

    Returns:
        しきい値。``gray > t`` を前景とする。
    """
    hist, edges = np.histogram(gray.ravel(), bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)  # しきい値以下の画素数
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centers)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2  # クラス間分散 (定数倍は無視)
    return float(centers[int(np.argmax(between[:-1]))])


def to_binary(gray: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """グレースケール画像を 0/1 の二値画像にする。

    Args:
        gray: ``(H, W)`` のグレースケール画像。
        threshold: しきい値。``None`` なら :func:`otsu_threshold` で選ぶ。

    Returns:
        ``(H, W)`` の ``uint8`` 配列 (``gray > threshold`` の画素が 1)。
    """
    t = otsu_threshold(gray) if threshold is None else threshold
    return (gray > t).astype(np.uint8)


def hwc_to_nchw(img: np.ndarray) -> torch.Tensor:
    """``(H, W, C)`` または ``(H, W)`` の画像を ``(1, C, H, W)`` のテンソルにする。

    ``uint8`` なら 0〜1 の ``float32`` に直す。
    """
    x = to_float(img)
    if x.ndim == 2:
        x = x[:, :, None]  # (H, W, 1)
    if x.ndim != 3:
        raise ValueError(
            f"(H, W) か (H, W, C) の画像が必要です: shape={img.shape}"
        )
    x = np.ascontiguousarray(x.transpose(2, 0, 1))  # (C, H, W)
    return torch.from_numpy(x).unsqueeze(0)  # (1, C, H, W)


def nchw_to_hwc(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` テンソルの先頭の 1 枚を ``(H, W, C)`` の配列に戻す。"""
    if x.ndim != 4:
        raise ValueError(
            f"(N, C, H, W) のテンソルが必要です: shape={tuple(x.shape)}"
        )
    return x[0].detach().cpu().numpy().transpose(1, 2, 0)  # (H, W, C)


def normalize(
    x: torch.Tensor,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """チャネルごとに平均を引き標準偏差で割る。

    .. math:: \\hat{x}_{n,c,h,w} = (x_{n,c,h,w} - \\mu_c) / \\sigma_c

    Shape:
        x: ``(N, C, H, W)``、``len(mean) == len(std) == C``。
    """
    if x.ndim != 4 or x.shape[1] != len(mean) or len(mean) != len(std):
        raise ValueError(
            f"(N, {len(mean)}, H, W) のテンソルが必要です: shape={tuple(x.shape)}"
        )
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)  # (1, C, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s
