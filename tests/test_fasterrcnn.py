"""dlbook.fasterrcnn のテスト (日本語のクラス名、Faster R-CNN の構築と推論)。"""

from __future__ import annotations

import pytest
import torch

from dlbook.fasterrcnn import coco_class_names_ja, detect, load_faster_rcnn


class TestFasterRcnn:
    def test_coco_names_ja(self):
        names = coco_class_names_ja()
        assert len(names) == 91
        assert (names[1], names[17], names[47]) == ("人", "猫", "カップ")
        assert names[0] == "__background__"

    @pytest.mark.slow
    def test_faster_rcnn_constructs_and_runs(self):
        torch.manual_seed(0)
        model = load_faster_rcnn(pretrained=False)
        preds = detect(model, [torch.rand(3, 96, 128)], score_threshold=0.0)
        assert len(preds) == 1
        assert set(preds[0]) == {"boxes", "scores", "labels"}
        assert preds[0]["boxes"].shape[1:] == (4,)
