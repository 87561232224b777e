"""dlbook.pooling のテスト: PyTorch (float64) と数値微分の両方と比べる。

許容誤差: PyTorch との比較は float64 で ``rtol=1e-12, atol=1e-14``、
数値微分 (中心差分, eps=1e-6) との相対誤差は ``1e-7`` 未満。
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.gradcheck import check_layer
from dlbook.pooling import (
    AvgPool2d,
    GlobalAvgPool,
    MaxPool2d,
    global_avg_pool,
    global_avg_pool_backward,
)

RTOL, ATOL = 1e-12, 1e-14
GRAD_TOL = 1e-7

# (N, C, H, W, kernel, stride, pad): stride=None は kernel と同じ
CASES = [
    (2, 3, 8, 8, 2, None, 0),
    (2, 2, 7, 9, 3, 2, 1),
    (1, 3, 5, 5, 3, 1, 1),
    (2, 1, 9, 7, 3, None, 0),
    (1, 2, 6, 5, 2, 1, 1),
    (2, 2, 11, 10, 4, 3, 2),
]
IDS = ["N{}C{}H{}W{}K{}S{}P{}".format(*c) for c in CASES]

LAYERS = {
    "max": (MaxPool2d, F.max_pool2d),
    "avg": (AvgPool2d, F.avg_pool2d),
}


def make_input(case: tuple, seed: int = 0) -> np.ndarray:
    N, C, H, W = case[:4]
    return np.random.default_rng(seed).standard_normal((N, C, H, W))


class TestPool2d:
    @pytest.mark.parametrize("kind", LAYERS)
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_forward_backward_match_torch(
        self, kind: str, case: tuple
    ) -> None:
        layer_cls, torch_fn = LAYERS[kind]
        kernel, stride, pad = case[4:]
        x = make_input(case)
        layer = layer_cls(kernel, stride, pad)
        out = layer.forward(x)
        xt = torch.tensor(x, requires_grad=True)
        yt = torch_fn(xt, kernel, stride, pad)  # 既定は count_include_pad
        np.testing.assert_allclose(
            out, yt.detach().numpy(), rtol=RTOL, atol=ATOL
        )
        dout = np.random.default_rng(1).standard_normal(out.shape)
        yt.backward(torch.tensor(dout))
        dx = layer.backward(dout)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=RTOL, atol=ATOL)

    @pytest.mark.parametrize("kind", LAYERS)
    @pytest.mark.parametrize("case", CASES[:3], ids=IDS[:3])
    def test_matches_numerical_gradient(self, kind: str, case: tuple) -> None:
        kernel, stride, pad = case[4:]
        layer = LAYERS[kind][0](kernel, stride, pad)
        errors = check_layer(layer, make_input(case), np.random.default_rng(2))
        assert errors["x"] < GRAD_TOL

    def test_max_routes_to_argmax(self) -> None:
        x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])  # (1, 1, 2, 2)
        layer = MaxPool2d(2)
        np.testing.assert_array_equal(layer.forward(x), [[[[5.0]]]])
        dx = layer.backward(np.array([[[[7.0]]]]))
        np.testing.assert_array_equal(dx, [[[[0.0, 7.0], [0.0, 0.0]]]])

    @pytest.mark.parametrize(
        ("x", "kernel", "stride", "pad"),
        [
            (np.ones((1, 2, 5, 5)), 3, 1, 1),  # 重なる窓がすべて同点
            (np.full((2, 1, 4, 6), -2.0), 3, 1, 1),  # 負の値とパディング
            (np.full((1, 2, 4, 4), 3.0), 2, 2, 0),
            # 0, 1, 2 の整数だけ: 窓ごとに同点の最大値がばらばらに出る
            (np.random.default_rng(5).integers(0, 3, (2, 2, 7, 7)), 3, 1, 1),
            (np.random.default_rng(6).integers(0, 2, (2, 2, 6, 6)), 2, 2, 0),
            (np.random.default_rng(7).integers(0, 2, (1, 3, 7, 6)), 3, 2, 1),
        ],
        ids=["const-K3S1P1", "neg-K3S1P1", "const-K2S2", "int3-K3S1P1",
             "int2-K2S2", "int2-K3S2P1"],
    )  # fmt: skip
    def test_max_ties_go_to_first_like_torch(
        self, x: np.ndarray, kernel: int, stride: int, pad: int
    ) -> None:
        """同じ最大値が複数あるとき、勾配は窓の最初の画素だけに流れる。"""
        x = x.astype(np.float64)
        layer = MaxPool2d(kernel, stride, pad)
        out = layer.forward(x)
        xt = torch.tensor(x, requires_grad=True)
        yt = F.max_pool2d(xt, kernel, stride, pad)
        np.testing.assert_array_equal(out, yt.detach().numpy())
        dout = np.random.default_rng(1).standard_normal(out.shape)
        yt.backward(torch.tensor(dout))
        dx = layer.backward(dout)
        assert xt.grad is not None
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
        # 勾配の総和は保たれる (同点の画素に配り直したり重複させたりしない)
        np.testing.assert_allclose(dx.sum(), dout.sum(), rtol=1e-12)

    def test_max_tie_single_window(self) -> None:
        """2×2 の窓の 4 画素が同点なら、左上の画素が勾配を受ける。"""
        layer = MaxPool2d(2)
        layer.forward(np.full((1, 1, 2, 2), 1.0))
        dx = layer.backward(np.array([[[[5.0]]]]))
        np.testing.assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])

    def test_avg_counts_padding(self) -> None:
        # 角の窓は 1 画素だけが入力で、残り 3 画素は 0 のパディング
        x = np.full((1, 1, 2, 2), 4.0)
        out = AvgPool2d(2, stride=2, pad=1).forward(x)
        np.testing.assert_array_equal(out, np.ones((1, 1, 2, 2)))

    @pytest.mark.parametrize("kind", LAYERS)
    def test_does_not_modify_inputs(self, kind: str) -> None:
        x = make_input(CASES[1])
        x0 = x.copy()
        layer = LAYERS[kind][0](3, 2, 1)
        out = layer.forward(x)
        dout = np.ones_like(out)
        layer.backward(dout)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(dout, np.ones_like(out))

    @pytest.mark.parametrize("layer_cls", [MaxPool2d, AvgPool2d])
    def test_bad_arguments(
        self, layer_cls: type[MaxPool2d] | type[AvgPool2d]
    ) -> None:
        with pytest.raises(ValueError, match="kernel // 2"):
            layer_cls(2, pad=2)
        with pytest.raises(ValueError, match="stride >= 1"):
            layer_cls(2, stride=0)
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            layer_cls(2).forward(np.zeros((3, 4, 4)))
        with pytest.raises(ValueError, match="kernel does not fit"):
            layer_cls(5).forward(np.zeros((1, 1, 3, 3)))

    def test_max_int_input(self) -> None:
        x = np.arange(16).reshape(1, 1, 4, 4)
        out = MaxPool2d(2, pad=1).forward(x)
        expected = [[0, 2, 3], [8, 10, 11], [12, 14, 15]]
        np.testing.assert_array_equal(out[0, 0], expected)


class TestGlobalAvgPool:
    def test_matches_torch(self) -> None:
        x = make_input((2, 3, 5, 4))
        xt = torch.tensor(x, requires_grad=True)
        yt = F.adaptive_avg_pool2d(xt, 1).flatten(1)  # (N, C)
        layer = GlobalAvgPool()
        out = layer.forward(x)
        np.testing.assert_allclose(out, yt.detach().numpy(), rtol=RTOL)
        np.testing.assert_allclose(global_avg_pool(x), out, rtol=RTOL)
        dout = np.random.default_rng(1).standard_normal(out.shape)
        yt.backward(torch.tensor(dout))
        np.testing.assert_allclose(
            layer.backward(dout), xt.grad.numpy(), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            global_avg_pool_backward(dout, x.shape),
            xt.grad.numpy(),
            rtol=RTOL,
            atol=ATOL,
        )

    def test_matches_numerical_gradient(self) -> None:
        errors = check_layer(
            GlobalAvgPool(), make_input((2, 3, 4, 3)), np.random.default_rng(2)
        )
        assert errors["x"] < GRAD_TOL

    def test_bad_input(self) -> None:
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            global_avg_pool(np.zeros((2, 3)))


def test_pooling_rejects_a_list_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"np\.ndarray"):
        MaxPool2d(2).forward(np.zeros((1, 1, 4, 4)).tolist())  # type: ignore[arg-type]
