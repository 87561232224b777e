"""CIFAR-10 の代わりに使う、生成したカラー画像 10 クラス (shapes10)。

ネットワークのいらない代用データ。クラス 0〜5 は図形、6〜9 は模様で、
位置・大きさ・回転・色・背景は画像ごとにランダムに決める。色はクラスと
無関係なので、形を見ないと当たらない。``dlbook.data.load_cifar10`` が
``source="embedded"`` のときに使う。
"""

from __future__ import annotations

import numpy as np
import torch

SHAPES10_CLASSES: tuple[str, ...] = (
    "円", "リング", "正方形", "三角形", "十字",
    "バツ印", "横縞", "縦縞", "市松模様", "水玉",
)  # fmt: skip


def _sd_shape(
    label: int,
    u: np.ndarray,
    v: np.ndarray,
    R: np.ndarray,
) -> np.ndarray:
    """図形 ``label`` の符号付き距離 (内側が負)。

    Shape:
        - u, v: :math:`(n, H, W)` 図形の中心を原点とし回転させた座標
        - R: :math:`(n, 1, 1)` 図形の大きさ
    """
    r = np.sqrt(u**2 + v**2)
    w = 0.28 * R  # 線の太さ
    if label == 0:  # 円
        return r - R
    if label == 1:  # リング
        return np.abs(r - 0.8 * R) - 0.5 * w
    if label == 2:  # 正方形
        return np.maximum(np.abs(u), np.abs(v)) - 0.8 * R
    if label == 3:  # 三角形 (正三角形、3 つの半平面の共通部分)
        angles = np.pi / 2 + 2 * np.pi / 3 * np.arange(3)
        d = [u * np.cos(a) + v * np.sin(a) - 0.55 * R for a in angles]
        return np.maximum(np.maximum(d[0], d[1]), d[2])
    if label in (4, 5):  # 十字とバツ印 (45 度回したもの)
        if label == 5:
            u, v = (u - v) / np.sqrt(2), (u + v) / np.sqrt(2)
        bar1 = np.maximum(np.abs(u) - 0.5 * w, np.abs(v) - R)
        bar2 = np.maximum(np.abs(v) - 0.5 * w, np.abs(u) - R)
        return np.minimum(bar1, bar2)
    raise ValueError(f"図形のラベルは 0〜5 です: {label}")


def _texture(
    label: int, u: np.ndarray, v: np.ndarray, period: np.ndarray
) -> np.ndarray:
    """模様 ``label`` (6〜9) の濃さ [-1, 1] (正が前景)。

    Shape:
        - u, v: :math:`(n, H, W)`、period: :math:`(n, 1, 1)`
    """
    k = 2 * np.pi / period
    if label == 6:  # 横縞
        return np.sin(k * v)
    if label == 7:  # 縦縞
        return np.sin(k * u)
    if label == 8:  # 市松模様
        return np.sin(k * u) * np.sin(k * v) * 2.0
    if label == 9:  # 水玉
        return (np.cos(k * u) * np.cos(k * v) - 0.35) * 2.0
    raise ValueError(f"模様のラベルは 6〜9 です: {label}")


def make_shapes10(
    n: int, seed: int, size: int = 32, noise: float = 0.10
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 の代わりに使う、生成したカラー画像 10 クラス。

    クラス 0〜5 は図形 (円・リング・正方形・三角形・十字・バツ印)、
    6〜9 は正方形の領域に描いた模様 (横縞・縦縞・市松模様・水玉)。
    位置・大きさ・回転 (±20°)・前景と背景の色・背景の濃淡は画像ごとに
    ランダムで、色はクラスと無関係である (形を見ないと当たらない)。
    さらにガウス雑音と小さな斑点 (邪魔もの) を加える。

    Args:
        n: 枚数 (クラスごとにほぼ同数)。
        seed: 乱数シード (同じ値なら同じテンソル)。
        size: 画像の一辺。
        noise: ガウス雑音の標準偏差 (大きいほど難しい)。

    Returns:
        ``(X, y)``。並びはシャッフル済み。

    Shape:
        - X: :math:`(n, 3, size, size)` float32、値は [0, 1]
        - y: :math:`(n,)` int64
    """
    if n <= 0:
        raise ValueError(f"枚数 n は正の整数です: {n}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 10)  # (n,)
    X = np.empty((n, 3, size, size), dtype=np.float32)
    axis = (np.arange(size) + 0.5) / size * 2 - 1  # 画素の中心, [-1, 1]
    yy, xx = np.meshgrid(axis, axis, indexing="ij")  # (H, W)
    pixel = 2.0 / size  # 1 画素の幅 (座標の単位で)
    for label in range(10):
        idx = np.flatnonzero(y == label)
        m = len(idx)
        if m == 0:
            continue

        def col(lo: float, hi: float, k: int = m) -> np.ndarray:
            return rng.uniform(lo, hi, size=(k, 1, 1))

        cx, cy = col(-0.3, 0.3), col(-0.3, 0.3)
        R = col(0.35, 0.7)
        theta = col(-np.pi / 9, np.pi / 9)
        dx, dy = xx - cx, yy - cy  # (m, H, W)
        u = np.cos(theta) * dx + np.sin(theta) * dy
        v = -np.sin(theta) * dx + np.cos(theta) * dy
        if label < 6:
            sd = _sd_shape(label, u, v, R)  # (m, H, W)
        else:
            region = np.maximum(np.abs(u), np.abs(v)) - 0.9 * R
            pattern = _texture(label, u, v, col(0.22, 0.4))
            sd = np.maximum(region, -pattern * pixel)
        # 符号付き距離 → 0〜1 の被覆率 (境界を 1 画素ほどぼかす)
        mask = 1.0 / (1.0 + np.exp(np.clip(sd / (0.5 * pixel), -30, 30)))
        bg = rng.uniform(0.0, 1.0, size=(m, 3, 1, 1))
        fg = rng.uniform(0.0, 1.0, size=(m, 3, 1, 1))
        # 前景と背景が近すぎるときは前景を反対側へ押しやる
        diff = fg - bg
        close = np.abs(diff).max(axis=1, keepdims=True) < 0.35
        pushed = np.clip(bg + np.sign(diff + 1e-6) * 0.45, 0, 1)
        fg = np.where(close, pushed, fg)
        # 背景の濃淡 (ランダムな向きの傾き)
        phi = rng.uniform(0, 2 * np.pi, size=(m, 1, 1))
        ramp = 0.15 * (np.cos(phi) * xx + np.sin(phi) * yy)  # (m, H, W)
        img = bg + ramp[:, None] + (fg - bg) * mask[:, None]  # (m, 3, H, W)
        # 邪魔ものの斑点 (クラスと無関係な小さな円) を 0〜2 個
        for _ in range(2):
            present = rng.random((m, 1, 1, 1)) < 0.5
            bx, by = col(-1, 1), col(-1, 1)
            br = col(0.08, 0.18)
            blob = ((xx - bx) ** 2 + (yy - by) ** 2 < br**2)[:, None]
            color = rng.uniform(0, 1, size=(m, 3, 1, 1))
            img = np.where(present & blob, color, img)
        img = img + noise * rng.standard_normal(img.shape)
        X[idx] = np.clip(img, 0.0, 1.0)
    return torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
