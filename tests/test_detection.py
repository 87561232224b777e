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
