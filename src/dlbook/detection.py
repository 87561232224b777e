"""物体検出 (object detection): IoU、NMS、AP/mAP、生成シーン、小さな検出器。

第6章で使う。箱 (bounding box) はすべて ``(x1, y1, x2, y2)`` 形式
(xyxy、左上と右下の角、ピクセル単位、``x1 <= x2``, ``y1 <= y2``) で表す。
予測と正解は torchvision と同じ辞書の並びで渡す:

- 予測 ``{"boxes": Tensor[K, 4], "scores": Tensor[K], "labels": Tensor[K]}``
- 正解 ``{"boxes": Tensor[G, 4], "labels": Tensor[G]}``

``quick`` プロファイルでは :func:`make_scenes` で生成した図形のシーンで
:class:`TinyDetector` をその場で学習する。``full`` プロファイルでは
COCO で学習済みの Faster R-CNN (:func:`load_faster_rcnn`) を使う。
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import matplotlib_fontja  # noqa: F401 (日本語フォントを登録する)
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor, nn

Detection = dict[str, Tensor]

# 生成シーンのクラス名 (ラベル 0, 1, 2 の順)
SHAPE_CLASSES: tuple[str, ...] = ("円", "四角", "三角")


# ---------------------------------------------------------------- IoU と NMS
def box_area(boxes: Tensor) -> Tensor:
    """箱の面積 :math:`(x_2 - x_1)(y_2 - y_1)`。

    Shape:
        - boxes (Tensor[N, 4]): xyxy 形式の箱。
        - 戻り値 (Tensor[N])
    """
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    r"""2 組の箱のすべての対の IoU (Intersection over Union)。

    .. math::
        \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|}
        = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}

    共通部分は左上の角の最大と右下の角の最小から求め、重ならなければ 0 とする。

    Args:
        boxes1: xyxy 形式の箱。
        boxes2: xyxy 形式の箱。

    Returns:
        ``iou[i, j]`` が ``boxes1[i]`` と ``boxes2[j]`` の IoU である行列。

    Shape:
        - boxes1 (Tensor[N, 4]), boxes2 (Tensor[M, 4])
        - 戻り値 (Tensor[N, M])

    Raises:
        ValueError: 形が ``(*, 4)`` でないとき、または
            ``x2 < x1`` か ``y2 < y1`` の箱があるとき。
    """
    for b in (boxes1, boxes2):
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"箱の形は (N, 4) が必要です: {tuple(b.shape)}")
        if (b[:, 2:] < b[:, :2]).any():
            raise ValueError("箱は x1 <= x2, y1 <= y2 の xyxy 形式が必要です")
    area1 = box_area(boxes1)  # (N,)
    area2 = box_area(boxes2)  # (M,)
    # 共通部分の左上と右下の角
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)  # 重ならなければ 0
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    union = area1[:, None] + area2[None, :] - inter  # (N, M)
    return inter / union


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    r"""非最大値抑制 (non-maximum suppression, NMS) を貪欲法で行う。

    スコアの高い順に箱を 1 つ採用し、それとの IoU が ``iou_threshold`` を
    超える残りの箱を捨てる。これを箱がなくなるまで繰り返す。

    Args:
        boxes: xyxy 形式の箱。
        scores: 各箱のスコア。
        iou_threshold: これより IoU が大きい箱を重複とみなして捨てる。

    Returns:
        残した箱の添字 (スコアの高い順)。

    Shape:
        - boxes (Tensor[N, 4]), scores (Tensor[N])
        - 戻り値 (Tensor[K], int64)、:math:`K \le N`
    """
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError("boxes と scores の個数が違います")
    order = torch.argsort(scores, descending=True)
    keep: list[int] = []
    while order.numel() > 0:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        iou = box_iou(boxes[best].unsqueeze(0), boxes[rest])[0]  # (len(rest),)
        order = rest[iou <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float
) -> Tensor:
    """クラスごとに :func:`nms` を行う (違うクラスの箱は互いに抑制しない)。

    Shape:
        - boxes (Tensor[N, 4]), scores (Tensor[N]), labels (Tensor[N])
        - 戻り値 (Tensor[K], int64): 残した添字、スコアの高い順。
    """
    keep: list[Tensor] = []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()  # このクラスの箱の添字
        keep.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    if not keep:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    kept = torch.cat(keep)
    return kept[torch.argsort(scores[kept], descending=True)]


# ----------------------------------------------------------------- AP と mAP
def match_detections(
    pred_boxes: Tensor,
    pred_scores: Tensor,
    gt_boxes: Tensor,
    iou_threshold: float = 0.5,
) -> Tensor:
    """1 枚の画像・1 クラスの予測を正解に対応付け、各予測が TP かを返す。

    スコアの高い予測から順に、まだ使われていない正解のうち IoU が最大のものに
    対応付ける (IoU >= ``iou_threshold`` のときだけ)。1 つの正解に対応できる
    予測は 1 つだけで、2 つ目以降の重複は偽陽性 (FP) になる (COCO と同じ規則)。

    Shape:
        - pred_boxes (Tensor[K, 4]), pred_scores (Tensor[K])
        - gt_boxes (Tensor[G, 4])
        - 戻り値 (Tensor[K], bool): 元の並びで、真陽性 (TP) なら ``True``。
    """
    is_tp = torch.zeros(len(pred_boxes), dtype=torch.bool)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return is_tp
    iou = box_iou(pred_boxes, gt_boxes)  # (K, G)
    gt_used = torch.zeros(len(gt_boxes), dtype=torch.bool)
    for k in torch.argsort(pred_scores, descending=True, stable=True).tolist():
        candidates = iou[k].masked_fill(gt_used, -1.0)  # 使用済みの正解は除く
        best_iou, g = candidates.max(dim=0)
        if best_iou >= iou_threshold:
            is_tp[k] = True
            gt_used[g] = True
    return is_tp


def precision_recall(
    scores: np.ndarray, is_tp: np.ndarray, n_gt: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""スコアの閾値を下げていったときの適合率と再現率の列。

    上位 :math:`k` 個の予測のうち TP の数を :math:`\mathrm{TP}_k` として

    .. math::
        P_k = \frac{\mathrm{TP}_k}{k}, \qquad R_k = \frac{\mathrm{TP}_k}{G}

    (:math:`G` は正解の箱の数)。

    Shape:
        - scores (ndarray[K]), is_tp (ndarray[K], bool)
        - 戻り値 (precision (ndarray[K]), recall (ndarray[K])):
          スコアの高い順。
    """
    order = np.argsort(-np.asarray(scores), kind="mergesort")  # 同点は元の順
    tp_cum = np.cumsum(np.asarray(is_tp, dtype=bool)[order])  # (K,)
    precision = tp_cum / np.arange(1, len(order) + 1)
    recall = tp_cum / max(n_gt, 1)
    return precision, recall


