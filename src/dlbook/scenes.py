"""物体検出の練習用に生成するシーン: 背景の上に円・四角・三角を置いた画像。

正解の箱 (xyxy 形式) とラベルは、図形を置いた位置からそのまま分かる。
``dlbook.detector`` の小さな検出器が学習と評価に使う。
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dlbook.detection import Detection, box_iou

# 生成シーンのクラス名 (ラベル 0, 1, 2 の順)
SHAPE_CLASSES: tuple[str, ...] = ("円", "四角", "三角")


def _shape_mask(
    label: int,
    x0: int,
    y0: int,
    w: int,
    h: int,
    size: int,
) -> np.ndarray:
    """図形 ``label`` を箱 ``(x0, y0, x0 + w, y0 + h)`` に内接させたマスク。"""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # 画素の中心 (H, W)
    u = (xx - x0) / w  # 箱の中で 0..1
    v = (yy - y0) / h
    if label == 0:  # 円 (楕円): 中心からの正規化距離が 0.5 以内
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    if label == 1:  # 四角
        return inside
    # 三角: 頂点が上、底辺が下。深さ v での半幅は v / 2
    return inside & (np.abs(u - 0.5) <= v / 2)


def make_scenes(
    n: int,
    size: int = 64,
    max_objects: int = 3,
    *,
    seed: int,
    noise: float = 0.08,
) -> tuple[Tensor, list[Detection]]:
    """図形 (円・四角・三角) を置いた検出用の画像と正解の箱を生成する。

    各画像は一様な色の背景にガウス雑音を加えたもので、1〜``max_objects`` 個の
    図形が重ならないように置かれる。図形の一辺は ``size`` の 1/5〜3/8。
    色は背景より明るい乱数の色で、クラスは形だけで決まる。

    Args:
        n: 画像の枚数。
        size: 画像の一辺 (ピクセル)。
        max_objects: 1 枚あたりの図形の最大数。
        seed: 乱数のシード。
        noise: 雑音の標準偏差。

    Returns:
        ``(images, targets)``。``targets[i]`` は ``{"boxes", "labels"}`` で、
        ラベルは :data:`SHAPE_CLASSES` の添字。

    Shape:
        - images (Tensor[N, 3, H, W], float32): 画素値は 0〜1。
        - targets[i]["boxes"] (Tensor[G_i, 4])
        - targets[i]["labels"] (Tensor[G_i], int64)
    """
    if max_objects < 1:
        raise ValueError("max_objects は 1 以上が必要です")
    rng = np.random.default_rng(seed)
    min_side, max_side = size // 5, size * 3 // 8
    images = np.empty((n, 3, size, size), dtype=np.float32)
    targets: list[Detection] = []
    for i in range(n):
        image = np.ones((3, size, size)) * rng.uniform(0.0, 0.45, (3, 1, 1))
        boxes: list[list[float]] = []
        labels: list[int] = []
        n_objects = int(rng.integers(1, max_objects + 1))
        for _ in range(50 * n_objects):  # 重ならない位置が見つかるまで試す
            if len(boxes) == n_objects:
                break
            w = int(rng.integers(min_side, max_side + 1))
            h = int(np.clip(w * rng.uniform(0.8, 1.25), min_side, max_side))
            x0 = int(rng.integers(0, size - w + 1))
            y0 = int(rng.integers(0, size - h + 1))
            box = torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float32)
            if boxes and box_iou(box, torch.tensor(boxes)).max() > 0:
                continue
            label = int(rng.integers(len(SHAPE_CLASSES)))
            mask = _shape_mask(label, x0, y0, w, h, size)  # (H, W)
            color = rng.uniform(0.5, 1.0, (3, 1))
            image[:, mask] = color
            boxes.append(box[0].tolist())
            labels.append(label)
        image += rng.normal(0.0, noise, image.shape)
        images[i] = np.clip(image, 0.0, 1.0)
        box_tensor = torch.tensor(boxes, dtype=torch.float32)
        targets.append(
            {
                "boxes": box_tensor.reshape(-1, 4),  # 空でも (0, 4)
                "labels": torch.tensor(labels, dtype=torch.int64),
            }
        )
    return torch.from_numpy(images), targets
