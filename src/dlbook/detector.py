"""小さな 1 段階の検出器 (YOLO 風): 学習、推論、作図。

第6章の ``quick`` プロファイルで使う。:func:`dlbook.scenes.make_scenes` で
生成した図形の
シーンで :class:`TinyDetector` をその場で学習し、:mod:`dlbook.detection`
の mAP で評価する。箱は xyxy 形式、予測と正解は
:mod:`dlbook.detection` と同じ辞書の並び (:data:`~dlbook.detection.Detection`)。
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import matplotlib_fontja  # noqa: F401 (日本語フォントを登録する)
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor, nn

from dlbook.detection import (
    Detection,
    average_precision_per_class,
    batched_nms,
    mean_average_precision,
)
from dlbook.scenes import SHAPE_CLASSES, make_scenes

__all__ = [
    "SHAPE_CLASSES",
    "TinyDetector",
    "decode",
    "detection_loss",
    "draw_detections",
    "encode_targets",
    "make_scenes",
    "predict",
    "quick_detector_experiment",
    "train_detector",
]


# ------------------------------------------------------ 小さな検出器 (YOLO 風)
def _conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 畳み込み → バッチ正規化 → ReLU。"""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyDetector(nn.Module):
    """格子ごとに 1 つの箱を予測する 1 段階 (one-stage) の小さな検出器。

    YOLO (v1) と同じく、画像を ``stride`` ピクセルの格子に分け、箱の中心が
    入るセル (cell) がその物体を担当する。各セルは次の ``5 + C`` 個を出力する:

    - 物体らしさ (objectness) のロジット 1 個
    - セル内の中心の位置 :math:`(t_x, t_y)` (シグモイドで 0〜1) 2 個
    - 画像の一辺に対する幅と高さ :math:`(t_w, t_h)` (シグモイドで 0〜1) 2 個
    - クラスのロジット ``C`` 個

    Shape:
        - 入力 (Tensor[N, 3, H, W]): 正方形 (``H == W``) で、``stride`` (8)
          の倍数。箱の符号化 (:func:`encode_targets`) が S×S の格子を仮定する。
        - 出力 (Tensor[N, 5 + C, H / 8, W / 8])
    """

    stride = 8

    def __init__(self, num_classes: int = len(SHAPE_CLASSES), width: int = 16):
        super().__init__()
        self.num_classes = num_classes
        # 歩幅 (stride) 2 の畳み込み 3 回で 1/8 に縮める (プーリングより安い)
        self.backbone = nn.Sequential(
            _conv_block(3, width, stride=2),  # (N, w, H/2, W/2)
            _conv_block(width, 2 * width, stride=2),  # (N, 2w, H/4, W/4)
            _conv_block(2 * width, 4 * width, stride=2),  # (N, 4w, H/8, W/8)
            _conv_block(4 * width, 4 * width),  # (N, 4w, H/8, W/8)
        )
        self.head = nn.Conv2d(4 * width, 5 + num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))  # (N, 5 + C, S, S)


def encode_targets(
    targets: Sequence[Detection], grid_size: int, image_size: int
) -> tuple[Tensor, Tensor, Tensor]:
    """正解の箱を格子の教師信号に変換する (箱の中心が入るセルが担当)。

    同じセルに中心が 2 つ入ったときは後の箱が残る (``size=64`` の
    :func:`make_scenes` では、図形が重ならず一辺が 12 以上なので起きない)。

    Returns:
        ``(objectness, boxes, labels)``。``boxes`` は
        :math:`(t_x, t_y, t_w, t_h)`、``labels`` は物体のないセルで -1。

    Shape:
        - objectness (Tensor[N, S, S]), boxes (Tensor[N, 4, S, S]),
          labels (Tensor[N, S, S], int64)
    """
    N, S = len(targets), grid_size
    stride = image_size / S
    objectness = torch.zeros(N, S, S)
    boxes = torch.zeros(N, 4, S, S)
    labels = torch.full((N, S, S), -1, dtype=torch.int64)
    for n, target in enumerate(targets):
        for box, label in zip(target["boxes"], target["labels"], strict=True):
            cx, cy = (
                (box[0] + box[2]) / 2 / stride,
                (box[1] + box[3]) / 2 / stride,
            )
            j, i = min(int(cx), S - 1), min(int(cy), S - 1)  # 列, 行
            objectness[n, i, j] = 1.0
            boxes[n, :, i, j] = torch.stack(
                [
                    cx - j,
                    cy - i,
                    (box[2] - box[0]) / image_size,
                    (box[3] - box[1]) / image_size,
                ]
            )
            labels[n, i, j] = label
    return objectness, boxes, labels


