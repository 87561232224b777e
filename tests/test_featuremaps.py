"""dlbook.featuremaps のテスト。"""

import pytest
import torch
from torch import nn

from dlbook import featuremaps as fm


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3))


def test_capture_shapes_and_values() -> None:
    torch.manual_seed(0)
    net, x = _net().eval(), torch.randn(2, 1, 8, 8)
    acts = fm.capture_activations(net, x, ["0", "1", "2"])
    assert acts["0"].shape == (2, 3, 6, 6)
    with torch.no_grad():
        conv0 = dict(net.named_modules())["0"](x)  # (2, 3, 6, 6)
        out = net(x)
    torch.testing.assert_close(acts["0"], conv0, rtol=0, atol=0)
    torch.testing.assert_close(acts["1"], torch.relu(conv0), rtol=0, atol=0)
    torch.testing.assert_close(acts["2"], out, rtol=0, atol=0)
    assert (acts["0"] < 0).any()  # ReLU の前の値 (負の値を含む)
    assert not any(a.requires_grad for a in acts.values())
    # フックは外れている
    assert all(not m._forward_hooks for m in net.modules())


def test_missing_layer() -> None:
    with pytest.raises(ValueError, match="ありません"):
        fm.capture_activations(_net(), torch.randn(1, 1, 8, 8), ["9"])


def test_first_conv_and_names() -> None:
    net = _net()
    assert fm.first_conv(net) is net[0]
    assert fm.conv_layer_names(net) == ["0", "2"]
    with pytest.raises(ValueError, match="Conv2d"):
        fm.first_conv(nn.Linear(2, 2))


def test_normalize_filters_range() -> None:
    w = fm.normalize_filters(torch.randn(4, 3, 5, 5))
    flat = w.reshape(4, -1)
    torch.testing.assert_close(flat.min(1).values, torch.zeros(4))
    torch.testing.assert_close(flat.max(1).values, torch.ones(4))


def test_capture_survives_an_inplace_next_layer() -> None:
    """次の層が出力をその場で書き換えても、取り出した値は層の出力のまま。"""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(inplace=True), nn.Conv2d(3, 2, 3)
    )
    x = torch.randn(2, 1, 8, 8)
    acts = fm.capture_activations(net, x, ["0"])
    with torch.no_grad():
        expected = net[0](x)
    assert (expected < 0).any()  # ReLU で消える負の値がある
    torch.testing.assert_close(acts["0"], expected)


class TestOrientationCoherence:
    def test_an_edge_is_one_and_a_blob_is_zero(self) -> None:
        edge = torch.zeros(1, 3, 8, 8)
        edge[..., :4, :] = 1.0  # 上が明るく下が暗い横のエッジ
        yy, xx = torch.meshgrid(
            torch.arange(8.0), torch.arange(8.0), indexing="ij"
        )
        blob = torch.exp(-((yy - 3.5) ** 2 + (xx - 3.5) ** 2) / 4)
        blob = blob.expand(1, 3, 8, 8)
        coh = fm.orientation_coherence(torch.cat([edge, blob]))
        assert coh[0] == pytest.approx(1.0, abs=1e-6)
        assert coh[1] == pytest.approx(0.0, abs=1e-6)

    def test_random_filters_are_incoherent(self) -> None:
        g = torch.Generator().manual_seed(0)
        coh = fm.orientation_coherence(torch.randn(64, 3, 8, 8, generator=g))
        assert float(coh.median()) < 0.25


def test_show_filters_keeps_zero_grey_and_sign() -> None:
    w = torch.tensor([[[[0.0, 2.0], [-1.0, 0.5]]]])
    out = fm.show_filters(w)
    assert out[0, 0, 0, 0] == 0.5 and out[0, 0, 0, 1] == 1.0
    assert out[0, 0, 1, 0] == pytest.approx(0.25)


def test_photo_patches_shape_and_range() -> None:
    p = fm.photo_patches(6, 40, seed=1)
    assert p.shape == (40, 3, 6, 6)
    assert 0.0 <= float(p.min()) and float(p.max()) <= 1.0
    assert torch.equal(p, fm.photo_patches(6, 40, seed=1))


def test_sparse_filters_learn_oriented_edges() -> None:
    """小さな設定でも、損失が下がり、乱数よりずっと向きのそろったフィルタになる。"""
    kwargs = dict(n_filters=12, size=8, n_patches=3000, max_iter=80, seed=0)
    out = fm.sparse_filters(**kwargs)
    W = out["filters"]
    assert isinstance(W, torch.Tensor) and W.shape == (12, 3, 8, 8)
    before, after = out["loss"]
    assert after < 0.95 * before
    coh = fm.orientation_coherence(W)
    assert float(coh.median()) > 0.5
    assert torch.equal(W, fm.sparse_filters(**kwargs)["filters"])  # 同じシード


def test_zero_mean_filter_equals_patch_mean_subtraction() -> None:
    """本文の特徴マップ: フィルタの平均を引いてかける = 小片ごとに平均を引いてかける。"""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
    x = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64)
    w0 = w - w.mean(dim=(1, 2, 3), keepdim=True)
    patches = torch.nn.functional.unfold(x, 5)  # (1, 75, 64)
    patches = patches - patches.mean(dim=1, keepdim=True)
    direct = (w.reshape(4, -1) @ patches[0]).reshape(4, 8, 8)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, w0)[0], direct)


def test_dominant_orientation_of_vertical_and_horizontal_edges() -> None:
    """上下で明暗が変わる (横の) エッジは π/2、左右で変わる (縦の) エッジは 0。"""
    horizontal = torch.zeros(1, 3, 8, 8)
    horizontal[..., :4, :] = 1.0
    vertical = horizontal.transpose(2, 3)
    theta = fm.dominant_orientation(torch.cat([horizontal, vertical]))
    assert theta[0] == pytest.approx(torch.pi / 2, abs=1e-6)
    assert theta[1] == pytest.approx(0.0, abs=1e-6)