def average_precision(
    scores: np.ndarray,
    is_tp: np.ndarray,
    n_gt: int,
) -> float:
    r"""1 クラスの平均適合率 (average precision, AP)。COCO 式の 101 点補間。

    適合率を右から累積最大で単調にした補間適合率
    :math:`p_{\mathrm{interp}}(r) = \max_{\tilde r \ge r} p(\tilde r)` を、
    再現率 :math:`r \in \{0, 0.01, \dots, 1\}` の 101 点で平均する。

    .. math::
        \mathrm{AP} = \frac{1}{101} \sum_{r \in \{0, 0.01, \dots, 1\}}
        p_{\mathrm{interp}}(r)

    到達できない再現率では 0 とする。pycocotools (COCO) と同じ定義で、
    閾値 IoU 0.5 のときの ``mAP@0.5`` は COCO の ``AP50`` と一致する。
    (PASCAL VOC 2010 以降の「全点補間」は PR 曲線の下の面積そのもので、
    値はわずかに違う。)

    Args:
        scores: 予測のスコア (全画像分)。
        is_tp: 各予測が TP か (:func:`match_detections` の結果)。
        n_gt: 正解の箱の総数。

    Returns:
        AP (0 以上 1 以下)。正解がないときは ``nan``。

    Shape:
        - scores (ndarray[K]), is_tp (ndarray[K], bool)
    """
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    precision, recall = precision_recall(scores, is_tp, n_gt)
    # 補間: 右側 (再現率の大きい側) の最大値で置き換え、単調非増加にする
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    recall_points = np.linspace(0.0, 1.0, 101)
    idx = np.searchsorted(recall, recall_points, side="left")  # r 以上の最初
    reached = idx < len(recall)
    interp = np.zeros_like(recall_points)
    interp[reached] = precision[idx[reached]]
    return float(interp.mean())


