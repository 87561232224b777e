"""dlbook.segmentation: 画素の正解、U-Net の形、mIoU。"""

import pytest
import torch
import torch.nn.functional as F

from dlbook import segmentation
from dlbook.scenes import make_scenes


def test_scene_masks_follow_the_boxes() -> None:
    X, T = make_scenes(5, size=32, seed=0)
    M = segmentation.scene_masks(T, 32)
    assert M.shape == (5, 32, 32)
    for n, t in enumerate(T):
        inside = torch.zeros(32, 32, dtype=torch.bool)
        for (x0, y0, x1, y1), c in zip(
            t["boxes"].int().tolist(), t["labels"].tolist(), strict=True
        ):
            inside[y0:y1, x0:x1] = True
            region = M[n, y0:y1, x0:x1]
            assert set(region.unique().tolist()) <= {0, c + 1}
            assert (region == c + 1).any()
        assert (M[n][~inside] == 0).all()  # 箱の外は背景
        # 図形の画素は背景と色が違う (生成した画像と一致)
        fg = M[n] > 0
        assert X[n][:, fg].mean() > X[n][:, ~fg].mean()


@pytest.mark.parametrize("skip", [True, False])
def test_unet_shape(skip: bool) -> None:
    net = segmentation.TinyUNet(widths=(4, 8, 16), skip=skip)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 4, 32, 32)


def test_no_skip_ignores_encoder_details() -> None:
    # スキップ接続なしでは、最も深い段の特徴が同じなら出力も同じ
    torch.manual_seed(0)
    net = segmentation.TinyUNet(widths=(4, 8), skip=False).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        deep = net.down[1](net.pool(net.down[0](x)))
        up = net.merge[0](
            torch.cat([torch.zeros(1, 4, 8, 8), net.up[0](deep)], dim=1)
        )
        torch.testing.assert_close(net(x), net.out(up))


def test_mean_iou_by_hand() -> None:
    pred = torch.tensor([[[0, 1], [1, 1]]])
    target = torch.tensor([[[0, 1], [0, 1]]])
    miou, ious = segmentation.mean_iou(pred, target, 3)
    assert ious[0] == 0.5 and ious[1] == pytest.approx(2 / 3)
    assert ious[2] != ious[2]  # nan: どちらにも現れない
    assert miou == pytest.approx((0.5 + 2 / 3) / 2)


def test_conv_transpose_is_the_conv_input_gradient() -> None:
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    w = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    y = F.conv_transpose2d(x, w, stride=2, padding=1)
    z = torch.zeros(1, 2, 10, 10, dtype=torch.float64, requires_grad=True)
    F.conv2d(z, w, stride=2, padding=1).backward(x)
    torch.testing.assert_close(z.grad, y)
