"""dlbook.detector のテスト (生成シーン、小さな検出器、作図)。"""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from dlbook.detection import box_iou, mean_average_precision
from dlbook.detector import (
    SHAPE_CLASSES,
    TinyDetector,
    decode,
    detection_loss,
    draw_detections,
    encode_targets,
    make_scenes,
    predict,
    train_detector,
)


class TestTinyDetector:
    def test_output_shape(self):
        out = TinyDetector(num_classes=3)(torch.rand(2, 3, 64, 64))
        assert out.shape == (2, 8, 8, 8)  # (N, 5 + C, H/8, W/8)

    def test_decode_inverts_encode(self):
        """正解から作った「完璧な」出力を decode すると正解の箱に戻る。"""
        _, targets = make_scenes(4, seed=2)
        obj, box, label = encode_targets(targets, 8, 64)
        logit = lambda p: torch.logit(p.clamp(1e-6, 1 - 1e-6))  # noqa: E731
        cls = torch.nn.functional.one_hot(label.clamp(min=0), 3).float()
        out = torch.cat(
            [
                logit(obj).unsqueeze(1),
                logit(box),
                20 * cls.permute(0, 3, 1, 2),
            ],
            dim=1,
        )  # (N, 8, S, S)
        preds = decode(out, 64, score_threshold=0.5)
        for p, t in zip(preds, targets, strict=True):
            assert len(p["boxes"]) == len(t["boxes"])
            iou = box_iou(p["boxes"], t["boxes"])
            assert iou.max(dim=0).values.min() > 0.999
        assert mean_average_precision(preds, targets) == pytest.approx(1.0)

    def test_training_reduces_loss(self):
        images, targets = make_scenes(64, seed=3)
        torch.manual_seed(0)
        model = TinyDetector()
        with torch.no_grad():
            before = detection_loss(model.eval()(images), targets, 64).item()
        history = train_detector(
            model, images, targets, epochs=6, batch_size=16, seed=0
        )
        with torch.no_grad():
            after = detection_loss(model.eval()(images), targets, 64).item()
        assert history[-1] < history[0]
        assert after < 0.7 * before


class TestDrawDetections:
    def test_draw_detections(self):
        images, targets = make_scenes(1, seed=0)
        t = targets[0]
        scores = torch.linspace(0.9, 0.5, len(t["labels"]))
        fig = draw_detections(images[0], t["boxes"], t["labels"], scores)
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert len(ax.patches) == len(t["boxes"])
        texts = [x.get_text() for x in ax.texts]
        name = SHAPE_CLASSES[int(t["labels"][0])]
        assert texts[0] == f"{name} 0.90"


@pytest.mark.parametrize("size", [(64, 32), (60, 60)])
def test_non_square_or_odd_images_are_a_clear_error(
    size: tuple[int, int],
) -> None:
    images = torch.zeros(2, 3, *size)
    targets = [
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0).long()}
    ] * 2
    with pytest.raises(ValueError, match="正方形"):
        train_detector(TinyDetector(), images, targets, epochs=1)
    with pytest.raises(ValueError, match="正方形"):
        predict(TinyDetector(), images)
