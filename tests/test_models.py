"""dlbook.models のテスト: 出力の形と、手で数えたパラメータ数。"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlbook.models import (
    MLP,
    AlexNetSmall,
    LeNet5,
    SmallCNN,
    count_parameters,
    layer_shapes,
)


def _linear(d_in: int, d_out: int) -> int:
    return d_in * d_out + d_out  # 重み + バイアス


def _conv(c_in: int, c_out: int, k: int) -> int:
    return c_out * c_in * k * k + c_out


class TestMLP:
    @pytest.mark.parametrize(
        "shape",
        [(5, 1, 28, 28), (5, 784)],
        ids=["image", "flat"],
    )
    def test_output_shape(self, shape: tuple[int, ...]) -> None:
        net = MLP(784, 128, 10)
        assert net(torch.zeros(shape)).shape == (5, 10)

    def test_params_784_128_10(self) -> None:
        # 784*128 + 128 + 128*10 + 10 = 101,770
        assert count_parameters(MLP(784, 128, 10)) == 101_770
        assert _linear(784, 128) + _linear(128, 10) == 101_770

    def test_digits_8x8_and_deeper(self) -> None:
        net = MLP(64, (32, 16), 10, dropout=0.1)
        assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
        expected = _linear(64, 32) + _linear(32, 16) + _linear(16, 10)
        assert count_parameters(net) == expected


class TestSmallCNN:
    def test_shape_and_params(self) -> None:
        net = SmallCNN()
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
        bn = 2 * (32 + 64 + 64)  # BatchNorm の γ と β
        expected = (
            _conv(3, 32, 3)
            + _conv(32, 64, 3)
            + _conv(64, 64, 3)
            + bn
            + _linear(64 * 4 * 4, 128)
            + _linear(128, 10)
        )
        assert count_parameters(net) == expected == 189_130

    def test_bad_input_size(self) -> None:
        with pytest.raises(ValueError, match="8 の倍数"):
            SmallCNN(input_size=30)


class TestLeNet5:
    @pytest.mark.parametrize("size", [28, 32])
    def test_shape_and_params(self, size: int) -> None:
        net = LeNet5(input_size=size)
        assert net(torch.zeros(2, 1, size, size)).shape == (2, 10)
        expected = (
            _conv(1, 6, 5)
            + _conv(6, 16, 5)
            + _linear(400, 120)
            + _linear(120, 84)
            + _linear(84, 10)
        )
        assert count_parameters(net) == expected == 61_706

    def test_modern_uses_relu_and_maxpool(self) -> None:
        kinds = {type(m) for m in LeNet5(modern=True).modules()}
        assert nn.ReLU in kinds and nn.MaxPool2d in kinds
        assert nn.Tanh not in kinds

    def test_bad_input_size(self) -> None:
        with pytest.raises(ValueError, match="28 か 32"):
            LeNet5(input_size=64)


class TestAlexNetSmall:
    def test_shape_and_params(self) -> None:
        net = AlexNetSmall()
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
        convs = (
            _conv(3, 32, 3)
            + _conv(32, 64, 3)
            + _conv(64, 96, 3)
            + _conv(96, 96, 3)
            + _conv(96, 64, 3)
        )
        fcs = _linear(1024, 256) + _linear(256, 256) + _linear(256, 10)
        assert count_parameters(net) == convs + fcs


class TestLayerShapes:
    def test_lenet_rows(self) -> None:
        rows = layer_shapes(LeNet5(), (1, 1, 28, 28))
        names = [name for name, _, _ in rows]
        shapes = [shape for _, shape, _ in rows]
        assert names[0] == "features.0 (Conv2d)"
        assert shapes[0] == (1, 6, 28, 28)
        assert (1, 16, 5, 5) in shapes
        assert shapes[-1] == (1, 10)
        assert sum(n for _, _, n in rows) == 61_706

    def test_restores_training_mode(self) -> None:
        net = SmallCNN()
        net.train()
        layer_shapes(net, (2, 3, 32, 32))
        assert net.training
        # フックが残っていない
        assert all(not m._forward_hooks for m in net.modules())

    def test_count_all_vs_trainable(self) -> None:
        net = MLP(4, 3, 2)
        for p in net.net[1].parameters():
            p.requires_grad_(False)
        assert count_parameters(net) == _linear(3, 2)
        assert count_parameters(net, trainable_only=False) == (
            _linear(4, 3) + _linear(3, 2)
        )
