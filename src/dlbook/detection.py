"""物体検出 (object detection) の箱と評価: IoU、NMS、AP/mAP。

第6章で使う。箱 (bounding box) はすべて ``(x1, y1, x2, y2)`` 形式
(xyxy、左上と右下の角、ピクセル単位、``x1 <= x2``, ``y1 <= y2``) で表す。
予測と正解は torchvision と同じ辞書の並びで渡す:

- 予測 ``{"boxes": Tensor[K, 4], "scores": Tensor[K], "labels": Tensor[K]}``
- 正解 ``{"boxes": Tensor[G, 4], "labels": Tensor[G]}``

検出器そのものは ``quick`` プロファイルの小さな検出器が
:mod:`dlbook.detector`、``full`` プロファイルの学習済み Faster R-CNN が
:mod:`dlbook.fasterrcnn` にある。
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

Detection = dict[str, Tensor]


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

    面積 0 の箱 (``x1 == x2`` など) どうしの IoU は 0 とする
    (torchvision の ``box_iou`` は nan を返す)。

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
    # 面積 0 の箱どうしは union = 0: 0/0 (nan) ではなく重なり 0 とする
    return torch.where(union > 0, inter / union, torch.zeros_like(union))


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
    method: str = "coco101",
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

    ``method`` で補間の点を選ぶ (補間適合率はどれも同じ):

    - ``"coco101"``: 再現率 0, 0.01, …, 1 の 101 点の平均 (COCO)。
    - ``"voc11"``: 0, 0.1, …, 1 の 11 点の平均 (PASCAL VOC 2007)。
    - ``"all"``: 全点補間。補間した PR 曲線 (階段) の下の面積
      :math:`\sum_k (r_k - r_{k-1})\, p_{\mathrm{interp}}(r_k)`
      (PASCAL VOC 2010 以降)。

    Args:
        scores: 予測のスコア (全画像分)。
        is_tp: 各予測が TP か (:func:`match_detections` の結果)。
        n_gt: 正解の箱の総数。
        method: ``"coco101"``, ``"voc11"``, ``"all"`` のどれか。

    Returns:
        AP (0 以上 1 以下)。正解がないときは ``nan``。

    Shape:
        - scores (ndarray[K]), is_tp (ndarray[K], bool)
    """
    if method not in ("coco101", "voc11", "all"):
        raise ValueError(f"method は coco101, voc11, all のどれか: {method!r}")
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    precision, recall = precision_recall(scores, is_tp, n_gt)
    # 補間: 右側 (再現率の大きい側) の最大値で置き換え、単調非増加にする
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    if method == "all":  # 階段の下の面積
        steps = np.diff(np.concatenate([[0.0], recall]))  # 再現率の増分
        return float(np.sum(steps * precision))
    recall_points = np.linspace(0.0, 1.0, 101 if method == "coco101" else 11)
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


def mean_average_precision_coco(
    preds: Sequence[Detection],
    targets: Sequence[Detection],
) -> float:
    r"""COCO の主指標 AP: IoU の閾値 0.50, 0.55, …, 0.95 の 10 通りの mAP の平均。

    .. math::
        \mathrm{AP}_{[.5:.95]} = \frac{1}{10}
        \sum_{\tau \in \{0.50, 0.55, \dots, 0.95\}} \mathrm{mAP}@\tau

    閾値が高いほど箱の位置の正確さが求められるので、箱のずれに厳しい。
    """
    thresholds = np.linspace(0.5, 0.95, 10)
    return float(
        np.mean(
            [mean_average_precision(preds, targets, t) for t in thresholds]
        )
    )


# ---------------------------------------------------- アンカーと箱の符号化
def anchor_boxes(
    grid_size: int,
    stride: float,
    scales: Sequence[float],
    ratios: Sequence[float],
) -> Tensor:
    r"""特徴マップの各セルの中心に置くアンカー箱 (Faster R-CNN, RetinaNet)。

    セル :math:`(i, j)` の中心 :math:`((j + 1/2) s, (i + 1/2) s)` に、
    大きさ (面積の平方根) ``scale`` と縦横比 :math:`r = h / w` の組
    すべての箱を置く: :math:`w = \text{scale} / \sqrt{r}`,
    :math:`h = \text{scale} \sqrt{r}`。

    Args:
        grid_size: 特徴マップの一辺 :math:`S` (正方形)。
        stride: 特徴マップ 1 セルが入力画像で占める画素数 :math:`s`。
        scales: 箱の大きさ (画素)。
        ratios: 縦横比 :math:`h / w`。

    Returns:
        xyxy の箱。並びはセル (行優先) → 大きさ → 縦横比。

    Shape:
        - 戻り値 (Tensor[S * S * len(scales) * len(ratios), 4])
    """
    base = []
    for scale in scales:
        for r in ratios:
            w, h = scale / r**0.5, scale * r**0.5
            base.append([-w / 2, -h / 2, w / 2, h / 2])
    base_t = torch.tensor(base, dtype=torch.float32)  # (A, 4)
    c = (torch.arange(grid_size, dtype=torch.float32) + 0.5) * stride
    cy, cx = torch.meshgrid(c, c, indexing="ij")  # (S, S)
    centers = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)
    return (centers + base_t).reshape(-1, 4)  # (S*S*A, 4)


