"""dlbook.scenes のテスト: 生成シーンの画像と正解の箱。"""

from __future__ import annotations

import torch

from dlbook.detection import box_iou
from dlbook.scenes import SHAPE_CLASSES, make_scenes


class TestScenes:
    def test_shapes_and_boxes(self):
        images, targets = make_scenes(20, size=64, max_objects=3, seed=0)
        assert images.shape == (20, 3, 64, 64)
        assert images.dtype == torch.float32
        assert 0.0 <= images.min() and images.max() <= 1.0
        for t in targets:
            assert 1 <= len(t["boxes"]) <= 3
            assert t["boxes"].shape == (len(t["labels"]), 4)
            assert ((t["boxes"] >= 0) & (t["boxes"] <= 64)).all()
            assert set(t["labels"].tolist()) <= {0, 1, 2}
            iou = box_iou(t["boxes"], t["boxes"])
            assert (iou - torch.eye(len(iou))).abs().max() == 0  # 重ならない

    def test_seed_is_reproducible(self):
        a, ta = make_scenes(3, seed=5)
        b, tb = make_scenes(3, seed=5)
        c, _ = make_scenes(3, seed=6)
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert all(
            torch.equal(x["boxes"], y["boxes"])
            for x, y in zip(ta, tb, strict=True)  # 画像ごと
        )

    def test_object_is_drawn_inside_its_box(self):
        images, targets = make_scenes(1, max_objects=1, seed=1, noise=0.0)
        x1, y1, x2, y2 = targets[0]["boxes"][0].int().tolist()
        background = images[0, :, 0, 0] if x1 > 0 or y1 > 0 else None
        inside = images[0, :, (y1 + y2) // 2, (x1 + x2) // 2]
        assert background is None or not torch.equal(inside, background)

    def test_class_names_are_japanese(self):
        assert SHAPE_CLASSES == ("円", "四角", "三角")