def detection_loss(
    out: Tensor, targets: Sequence[Detection], image_size: int
) -> Tensor:
    r"""YOLO 風の損失: 物体らしさ + 箱の回帰 + クラス分類。

    .. math::
        L = \mathrm{BCE}(\text{obj}) + 5 \, L_1(\text{box})
            + \mathrm{CE}(\text{cls})

    物体らしさはすべてのセルで、箱とクラスは物体を担当するセルだけで計算する。

    Shape:
        - out (Tensor[N, 5 + C, S, S]): :class:`TinyDetector` の出力。
    """
    S = out.shape[2]
    obj_t, box_t, label_t = (
        t.to(out.device) for t in encode_targets(targets, S, image_size)
    )
    positive = label_t >= 0  # (N, S, S)
    obj_loss = F.binary_cross_entropy_with_logits(out[:, 0], obj_t)
    if not positive.any():
        return obj_loss
    box_pred = torch.sigmoid(out[:, 1:5]).permute(0, 2, 3, 1)  # (N, S, S, 4)
    box_pred = box_pred[positive]  # (P, 4)
    box_loss = F.l1_loss(box_pred, box_t.permute(0, 2, 3, 1)[positive])
    cls_logits = out[:, 5:].permute(0, 2, 3, 1)[positive]  # (P, C)
    cls_loss = F.cross_entropy(cls_logits, label_t[positive])
    return obj_loss + 5.0 * box_loss + cls_loss


