"""dlbook.detection のテスト (torchvision・torchmetrics と比べる)。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision

from dlbook.detection import (
    average_precision,
    average_precision_per_class,
    batched_nms,
    box_iou,
    match_detections,
    mean_average_precision,
    nms,
)


def random_boxes(
    n: int,
    seed: int,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=dtype) * 100
    wh = torch.rand(n, 2, generator=g, dtype=dtype) * 40 + 1
    return torch.cat([xy, xy + wh], dim=1)  # (n, 4)


class TestBoxIou:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    @pytest.mark.parametrize(("n", "m"), [(1, 1), (7, 13), (50, 3), (0, 5)])
    def test_matches_torchvision(self, n: int, m: int, dtype: torch.dtype):
        b1, b2 = random_boxes(n, 0, dtype), random_boxes(m, 1, dtype)
        expected = torchvision.ops.box_iou(b1, b2)
        actual = box_iou(b1, b2)
        assert actual.shape == (n, m)
        torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-7)

    def test_identical_is_one_and_disjoint_is_zero(self):
        a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        far = torch.tensor([[20.0, 20.0, 30.0, 30.0]])
        touching = torch.tensor([[10.0, 0.0, 20.0, 10.0]])  # 辺だけ共有
        assert box_iou(a, a).item() == 1.0
        assert box_iou(a, far).item() == 0.0
        assert box_iou(a, touching).item() == 0.0

    def test_hand_computed(self):
        # 交わり 5x10 = 50、合併 100 + 100 - 50 = 150
        a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        b = torch.tensor([[5.0, 0.0, 15.0, 10.0]])
        assert box_iou(a, b).item() == pytest.approx(1 / 3)

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"\(N, 4\)"):
            box_iou(torch.zeros(3, 5), torch.zeros(2, 4))
        with pytest.raises(ValueError, match="xyxy"):
            box_iou(torch.tensor([[5.0, 0.0, 1.0, 1.0]]), torch.zeros(1, 4))


class TestNms:
    @pytest.mark.parametrize("iou_threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_matches_torchvision(self, iou_threshold: float, seed: int):
        boxes = random_boxes(200, seed)
        scores = torch.rand(200, generator=torch.Generator().manual_seed(9))
        expected = torchvision.ops.nms(boxes, scores, iou_threshold)
        torch.testing.assert_close(nms(boxes, scores, iou_threshold), expected)

    def test_empty(self):
        kept = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
        assert kept.shape == (0,) and kept.dtype == torch.int64

    def test_identical_boxes_keep_best(self):
        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(4, 1)
        scores = torch.tensor([0.2, 0.9, 0.5, 0.1])
        assert nms(boxes, scores, 0.5).tolist() == [1]

    def test_disjoint_boxes_all_kept_in_score_order(self):
        boxes = torch.tensor(
            [[0.0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]],
        )
        scores = torch.tensor([0.3, 0.8, 0.5])
        assert nms(boxes, scores, 0.1).tolist() == [1, 2, 0]

    def test_batched_matches_torchvision(self):
        boxes = random_boxes(300, 3)
        g = torch.Generator().manual_seed(4)
        scores = torch.rand(300, generator=g)
        labels = torch.randint(0, 4, (300,), generator=g)
        expected = torchvision.ops.batched_nms(boxes, scores, labels, 0.4)
        actual = batched_nms(boxes, scores, labels, 0.4)
        torch.testing.assert_close(actual, expected)
        empty = batched_nms(
            torch.zeros(0, 4),
            torch.zeros(0),
            torch.zeros(0, dtype=torch.int64),
            0.5,
        )
        assert empty.shape == (0,)


class TestAveragePrecision:
    def test_hand_checked_101_point(self):
        # 正解 2 個。スコア順に TP, FP, TP → 再現率 0.5, 0.5, 1.0、
        # 適合率 1, 1/2, 2/3。補間すると r <= 0.5 で 1 (51 点)、
        # r > 0.5 で 2/3 (50 点)。
        ap = average_precision(
            np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2
        )
        assert ap == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)

    def test_edge_cases(self):
        scores = np.array([0.9, 0.5])
        assert average_precision(scores, np.array([True, True]), 2) == 1.0
        assert average_precision(scores, np.array([False, False]), 2) == 0.0
        assert average_precision(np.array([]), np.array([]), 3) == 0.0
        assert math.isnan(average_precision(scores, np.array([0, 0]), 0))
        # 再現率 0.5 までしか届かない: 101 点のうち 51 点が 1
        half = average_precision(np.array([0.9]), np.array([True]), 2)
        assert half == pytest.approx(51 / 101)

    def test_duplicate_detection_is_false_positive(self):
        gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 9.0]])
        scores = torch.tensor([0.6, 0.9])
        # スコアの高い 2 番目が先に正解を取り、1 番目は重複 (FP)
        assert match_detections(pred, scores, gt).tolist() == [False, True]

    def test_map_toy(self):
        targets = [
            {
                "boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
                "labels": torch.tensor([0, 1]),
            }
        ]
        preds = [
            {
                "boxes": torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60]]),
                "scores": torch.tensor([0.9, 0.8]),
                "labels": torch.tensor([0, 1]),
            }
        ]
        per_class = average_precision_per_class(preds, targets)
        assert per_class == {0: 1.0, 1: 0.0}
        assert mean_average_precision(preds, targets) == 0.5

    @pytest.mark.parametrize("iou_threshold", [0.5, 0.75])
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_matches_torchmetrics(self, iou_threshold: float, seed: int):
        """pycocotools を裏で使う torchmetrics の mAP と一致する。"""
        detection = pytest.importorskip("torchmetrics.detection")
        rng = np.random.default_rng(seed)
        preds, targets = [], []
        for _ in range(20):
            n_gt = int(rng.integers(0, 5))
            xy = rng.uniform(0, 80, (n_gt, 2))
            gt = np.concatenate([xy, xy + rng.uniform(5, 30, (n_gt, 2))], 1)
            gt_labels = rng.integers(0, 3, n_gt)
            # 正解を少しずらした予測 (2 割は取りこぼし、1 割はクラス違い)
            # + ランダムな偽陽性 3 個
            found = rng.random(n_gt) < 0.8
            jitter = gt[found] + rng.normal(0, 1.5, (found.sum(), 4))
            labels = np.where(
                rng.random(found.sum()) < 0.9,
                gt_labels[found],
                rng.integers(0, 3, found.sum()),
            )
            xy = rng.uniform(0, 80, (3, 2))
            noise = np.concatenate([xy, xy + rng.uniform(5, 30, (3, 2))], 1)
            boxes = np.concatenate([jitter, noise])
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
            k = len(boxes)
            preds.append(
                {
                    "boxes": torch.tensor(boxes, dtype=torch.float32),
                    "scores": torch.tensor(rng.random(k), dtype=torch.float32),
                    "labels": torch.tensor(
                        np.concatenate([labels, rng.integers(0, 3, 3)])
                    ),
                }
            )
            targets.append(
                {
                    "boxes": torch.tensor(gt, dtype=torch.float32),
                    "labels": torch.tensor(gt_labels),
                }
            )
        # 再現率の 101 点は pycocotools と同じ float64 で渡す (torchmetrics の
        # 既定は float32 の linspace で、再現率がちょうど 0.51 などのとき
        # pycocotools とわずかに違う値になる)
        metric = detection.MeanAveragePrecision(
            iou_thresholds=[iou_threshold],
            rec_thresholds=np.linspace(0.0, 1.0, 101).tolist(),
        )
        metric.update(preds, targets)
        expected = metric.compute()["map"].item()
        actual = mean_average_precision(preds, targets, iou_threshold)
        assert 0.0 < actual < 1.0
        assert actual == pytest.approx(expected, abs=1e-6)


def test_zero_area_boxes_have_zero_iou_and_survive_nms_like_torchvision() -> (
    None
):
    point = torch.tensor([[5.0, 5.0, 5.0, 5.0], [5.0, 5.0, 5.0, 5.0]])
    iou = box_iou(point, point)
    assert not torch.isnan(iou).any()
    torch.testing.assert_close(iou, torch.zeros(2, 2))
    scores = torch.tensor([0.9, 0.8])
    expected = torchvision.ops.nms(point, scores, 0.5)
    torch.testing.assert_close(nms(point, scores, 0.5), expected)


# --------------------------------------------- AP の補間、COCO の AP、アンカー
from dlbook import detection as det  # noqa: E402

_EX = (
    np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
    np.array([True, False, True, True, False]),
    4,
)


class TestApMethods:
    # 補間適合率は再現率 0.25 まで 1、0.75 まで 0.75、その先は届かない (0)
    @pytest.mark.parametrize(
        ("method", "expected"),
        [
            ("all", 0.25 * 1 + 0.5 * 0.75),
            ("voc11", (3 * 1 + 5 * 0.75) / 11),
            ("coco101", (26 * 1 + 50 * 0.75) / 101),
        ],
    )
    def test_hand_computed(self, method: str, expected: float) -> None:
        assert det.average_precision(*_EX, method=method) == pytest.approx(
            expected, abs=1e-12
        )

    def test_unknown_method(self) -> None:
        with pytest.raises(ValueError, match="method"):
            det.average_precision(*_EX, method="voc12")

    def test_all_points_is_area_under_interpolated_curve(self) -> None:
        rng = np.random.default_rng(0)
        scores, tp = rng.random(50), rng.random(50) < 0.6
        p, r = det.precision_recall(scores, tp, 40)
        p = np.maximum.accumulate(p[::-1])[::-1]
        area = sum((r[k] - (r[k - 1] if k else 0.0)) * p[k] for k in range(50))
        assert det.average_precision(scores, tp, 40, "all") == pytest.approx(
            area
        )


class TestCocoMap:
    def test_shifted_box_counts_only_low_thresholds(self) -> None:
        gt = {
            "boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]),
            "labels": torch.tensor([0]),
        }
        # 2 だけ右にずれた箱: IoU = 80 / 120 = 0.667
        pred = {
            "boxes": torch.tensor([[2.0, 0.0, 12.0, 10.0]]),
            "scores": torch.tensor([0.9]),
            "labels": torch.tensor([0]),
        }
        # 閾値 0.50, 0.55, 0.60, 0.65 の 4 つで AP 1、残り 6 つで 0
        assert det.mean_average_precision_coco([pred], [gt]) == pytest.approx(
            0.4
        )
        assert det.mean_average_precision([pred], [gt], 0.75) == 0.0


class TestAnchors:
    def test_count_centers_and_shapes(self) -> None:
        a = det.anchor_boxes(3, 8.0, scales=[8, 16], ratios=[0.5, 1, 2])
        assert a.shape == (3 * 3 * 6, 4)
        w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        torch.testing.assert_close(
            w * h, torch.tensor([64.0, 64, 64, 256, 256, 256] * 9)
        )
        torch.testing.assert_close(h[:3] / w[:3], torch.tensor([0.5, 1, 2]))
        # 7 番目 (2 つ目のセル) の中心は (12, 4)
        cx, cy = (a[6, 0] + a[6, 2]) / 2, (a[6, 1] + a[6, 3]) / 2
        assert (float(cx), float(cy)) == (12.0, 4.0)

    def test_encode_matches_torchvision_and_roundtrips(self) -> None:
        from torchvision.models.detection._utils import BoxCoder

        anchors = det.anchor_boxes(4, 8.0, scales=[10, 20], ratios=[1, 2])
        g = torch.Generator().manual_seed(0)
        xy = torch.rand(len(anchors), 2, generator=g) * 30
        wh = torch.rand(len(anchors), 2, generator=g) * 20 + 1
        boxes = torch.cat([xy, xy + wh], dim=1)
        t = det.encode_boxes(boxes, anchors)
        ref = BoxCoder((1.0, 1.0, 1.0, 1.0)).encode_single(boxes, anchors)
        torch.testing.assert_close(t, ref)
        torch.testing.assert_close(det.decode_boxes(t, anchors), boxes)

    def test_assign(self) -> None:
        anchors = torch.tensor(
            [
                [0.0, 0, 10, 10],
                [1, 0, 11, 10],
                [4, 0, 14, 10],
                [50, 50, 60, 60],
            ]
        )
        gt = torch.tensor([[0.0, 0, 10, 10], [70, 70, 74, 74]])
        a = det.assign_anchors(anchors, gt)
        # IoU: 1, 0.818, 0.4286 (無視), 0 (背景)。2 つ目の正解はどのアンカーとも
        # 重ならないので、どのアンカーにも割り当てない
        assert a.tolist() == [0, 0, -2, -1]

    def test_low_quality_match_is_kept(self) -> None:
        # IoU 0.5 に届かない正解にも、IoU 最大のアンカーを 1 つ割り当てる
        anchors = torch.tensor([[0.0, 0, 10, 10], [20, 0, 30, 10]])
        gt = torch.tensor([[5.0, 0, 25, 10]])  # どちらとも IoU 1/3
        assert det.assign_anchors(anchors, gt).tolist() == [0, -1]


class TestFocalLoss:
    def test_matches_torchvision(self) -> None:
        g = torch.Generator().manual_seed(1)
        logits = torch.randn(50, generator=g) * 3
        targets = (torch.rand(50, generator=g) < 0.2).float()
        ref = torchvision.ops.sigmoid_focal_loss(
            logits, targets, reduction="sum"
        )
        torch.testing.assert_close(det.focal_loss(logits, targets), ref)

    def test_gamma0_is_half_bce(self) -> None:
        logits = torch.tensor([2.0, -1.0, 0.5])
        targets = torch.tensor([1.0, 0.0, 0.0])
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, targets, reduction="sum"
        )
        fl = det.focal_loss(logits, targets, alpha=0.5, gamma=0.0)
        torch.testing.assert_close(fl, 0.5 * bce)

    def test_easy_negatives_are_down_weighted(self) -> None:
        # 確信した負例 (p = 0.01) の損失は交差エントロピーの 1e-4 倍ほど
        logit = torch.logit(torch.tensor([0.01]))
        ce = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, torch.zeros(1)
        )
        fl = det.focal_loss(logit, torch.zeros(1), alpha=0.5, gamma=2.0)
        assert float(fl / ce) == pytest.approx(0.5 * 0.01**2, rel=1e-4)
