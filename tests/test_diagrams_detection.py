"""dlbook.diagrams.detection: 図の数値が本文の計算例と一致するか。"""

import numpy as np
import torch

from dlbook import detection, numpy_cnn, segmentation, transfer
from dlbook.diagrams import detection as dgd


def _joined(svg) -> str:
    return " ".join(svg.texts)


def test_iou_numbers_come_from_the_boxes() -> None:
    a, b = [10.0, 10.0, 50.0, 50.0], [30.0, 30.0, 70.0, 70.0]
    iou = float(detection.box_iou(torch.tensor([a]), torch.tensor([b]))[0, 0])
    svg = dgd.iou_boxes(a, b, iou)
    text = _joined(svg)
    assert svg.data.startswith("<svg")
    assert "|A∩B| = 20×20 = 400" in text
    assert f"{iou:.4f}" in text and "0.1429" in text


def test_nms_counts() -> None:
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[30.0, 30.0], [80.0, 40.0]]).repeat(5, 1)
    centers += 3 * torch.randn(centers.shape, generator=g)
    boxes = torch.cat([centers - 15, centers + 15], dim=1)
    scores = torch.rand(10, generator=g)
    keep = detection.nms(boxes, scores, 0.5)
    svg = dgd.nms_before_after(
        boxes.numpy(), scores.numpy(), keep.numpy(), np.arange(10) % 2
    )
    assert "NMS の前: 10 個" in svg.texts
    assert f"NMS の後: {len(keep)} 個" in svg.texts
    for k in keep.tolist():
        assert f"{float(scores[k]):.2f}" in svg.texts


def test_anchor_grid_counts() -> None:
    a = detection.anchor_boxes(4, 16.0, [16.0, 32.0], [0.5, 1.0, 2.0])
    svg = dgd.anchor_grid(a.numpy(), 4, 16.0, (1, 2), 2, 3)
    assert f"全部で {len(a)} 個" in svg.texts
    assert "1 セルに 6 個のアンカー" in svg.texts


def test_pr_curve_area_is_the_all_point_ap() -> None:
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    tp = np.array([1, 0, 1, 1, 0], dtype=bool)
    p, r = detection.precision_recall(s, tp, 4)
    ap = detection.average_precision(s, tp, 4, "all")
    svg = dgd.pr_curve(p, r, ap)
    assert f"塗った面積 = AP = {ap:.4f}" in svg.texts
    assert ap == 0.625


def test_layer_stack_shows_the_real_shapes() -> None:
    net = numpy_cnn.build_numpy_cnn(np.random.default_rng(0))
    shapes = numpy_cnn.layer_shapes(net, np.zeros((1, 1, 8, 8)))
    text = _joined(dgd.layer_stack(shapes))
    for name, shape in shapes:
        assert f"{name}\n{'×'.join(str(d) for d in shape[1:])}" in text


def test_transfer_modes_from_the_model() -> None:
    model = transfer.ColorCNN(5)
    svg = dgd.transfer_modes(model, [[], [2], [1, 2]])
    frozen = [t for t in svg.texts if t.endswith("凍結")]
    # 特徴抽出で 3、段階 1〜3 で 3 + 2 + 1
    assert len(frozen) == 3 + 3 + 2 + 1
    assert "畳み込み 3→16 (5×5) 凍結" in svg.texts
    assert sum(t.startswith("ヘッド 32→5") for t in svg.texts) == 6


def test_unet_from_the_model() -> None:
    model = segmentation.TinyUNet(widths=(4, 8, 16, 32))
    text = _joined(dgd.unet(model))
    for w in (4, 8, 16, 32):
        assert f"{w} ch" in text
    assert "4 クラス/画素" in text


def test_pipelines_render() -> None:
    assert "RoIAlign" in _joined(dgd.two_stage_vs_one_stage())
    assert any("勾配の空間平均" in t for t in dgd.gradcam_pipeline().texts)