def encode_boxes(boxes: Tensor, anchors: Tensor) -> Tensor:
    r"""正解の箱をアンカーに対するずれ :math:`(t_x, t_y, t_w, t_h)` にする。

    .. math::
        t_x = \frac{x - x_a}{w_a}, \quad t_y = \frac{y - y_a}{h_a}, \quad
        t_w = \log \frac{w}{w_a}, \quad t_h = \log \frac{h}{h_a}

    (:math:`x, y, w, h` は箱の中心と幅・高さ、添字 :math:`a` はアンカー)。
    Faster R-CNN の符号化で、torchvision の ``BoxCoder`` (重み 1) と同じ。

    Shape:
        - boxes, anchors (Tensor[K, 4], xyxy) → (Tensor[K, 4])
    """
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + wa / 2, anchors[:, 1] + ha / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    x, y = boxes[:, 0] + w / 2, boxes[:, 1] + h / 2
    return torch.stack(
        [(x - xa) / wa, (y - ya) / ha, torch.log(w / wa), torch.log(h / ha)],
        dim=1,
    )


def decode_boxes(deltas: Tensor, anchors: Tensor) -> Tensor:
    """:func:`encode_boxes` の逆: ずれとアンカーから xyxy の箱を作る。

    Shape:
        - deltas, anchors (Tensor[K, 4]) → (Tensor[K, 4], xyxy)
    """
    wa, ha = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    xa, ya = anchors[:, 0] + wa / 2, anchors[:, 1] + ha / 2
    x, y = xa + deltas[:, 0] * wa, ya + deltas[:, 1] * ha
    w, h = wa * torch.exp(deltas[:, 2]), ha * torch.exp(deltas[:, 3])
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)


def assign_anchors(
    anchors: Tensor,
    gt_boxes: Tensor,
    pos_threshold: float = 0.5,
    neg_threshold: float = 0.4,
) -> Tensor:
    """各アンカーを正解に割り当てる (RetinaNet の規則)。

    IoU が ``pos_threshold`` 以上の正解があれば、その中で IoU 最大の正解の
    番号 (正例)。最大 IoU が ``neg_threshold`` 未満なら -1 (背景、負例)。
    その間は -2 (無視: 損失に入れない)。さらに、どのアンカーとも
    ``pos_threshold`` に届かない正解も取りこぼさないよう、各正解に
    IoU 最大のアンカーを 1 つ割り当てる (Faster R-CNN と同じ。IoU が 0 なら
    割り当てない)。

    Shape:
        - anchors (Tensor[A, 4]), gt_boxes (Tensor[G, 4])
        - 戻り値 (Tensor[A], int64)
    """
    assigned = torch.full((len(anchors),), -1, dtype=torch.int64)
    if len(gt_boxes) == 0:
        return assigned
    iou = box_iou(anchors, gt_boxes)  # (A, G)
    best_iou, best_gt = iou.max(dim=1)  # (A,)
    assigned[best_iou >= pos_threshold] = best_gt[best_iou >= pos_threshold]
    ignore = (best_iou >= neg_threshold) & (best_iou < pos_threshold)
    assigned[ignore] = -2
    best_anchor = iou.argmax(dim=0)  # (G,) 各正解に IoU 最大のアンカー
    overlaps = iou.max(dim=0).values > 0  # まったく重ならない正解は除く
    assigned[best_anchor[overlaps]] = torch.arange(len(gt_boxes))[overlaps]
    return assigned


def focal_loss(
    logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> Tensor:
    r"""焦点損失 (focal loss, RetinaNet) の和。

    .. math::
        \mathrm{FL}(p_t) = -\alpha_t (1 - p_t)^\gamma \log p_t

    :math:`p_t` は正解側の確率 (正例なら :math:`p`、負例なら :math:`1 - p`)、
    :math:`\alpha_t` は正例で :math:`\alpha`、負例で :math:`1 - \alpha`。
    :math:`\gamma = 0`, :math:`\alpha = 0.5` なら 2 値交差エントロピーの半分。
    ``torchvision.ops.sigmoid_focal_loss(reduction="sum")`` と同じ値。

    Shape:
        - logits, targets (Tensor[...]): targets は 0 か 1。
    """
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * (1 - p_t) ** gamma * ce).sum()
