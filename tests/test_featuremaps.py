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