def average_precision_per_class(
    preds: Sequence[Detection],
    targets: Sequence[Detection],
    iou_threshold: float = 0.5,
) -> dict[int, float]:
    """クラスごとの AP (正解に現れるクラスだけ)。

    予測と正解を画像ごと・クラスごとに :func:`match_detections` で
    対応付けてから、全画像の予測をまとめて :func:`average_precision` を求める。

    Args:
        preds: 画像ごとの予測 ``{"boxes", "scores", "labels"}``。
        targets: 画像ごとの正解 ``{"boxes", "labels"}``。
        iou_threshold: TP とみなす IoU の下限。

    Returns:
        クラス番号 → AP。
    """
    if len(preds) != len(targets):
        raise ValueError("preds と targets の画像数が違います")
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    result: dict[int, float] = {}
    for c in classes:
        scores: list[np.ndarray] = []
        is_tp: list[np.ndarray] = []
        n_gt = 0
        for pred, target in zip(preds, targets, strict=True):
            p = pred["labels"] == c
            g = target["labels"] == c
            n_gt += int(g.sum())
            tp = match_detections(
                pred["boxes"][p].cpu(),
                pred["scores"][p].cpu(),
                target["boxes"][g].cpu(),
                iou_threshold,
            )
            scores.append(pred["scores"][p].detach().cpu().numpy())
            is_tp.append(tp.numpy())
        result[c] = average_precision(
            np.concatenate(scores), np.concatenate(is_tp), n_gt
        )
    return result


def mean_average_precision(
    preds: Sequence[Detection],
    targets: Sequence[Detection],
    iou_threshold: float = 0.5,
) -> float:
    r"""平均適合率の平均 (mean average precision, mAP)。

    .. math::
        \mathrm{mAP} = \frac{1}{|C|} \sum_{c \in C} \mathrm{AP}_c

    :math:`C` は正解に現れるクラスの集合。AP は :func:`average_precision`
    (COCO 式 101 点補間)。``iou_threshold=0.5`` なら COCO の ``AP50``
    に当たる。

    Returns:
        mAP。正解の箱が 1 つもなければ ``nan``。
    """
    per_class = average_precision_per_class(preds, targets, iou_threshold)
    if not per_class:
        return float("nan")
    return float(np.mean(list(per_class.values())))


# ------------------------------------------------------------- 生成シーン
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
        - 入力 (Tensor[N, 3, H, W]): ``H``, ``W`` は ``stride`` (8) の倍数。
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
    N, _, H, _ = images.shape
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
    H = images.shape[2]
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