@torch.no_grad()
def decode(
    out: Tensor,
    image_size: int,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> list[Detection]:
    r"""検出器の出力を箱・スコア・ラベルに直し、クラスごとに NMS をかける。

    スコアは
    :math:`\sigma(\text{obj}) \cdot \max_c \mathrm{softmax}(\text{cls})_c`。
    セル :math:`(i, j)` の箱の中心は :math:`((j + t_x) s, (i + t_y) s)`
    (:math:`s` は stride)、幅と高さは :math:`(t_w, t_h)` に画像の一辺を
    掛けたもの。

    Shape:
        - out (Tensor[N, 5 + C, S, S])
        - 戻り値: 長さ N のリスト。各要素は ``{"boxes" (Tensor[K, 4]),
          "scores" (Tensor[K]), "labels" (Tensor[K])}``。
    """
    N, _, S, _ = out.shape
    stride = image_size / S
    obj = torch.sigmoid(out[:, 0])  # (N, S, S)
    t = torch.sigmoid(out[:, 1:5])  # (N, 4, S, S)
    cls_prob, labels = F.softmax(out[:, 5:], dim=1).max(dim=1)  # (N, S, S)
    scores = obj * cls_prob
    rows, cols = torch.meshgrid(
        torch.arange(S, device=out.device),
        torch.arange(S, device=out.device),
        indexing="ij",
    )
    cx = (cols + t[:, 0]) * stride  # (N, S, S)
    cy = (rows + t[:, 1]) * stride
    w, h = t[:, 2] * image_size, t[:, 3] * image_size
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    boxes = torch.stack([x1, y1, x2, y2], dim=-1)
    boxes = boxes.clamp(0, image_size)  # (N, S, S, 4)
    results: list[Detection] = []
    for n in range(N):
        keep = scores[n] > score_threshold  # (S, S)
        b, s, c = boxes[n][keep], scores[n][keep], labels[n][keep]
        kept = batched_nms(b, s, c, iou_threshold)[:max_detections]
        results.append(
            {"boxes": b[kept], "scores": s[kept], "labels": c[kept]},
        )
    return results


def _check_square(H: int, W: int) -> None:
    """:class:`TinyDetector` の画像は正方形で 8 の倍数でなければ ValueError。"""
    if H != W or H % TinyDetector.stride:
        raise ValueError(
            "画像は正方形で一辺が 8 の倍数でなければならない "
            f"(images must be square with a side divisible by 8): {H}×{W}"
        )


def train_detector(
    model: TinyDetector,
    images: Tensor,
    targets: Sequence[Detection],
    *,
    epochs: int = 15,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: torch.device | None = None,
) -> list[float]:
    """:class:`TinyDetector` を Adam で学習する (``model`` をその場で更新)。

    Args:
        model: 学習する検出器。
        images: 学習画像 (Tensor[N, 3, H, W])。
        targets: 画像ごとの正解 ``{"boxes", "labels"}``。
        epochs: エポック数。
        batch_size: ミニバッチの大きさ。
        lr: 学習率 (コサインで 0 まで下げる)。
        seed: ミニバッチの並びを決めるシード。
        device: 計算するデバイス (既定は CPU)。

    Returns:
        エポックごとの平均損失。
    """
    device = device or torch.device("cpu")
    model.to(device).train()
    N, _, H, W = images.shape
    _check_square(H, W)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((N + batch_size - 1) // batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    history: list[float] = []
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(N, generator=generator).split(batch_size):
            out = model(images[idx].to(device))
            loss = detection_loss(out, [targets[i] for i in idx], H)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        history.append(total / N)
    return history


@torch.no_grad()
def predict(
    model: TinyDetector,
    images: Tensor,
    *,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    batch_size: int = 256,
    device: torch.device | None = None,
) -> list[Detection]:
    """学習した検出器で画像の物体を検出する (:func:`decode` と NMS まで)。

    Shape:
        - images (Tensor[N, 3, H, W])
        - 戻り値: 長さ N の予測 ``{"boxes", "scores", "labels"}`` (CPU 上)。
    """
    device = device or torch.device("cpu")
    model.to(device).eval()
    H, W = images.shape[2:]
    _check_square(H, W)
    results: list[Detection] = []
    for batch in images.split(batch_size):
        out = model(batch.to(device))
        for d in decode(out, H, score_threshold, iou_threshold):
            results.append({k: v.cpu() for k, v in d.items()})
    return results


def quick_detector_experiment(
    n_train: int = 1500,
    n_test: int = 300,
    epochs: int = 8,
    *,
    seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, object]:
    """``quick`` の実験: 生成シーンで検出器を学習し mAP@0.5 を測る。

    学習用と評価用のシーンは別のシードで生成する (評価は未見の画像)。

    Returns:
        ``model`` (学習済み :class:`TinyDetector`)、``history`` (エポックごとの
        損失)、``map50`` (評価画像の mAP@0.5)、``ap50_per_class``
        (クラス名 → AP@0.5)、``map75`` (mAP@0.75)、``seconds`` (学習時間)、
        ``test_images``、``test_targets``、``test_preds`` を持つ辞書。
    """
    train_images, train_targets = make_scenes(n_train, seed=seed)
    test_images, test_targets = make_scenes(n_test, seed=seed + 1)
    torch.manual_seed(seed)
    model = TinyDetector()
    start = time.perf_counter()
    history = train_detector(
        model,
        train_images,
        train_targets,
        epochs=epochs,
        seed=seed,
        device=device,
    )
    seconds = time.perf_counter() - start
    preds = predict(model, test_images, device=device)
    per_class = average_precision_per_class(preds, test_targets, 0.5)
    ap50 = {SHAPE_CLASSES[c]: ap for c, ap in per_class.items()}
    return {
        "model": model,
        "history": history,
        "map50": float(np.mean(list(per_class.values()))),
        "ap50_per_class": ap50,
        "map75": mean_average_precision(preds, test_targets, 0.75),
        "seconds": seconds,
        "test_images": test_images,
        "test_targets": test_targets,
        "test_preds": preds,
    }


# ---------------------------------------------------------------------- 作図
def draw_detections(
    image: Tensor | np.ndarray,
    boxes: Tensor,
    labels: Tensor,
    scores: Tensor | None = None,
    class_names: Sequence[str] = SHAPE_CLASSES,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """画像に検出結果の箱とクラス名 (日本語) とスコアを重ねて描く。

    Args:
        image: 画素値 0〜1 の画像。``(3, H, W)`` でも ``(H, W, 3)`` でもよい。
        boxes: xyxy 形式の箱 (Tensor[K, 4])。
        labels: クラス番号 (Tensor[K])。
        scores: スコア (Tensor[K])。``None`` なら (正解の表示など)
            名前だけ書く。
        class_names: クラス番号 → 名前。
        ax: 描き込む Axes (格子に並べるとき用)。``None`` なら新しい
            Figure を作る。
        title: Axes の題。

    Returns:
        描いた Figure。
    """
    if ax is None:
        fig = Figure(figsize=(3.2, 3.2), layout="constrained")
        ax = fig.add_subplot()
    if isinstance(image, Tensor):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 3:
        array = array.transpose(1, 2, 0)  # (H, W, 3)
    H, W = array.shape[:2]
    # 画素 (i, j) が [j, j+1] x [i, i+1] を占めるように置く (箱の座標と同じ)
    ax.imshow(np.clip(array, 0, 1), extent=(0, W, H, 0))
    colors = ("tab:red", "tab:cyan", "tab:orange", "tab:green", "tab:purple")
    pairs = zip(boxes.tolist(), labels.tolist(), strict=True)
    for k, (box, label) in enumerate(pairs):
        x1, y1, x2, y2 = box
        color = colors[int(label) % len(colors)]
        ax.add_patch(
            Rectangle(
                (x1, y1),
                x2 - x1,
                y2 - y1,
                fill=False,
                edgecolor=color,
                linewidth=1.5,
            )
        )
        text = class_names[int(label)]
        if scores is not None:
            text += f" {float(scores[k]):.2f}"
        ax.text(
            x1,
            y1,
            text,
            color="black",
            fontsize=8,
            va="bottom",
            bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "linewidth": 0},
        )
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.get_figure()  # type: ignore[return-value]
