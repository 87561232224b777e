"""dlbook.conv のテスト: PyTorch (float64) と数値微分の両方と比べる。

許容誤差: PyTorch との比較は float64 で ``rtol=1e-10, atol=1e-12``、
数値微分 (中心差分, eps=1e-6) との相対誤差は ``1e-7`` 未満。
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.conv import (
    Conv2d,
    Conv2dNaive,
    Conv2dSimple,
    col2im,
    conv2d,
    conv2d_input_grad_by_flip,
    conv2d_naive,
    conv_output_size,
    im2col,
)
from dlbook.gradcheck import check_layer
from dlbook.parallel import blas_threads

RTOL, ATOL = 1e-10, 1e-12
GRAD_TOL = 1e-7

# (N, C, H, W, FN, FH, FW, stride, pad): 奇数の大きさ、非正方形、
# ストライドで余りが出る場合、パディングがフィルタ半分を超える場合を含む
CASES = [
    (2, 3, 7, 7, 4, 3, 3, 1, 1),
    (2, 3, 8, 7, 5, 3, 3, 2, 0),
    (1, 2, 9, 11, 3, 5, 5, 3, 2),
    (2, 1, 5, 6, 2, 2, 2, 2, 1),
    (3, 2, 6, 5, 2, 1, 1, 1, 0),
    (1, 3, 7, 8, 2, 3, 2, 2, 2),
    (2, 2, 4, 4, 3, 4, 4, 1, 0),
    (1, 2, 5, 5, 2, 3, 3, 1, 3),
]
IDS = ["N{}C{}H{}W{}FN{}FH{}FW{}S{}P{}".format(*c) for c in CASES]


def make_case(
    case: tuple[int, ...], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    N, C, H, W, FN, FH, FW, stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    weight = rng.standard_normal((FN, C, FH, FW))
    b = rng.standard_normal(FN)
    return x, weight, b, stride, pad


def torch_conv(
    x: np.ndarray,
    weight: np.ndarray,
    b: np.ndarray,
    stride: int,
    pad: int,
    dout: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """PyTorch で順伝播し、dout があれば逆伝播も (y, dx, dW, db) を返す。

    dout が None なら (y,) だけを返す。
    """
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    if dout is None:
        return (yt.detach().numpy(),)
    yt.backward(torch.tensor(dout))
    grads = (xt.grad, wt.grad, bt.grad)
    return (yt.detach().numpy(), *(g.numpy() for g in grads))


class TestConvOutputSize:
    @pytest.mark.parametrize("stride", [1, 2, 3])
    @pytest.mark.parametrize("pad", [0, 1, 2])
    def test_matches_torch_over_grid(self, stride: int, pad: int) -> None:
        # meta デバイスなら PyTorch は形だけを計算する (速い)
        for H, K in itertools.product(range(1, 10), range(1, 6)):
            if H + 2 * pad < K:
                with pytest.raises(ValueError, match="収まらない"):
                    conv_output_size(H, K, stride, pad)
                continue
            x = torch.empty(1, 1, H, 1, device="meta")
            w = torch.empty(1, 1, K, 1, device="meta")
            y = F.conv2d(x, w, stride=stride, padding=pad)
            assert conv_output_size(H, K, stride, pad) == y.shape[2]

    @pytest.mark.parametrize(
        ("args", "match"),
        [
            ((3, 5, 1, 0), "kernel does not fit"),
            ((4, 9, 2, 2), "収まらない"),
            ((0, 1, 1, 0), "size, kernel, stride は 1 以上"),
            ((5, 0, 1, 0), "must be >= 1"),
            ((5, 3, 0, 0), "stride"),
            ((5, 3, 1, -1), "pad >= 0"),
            ((5.0, 3, 1, 0), "size は整数"),
            ((5, 3, True, 0), "stride must be an int"),
        ],
    )
    def test_bad_arguments(self, args: tuple, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            conv_output_size(*args)

    def test_floor_division(self) -> None:
        # (7 + 0 - 3) / 2 = 2 → 3 (余りの 1 行は使われない)
        assert conv_output_size(7, 3, 2, 0) == 3
        assert conv_output_size(np.int64(32), 3, 1, 1) == 32


class TestIm2col:
    def test_shape_and_column(self) -> None:
        x, _, _, _, _ = make_case((2, 3, 5, 6, 1, 3, 2, 2, 1))
        col = im2col(x, 3, 2, stride=2, pad=1)
        OH, OW = conv_output_size(5, 3, 2, 1), conv_output_size(6, 2, 2, 1)
        assert col.shape == (3 * 3 * 2, 2 * OH * OW)
        # 列 (n=1, i=1, j=2) は窓 xp[1, :, 2:5, 4:6] を平らにしたもの
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        column = col[:, 1 * OH * OW + 1 * OW + 2]
        np.testing.assert_array_equal(column, xp[1, :, 2:5, 4:6].ravel())

    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_col2im_is_adjoint(self, case: tuple[int, ...]) -> None:
        # <im2col(x), c> = <x, col2im(c)>: col2im は im2col の転置 (随伴)
        x, weight, _, stride, pad = make_case(case)
        FH, FW = weight.shape[2:]
        col = im2col(x, FH, FW, stride, pad)
        c = np.random.default_rng(1).standard_normal(col.shape)
        lhs = np.sum(col * c)
        rhs = np.sum(x * col2im(c, x.shape, FH, FW, stride, pad))
        assert lhs == pytest.approx(rhs, rel=1e-12)

    def test_out_buffer(self) -> None:
        x, _, _, _, _ = make_case(CASES[0])  # (2, 3, 7, 7)
        buf = np.empty((3 * 3 * 3, 2 * 7 * 7))
        col = im2col(x, 3, 3, 1, 1, out=buf)
        assert col is buf
        np.testing.assert_array_equal(col, im2col(x, 3, 3, 1, 1))
        with pytest.raises(ValueError, match="C-contiguous"):
            im2col(x, 3, 3, 1, 1, out=np.empty((98, 27)).T)
        with pytest.raises(ValueError, match="C 連続"):
            im2col(x, 3, 3, 1, 1, out=np.empty((27, 97)))

    @pytest.mark.parametrize("pad", [0, 2])
    def test_col2im_out_buffer(self, pad: int) -> None:
        x, _, _, _, _ = make_case(CASES[0])  # (2, 3, 7, 7)
        c = np.random.default_rng(1).standard_normal(
            im2col(x, 3, 3, 1, pad).shape
        )
        expected = col2im(c, x.shape, 3, 3, 1, pad)
        buf = np.full(x.shape, np.nan)  # 前の中身は結果に残らない
        assert col2im(c, x.shape, 3, 3, 1, pad, out=buf) is buf
        np.testing.assert_array_equal(buf, expected)

    def test_does_not_modify_input(self) -> None:
        x, _, _, _, _ = make_case(CASES[0])
        x0 = x.copy()
        col = im2col(x, 3, 3, 1, 1)
        col0 = col.copy()
        col2im(col, x.shape, 3, 3, 1, 1)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(col, col0)


class TestForward:
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_all_versions_match_torch(self, case: tuple[int, ...]) -> None:
        x, weight, b, stride, pad = make_case(case)
        (expected,) = torch_conv(x, weight, b, stride, pad)
        outs = {
            "conv2d_naive": conv2d_naive(x, weight, b, stride, pad),
            "conv2d": conv2d(x, weight, b, stride, pad),
            "Conv2dNaive": Conv2dNaive(weight, b, stride, pad).forward(x),
            "Conv2d": Conv2d(weight, b, stride, pad).forward(x),
        }
        for name, out in outs.items():
            np.testing.assert_allclose(
                out, expected, rtol=RTOL, atol=ATOL, err_msg=name
            )

    def test_naive_equals_im2col(self) -> None:
        x, weight, b, stride, pad = make_case((2, 4, 9, 10, 3, 3, 3, 2, 1))
        np.testing.assert_allclose(
            conv2d_naive(x, weight, b, stride, pad),
            conv2d(x, weight, b, stride, pad),
            rtol=RTOL,
            atol=ATOL,
        )

    def test_without_bias(self) -> None:
        x, weight, _, stride, pad = make_case(CASES[0])
        zero = np.zeros(weight.shape[0])
        (expected,) = torch_conv(x, weight, zero, stride, pad)
        np.testing.assert_allclose(
            conv2d(x, weight, None, stride, pad), expected, rtol=RTOL
        )

    def test_float32_is_kept(self) -> None:
        x, weight, b, _, _ = make_case(CASES[0])
        layer = Conv2d(weight.astype(np.float32), b.astype(np.float32), 1, 1)
        out = layer.forward(x.astype(np.float32))
        assert out.dtype == np.float32
        dx = layer.backward(np.ones_like(out))
        assert dx.dtype == np.float32
        assert layer.grads["W"].dtype == np.float32


class TestBackward:
    @pytest.mark.parametrize("layer_cls", [Conv2d, Conv2dNaive, Conv2dSimple])
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_matches_torch(
        self, layer_cls: type[Conv2d] | type[Conv2dNaive], case: tuple
    ) -> None:
        x, weight, b, stride, pad = make_case(case)
        layer = layer_cls(weight, b, stride, pad)
        out = layer.forward(x)
        dout = np.random.default_rng(2).standard_normal(out.shape)
        _, dx_t, dW_t, db_t = torch_conv(x, weight, b, stride, pad, dout)
        dx = layer.backward(dout)
        np.testing.assert_allclose(dx, dx_t, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(
            layer.grads["W"], dW_t, rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            layer.grads["b"], db_t, rtol=RTOL, atol=ATOL
        )

    @pytest.mark.parametrize("layer_cls", [Conv2d, Conv2dNaive, Conv2dSimple])
    @pytest.mark.parametrize(
        "case",
        [(2, 2, 5, 5, 3, 3, 3, 1, 1), (1, 2, 6, 5, 2, 3, 2, 2, 1)],
        ids=["S1P1", "S2P1-rect"],
    )
    def test_matches_numerical_gradient(
        self, layer_cls: type[Conv2d] | type[Conv2dNaive], case: tuple
    ) -> None:
        x, weight, b, stride, pad = make_case(case)
        layer = layer_cls(weight, b, stride, pad)
        errors = check_layer(layer, x, np.random.default_rng(3))
        assert set(errors) == {"x", "W", "b"}
        for name, err in errors.items():
            assert err < GRAD_TOL, f"{name}: {err}"

    def test_does_not_modify_inputs(self) -> None:
        x, weight, b, stride, pad = make_case(CASES[1])
        for layer in (
            Conv2d(weight, b, stride, pad),
            Conv2dNaive(weight, b, stride, pad),
        ):
            x0 = x.copy()
            out = layer.forward(x)
            dout = np.ones_like(out)
            layer.backward(dout)
            np.testing.assert_array_equal(x, x0)
            np.testing.assert_array_equal(dout, np.ones_like(out))

    def test_work_buffers_do_not_leak_into_results(self) -> None:
        # Conv2d は大きな作業用配列を使い回すが、返す配列は毎回新しい
        x, weight, b, stride, pad = make_case(CASES[0])
        layer = Conv2d(weight, b, stride, pad)
        y1 = layer.forward(x)
        dx1 = layer.backward(np.ones_like(y1))
        y1_copy, dx1_copy = y1.copy(), dx1.copy()
        y2 = layer.forward(2.0 * x)
        layer.backward(np.full_like(y2, 3.0))
        np.testing.assert_array_equal(y1, y1_copy)
        np.testing.assert_array_equal(dx1, dx1_copy)
        # バッチの大きさが変わっても正しい
        (expected,) = torch_conv(x[:1], weight, b, stride, pad)
        np.testing.assert_allclose(
            layer.forward(x[:1]), expected, rtol=RTOL, atol=ATOL
        )

    @pytest.mark.parametrize("workers", [1, 2, 3])
    @pytest.mark.parametrize("chunk", [1, 2, 3, 5, 100])
    @pytest.mark.parametrize("stride", [1, 2])
    def test_chunk_and_workers_do_not_change_results(
        self, chunk: int, workers: int, stride: int
    ) -> None:
        # 5 枚を chunk 枚ずつ (割り切れない・バッチより大きい場合も)、
        # workers 本のスレッドで計算する
        case = (5, 3, 8, 7, 4, 3, 3, stride, 1)
        x, weight, b, stride, pad = make_case(case)
        layer = Conv2d(weight, b, stride, pad, chunk=chunk, workers=workers)
        out = layer.forward(x)
        dout = np.random.default_rng(2).standard_normal(out.shape)
        expected = torch_conv(x, weight, b, stride, pad, dout)
        dx = layer.backward(dout)
        got = (out, dx, layer.grads["W"], layer.grads["b"])
        names = ("y", "dx", "dW", "db")
        for name, g, e in zip(names, got, expected, strict=True):
            np.testing.assert_allclose(
                g, e, rtol=RTOL, atol=ATOL, err_msg=name
            )

    def test_default_workers_follow_blas_threads(self) -> None:
        # workers=None: BLAS のスレッド数 (threadpool_limits で 1 と 2)
        from threadpoolctl import threadpool_limits

        x, weight, b, stride, pad = make_case((4, 2, 6, 6, 3, 3, 3, 1, 1))
        layer = Conv2d(weight, b, stride, pad, chunk=1)
        (expected,) = torch_conv(x, weight, b, stride, pad)
        for threads in (1, 2):
            layer._work.clear()
            with threadpool_limits(limits=threads, user_api="blas"):
                np.testing.assert_allclose(
                    layer.forward(x), expected, rtol=RTOL, atol=ATOL
                )
                used = blas_threads()  # 1 CPU の計算機では 2 にならない
            # 作業用配列はスレッドごと (番号は 0 から used - 1)
            assert {w for (_, w) in layer._work} <= set(range(used))

    @pytest.mark.parametrize("chunk", [0, -1, 2.0, True])
    def test_bad_chunk(self, chunk: object) -> None:
        _, weight, b, _, _ = make_case(CASES[0])
        with pytest.raises(ValueError, match="chunk"):
            Conv2d(weight, b, chunk=chunk)  # type: ignore[arg-type]

    @pytest.mark.parametrize("workers", [0, -2, 1.5, False])
    def test_bad_workers(self, workers: object) -> None:
        _, weight, b, _, _ = make_case(CASES[0])
        with pytest.raises(ValueError, match="workers"):
            Conv2d(weight, b, workers=workers)  # type: ignore[arg-type]

    def test_input_changed_after_forward(self) -> None:
        # 順伝播で使った x を後から書き換えても、勾配は順伝播の x のもの
        x, weight, b, stride, pad = make_case(CASES[0])
        layer = Conv2d(weight, b, stride, pad)
        dout = np.ones_like(layer.forward(x))
        _, _, dW_t, _ = torch_conv(x, weight, b, stride, pad, dout)
        x[...] = 0.0
        layer.backward(dout)
        np.testing.assert_allclose(
            layer.grads["W"], dW_t, rtol=RTOL, atol=ATOL
        )

    def test_backward_before_forward(self) -> None:
        _, weight, b, _, _ = make_case(CASES[0])
        with pytest.raises(AssertionError, match="forward"):
            Conv2d(weight, b).backward(np.zeros((1, 4, 3, 3)))


class TestFlippedKernel:
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_equals_backward_dx(self, case: tuple[int, ...]) -> None:
        x, weight, b, stride, pad = make_case(case)
        layer = Conv2d(weight, b, stride, pad)
        out = layer.forward(x)
        dout = np.random.default_rng(4).standard_normal(out.shape)
        dx = layer.backward(dout)
        H, W = x.shape[2:]
        flipped = conv2d_input_grad_by_flip(dout, weight, stride, pad, (H, W))
        np.testing.assert_allclose(flipped, dx, rtol=RTOL, atol=ATOL)

    def test_default_input_size_stride1(self) -> None:
        x, weight, b, _, _ = make_case(CASES[0])  # stride 1 なら余りはない
        layer = Conv2d(weight, b, 1, 1)
        dout = np.ones_like(layer.forward(x))
        flipped = conv2d_input_grad_by_flip(dout, weight, 1, 1)
        np.testing.assert_allclose(flipped, layer.backward(dout), rtol=RTOL)

    def test_bad_input_size(self) -> None:
        _, weight, _, _, _ = make_case(CASES[0])
        dout = np.ones((2, 4, 7, 7))
        with pytest.raises(ValueError, match="input_size"):
            conv2d_input_grad_by_flip(dout, weight, 1, 1, (9, 9))


class TestLayerErrors:
    def test_bad_weight_shapes(self) -> None:
        with pytest.raises(ValueError, match="FN, C, FH, FW"):
            Conv2d(np.zeros((2, 3, 3)), np.zeros(2))
        with pytest.raises(ValueError, match=r"b \(FN,\)"):
            Conv2d(np.zeros((2, 3, 3, 3)), np.zeros(3))
        with pytest.raises(ValueError, match="stride"):
            Conv2dNaive(np.zeros((2, 3, 3, 3)), np.zeros(2), stride=0)

    def test_channel_mismatch(self) -> None:
        layer = Conv2d(np.zeros((2, 3, 3, 3)), np.zeros(2))
        with pytest.raises(ValueError, match="C が等しい"):
            layer.forward(np.zeros((1, 4, 5, 5)))

    def test_kernel_too_large(self) -> None:
        layer = Conv2d(np.zeros((2, 1, 5, 5)), np.zeros(2))
        with pytest.raises(ValueError, match="kernel does not fit"):
            layer.forward(np.zeros((1, 1, 3, 3)))

    def test_from_init(self) -> None:
        rng = np.random.default_rng(0)
        layer = Conv2d.from_init(3, 8, 3, rng, stride=2, pad=1)
        assert isinstance(layer, Conv2d)
        assert layer.params["W"].shape == (8, 3, 3, 3)
        np.testing.assert_array_equal(layer.params["b"], np.zeros(8))
        assert "stride=2, pad=1" in repr(layer)
        with pytest.raises(ValueError, match="未知の初期化"):
            Conv2d.from_init(3, 8, 3, rng, init="zeros")


class TestIntegerInput:
    """読者が np.arange で作る整数の入力でも、小数の結果と勾配を返す。"""

    def test_conv2d_with_float_bias_matches_naive(self) -> None:
        x = np.arange(2 * 3 * 6 * 6).reshape(2, 3, 6, 6)
        W = np.arange(4 * 3 * 3 * 3).reshape(4, 3, 3, 3) % 5 - 2
        b = np.array([0.5, -1.0, 0.25, 2.0])
        expected = conv2d_naive(x, W, b, 1, 1)
        np.testing.assert_allclose(conv2d(x, W, b, 1, 1), expected)
        ref = F.conv2d(
            torch.tensor(x, dtype=torch.float64),
            torch.tensor(W, dtype=torch.float64),
            torch.tensor(b),
            padding=1,
        )
        np.testing.assert_allclose(expected, ref.numpy())

    @pytest.mark.parametrize("layer_cls", [Conv2d, Conv2dNaive])
    def test_backward_on_integer_input(self, layer_cls: type) -> None:
        x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
        rng = np.random.default_rng(0)
        W, b = rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
        layer = layer_cls(W, b, stride=1, pad=1)
        dout = rng.standard_normal(layer.forward(x).shape)
        dx = layer.backward(dout)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        F.conv2d(xt, torch.tensor(W), torch.tensor(b), padding=1).backward(
            torch.tensor(dout)
        )
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)


def test_flip_gradient_rejects_mismatched_filters() -> None:
    with pytest.raises(ValueError, match="FN が等しい"):
        conv2d_input_grad_by_flip(
            np.zeros((1, 4, 5, 5)), np.zeros((2, 3, 3, 3))
        )


def test_conv_rejects_a_list_with_a_clear_error() -> None:
    x = np.zeros((1, 1, 4, 4)).tolist()
    with pytest.raises(TypeError, match=r"np\.ndarray"):
        conv2d(x, np.zeros((1, 1, 3, 3)))  # type: ignore[arg-type]
    layer = Conv2d(np.zeros((1, 1, 3, 3)), np.zeros(1))
    with pytest.raises(TypeError, match=r"np\.ndarray"):
        layer.forward(x)  # type: ignore[arg-type]


class TestSimpleEqualsFast:
    """本文で読む Conv2dSimple と、塊に分けた速い Conv2d は同じ値を返す。"""

    @pytest.mark.parametrize("case", CASES, ids=IDS)
    @pytest.mark.parametrize("chunk, workers", [(1, 1), (2, 2), (4, None)])
    def test_same_forward_and_gradients(
        self, case: tuple, chunk: int, workers: int | None
    ) -> None:
        x, weight, b, stride, pad = make_case(case, seed=5)
        simple = Conv2dSimple(weight, b, stride, pad)
        fast = Conv2d(weight, b, stride, pad, chunk=chunk, workers=workers)
        y_s, y_f = simple.forward(x), fast.forward(x)
        np.testing.assert_allclose(y_s, y_f, rtol=RTOL, atol=ATOL)
        dout = np.random.default_rng(6).standard_normal(y_s.shape)
        np.testing.assert_allclose(
            simple.backward(dout), fast.backward(dout), rtol=RTOL, atol=ATOL
        )
        for name in ("W", "b"):
            np.testing.assert_allclose(
                simple.grads[name], fast.grads[name], rtol=RTOL, atol=ATOL
            )

    def test_backward_before_forward_is_an_error(self) -> None:
        layer = Conv2dSimple(np.ones((1, 1, 3, 3)), np.zeros(1))
        with pytest.raises(AssertionError, match="forward"):
            layer.backward(np.ones((1, 1, 2, 2)))