# ------------------------------------------------ full: 学習済み Faster R-CNN
# COCO の 80 カテゴリの日本語名 (torchvision の英語名 → 日本語)
# fmt: off
COCO_NAMES_JA: Mapping[str, str] = MappingProxyType({
    "person": "人", "bicycle": "自転車", "car": "自動車",
    "motorcycle": "オートバイ",
    "airplane": "飛行機", "bus": "バス", "train": "列車", "truck": "トラック",
    "boat": "船", "traffic light": "信号機", "fire hydrant": "消火栓",
    "stop sign": "一時停止標識", "parking meter": "パーキングメーター",
    "bench": "ベンチ", "bird": "鳥", "cat": "猫", "dog": "犬", "horse": "馬",
    "sheep": "羊", "cow": "牛", "elephant": "象", "bear": "熊",
    "zebra": "シマウマ", "giraffe": "キリン", "backpack": "リュック",
    "umbrella": "傘", "handbag": "ハンドバッグ", "tie": "ネクタイ",
    "suitcase": "スーツケース", "frisbee": "フリスビー", "skis": "スキー板",
    "snowboard": "スノーボード", "sports ball": "ボール", "kite": "凧",
    "baseball bat": "野球のバット", "baseball glove": "野球のグローブ",
    "skateboard": "スケートボード", "surfboard": "サーフボード",
    "tennis racket": "テニスラケット", "bottle": "瓶",
    "wine glass": "ワイングラス",
    "cup": "カップ", "fork": "フォーク", "knife": "ナイフ",
    "spoon": "スプーン",
    "bowl": "ボウル", "banana": "バナナ", "apple": "りんご",
    "sandwich": "サンドイッチ", "orange": "オレンジ",
    "broccoli": "ブロッコリー",
    "carrot": "にんじん", "hot dog": "ホットドッグ", "pizza": "ピザ",
    "donut": "ドーナツ", "cake": "ケーキ", "chair": "椅子", "couch": "ソファ",
    "potted plant": "鉢植え", "bed": "ベッド", "dining table": "食卓",
    "toilet": "トイレ", "tv": "テレビ", "laptop": "ノートパソコン",
    "mouse": "マウス", "remote": "リモコン", "keyboard": "キーボード",
    "cell phone": "携帯電話", "microwave": "電子レンジ", "oven": "オーブン",
    "toaster": "トースター", "sink": "流し台", "refrigerator": "冷蔵庫",
    "book": "本", "clock": "時計", "vase": "花瓶", "scissors": "はさみ",
    "teddy bear": "テディベア", "hair drier": "ヘアドライヤー",
    "toothbrush": "歯ブラシ",
})
# fmt: on


def coco_class_names_ja() -> tuple[str, ...]:
    """Faster R-CNN のラベル番号 (0〜90) → 日本語名。

    torchvision の COCO のカテゴリ表 (背景 ``__background__`` と欠番 ``N/A``
    を含む 91 個) を :data:`COCO_NAMES_JA` で日本語にしたもの。重みは要らない。
    """
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    categories = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    return tuple(COCO_NAMES_JA.get(name, name) for name in categories)


def load_faster_rcnn(
    *, pretrained: bool = True, device: torch.device | None = None
) -> nn.Module:
    """torchvision の Faster R-CNN (ResNet-50 + FPN) を評価モードで作る。

    ``pretrained=True`` (``full`` プロファイル) では COCO で学習済みの重み
    ``FasterRCNN_ResNet50_FPN_Weights.DEFAULT`` を読み込む
    (初回はダウンロード)。
    ``pretrained=False`` ではバックボーンも含め乱数の重みで作る (テスト用)。
    """
    from torchvision.models.detection import (
        FasterRCNN_ResNet50_FPN_Weights,
        fasterrcnn_resnet50_fpn,
    )

    if pretrained:
        weights = FasterRCNN_ResNet50_FPN_Weights.DEFAULT
        model = fasterrcnn_resnet50_fpn(weights=weights)
    else:
        # weights_backbone も None にしないと ImageNet の重みを取りに行く
        model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    return model.to(device or torch.device("cpu")).eval()


@torch.no_grad()
def detect(
    model: nn.Module,
    images: Sequence[Tensor],
    score_threshold: float = 0.5,
    device: torch.device | None = None,
) -> list[Detection]:
    """torchvision の検出モデルで物体を検出し、スコアの低い箱を除く。

    前処理 (正規化・リサイズ) はモデルの中で行われるので、画素値 0〜1 の
    画像をそのまま渡す。NMS もモデルの中で済んでいる。

    Shape:
        - images: 長さ N のリスト、各要素 (Tensor[3, H_i, W_i]) (大きさは任意)
        - 戻り値: 長さ N の予測 ``{"boxes", "scores", "labels"}`` (CPU 上)。
    """
    device = device or torch.device("cpu")
    model.eval()
    outputs = model([image.to(device) for image in images])
    results: list[Detection] = []
    for out in outputs:
        keep = out["scores"] >= score_threshold
        keys = ("boxes", "scores", "labels")
        results.append({k: out[k][keep].cpu() for k in keys})
    return results
