r"""NumPy によるプーリング (pooling): 最大値・平均・大域平均。

窓の大きさ :math:`K`、ストライド :math:`S`、パディング :math:`P` の
出力の大きさは畳み込みと同じ :math:`\lfloor (H + 2P - K)/S \rfloor + 1`
(``dlbook.conv.conv_output_size``)。プーリングはチャネルごとに働き、
学習するパラメータを持たない。

実装は ``im2col`` と同じ考え方で、窓の中の位置 :math:`(p, q)` について
ループし (K*K 回)、全出力位置の画素をまとめて扱う。
"""

from __future__ import annotations

import numpy as np

from dlbook.conv import conv_output_size
from dlbook.layers import Layer, require_array


def _check_pool_args(kernel: int, stride: int, pad: int) -> None:
    """PyTorch と同じく、パディングは窓の半分までとする。"""
    if kernel < 1 or stride < 1 or pad < 0 or pad > kernel // 2:
        raise ValueError(
            "kernel, stride は 1 以上、pad は 0 以上 kernel // 2 以下 "
            "(kernel, stride >= 1 and 0 <= pad <= kernel // 2): "
            f"kernel={kernel}, stride={stride}, pad={pad}"
        )


def _check_input(x: np.ndarray) -> None:
    require_array(x)
    if x.ndim != 4:
        raise ValueError(
            f"入力は (N, C, H, W) の 4 次元 (expected (N, C, H, W)): {x.shape}"
        )


class _Pool2d(Layer):
    """プーリング層の共通部分: 窓の大きさ・ストライド・パディングを検査して持つ。"""

    def __init__(
        self, kernel: int, stride: int | None = None, pad: int = 0
    ) -> None:
        super().__init__()
        stride = kernel if stride is None else stride
        _check_pool_args(kernel, stride, pad)
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.x_shape: tuple[int, int, int, int] | None = None


class MaxPool2d(_Pool2d):
    r"""最大プーリング (max pooling)。

    .. math::
        y_{n,c,i,j} = \max_{0 \le p, q < K} x_{n,c,Si+p,Sj+q}

    パディングは :math:`-\infty` で埋める (最大値に影響しない)。
    逆伝播では、勾配は窓の中で最大だった画素 (argmax) にだけ流れる:
    :math:`\partial L/\partial x_{n,c,Si+p^*,Sj+q^*} \mathrel{+}=
    \delta_{n,c,i,j}`。同じ最大値が複数あるときは最初の画素
    (PyTorch と同じ)。

    Args:
        kernel: 窓の大きさ :math:`K`。
        stride: ストライド :math:`S` (``None`` なら :math:`K`)。
        pad: パディング :math:`P` (:math:`K/2` 以下)。

    Shape:
        - 入力: ``(N, C, H, W)``
        - 出力: ``(N, C, OH, OW)``
    """

    def __init__(
        self, kernel: int, stride: int | None = None, pad: int = 0
    ) -> None:
        super().__init__(kernel, stride, pad)
        self.argmax: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        _check_input(x)
        K, S, P = self.kernel, self.stride, self.pad
        N, C, H, W = x.shape
        OH = conv_output_size(H, K, S, P)
        OW = conv_output_size(W, K, S, P)
        x = x.astype(np.result_type(x, 1.0), copy=False)  # -inf を入れるため
        xp = np.pad(
            x, ((0, 0), (0, 0), (P, P), (P, P)), constant_values=-np.inf
        )
        # 窓の中の位置 (p, q) ごとの画素を並べる
        windows = np.empty((K * K, N, C, OH, OW), dtype=x.dtype)
        for p in range(K):
            for q in range(K):
                windows[p * K + q] = xp[
                    :, :, p : p + S * OH : S, q : q + S * OW : S
                ]  # (N, C, OH, OW)
        self.argmax = windows.argmax(axis=0)  # (N, C, OH, OW)、値は p*K+q
        self.x_shape = (N, C, H, W)
        return np.take_along_axis(windows, self.argmax[None], axis=0)[0]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x_shape is not None and self.argmax is not None, (
            "forward を先に呼ぶ"
        )
        K, S, P = self.kernel, self.stride, self.pad
        N, C, H, W = self.x_shape
        OH, OW = dout.shape[2:]
        dxp = np.zeros((N, C, H + 2 * P, W + 2 * P), dtype=dout.dtype)
        for p in range(K):
            for q in range(K):
                # 位置 (p, q) が最大だった窓の勾配だけを戻す
                routed = np.where(self.argmax == p * K + q, dout, 0.0)
                dxp[:, :, p : p + S * OH : S, q : q + S * OW : S] += routed
        return dxp[:, :, P : P + H, P : P + W].copy()  # (N, C, H, W)

    def __repr__(self) -> str:
        return (
            f"MaxPool2d(kernel={self.kernel}, stride={self.stride}, "
            f"pad={self.pad})"
        )


class AvgPool2d(_Pool2d):
    r"""平均プーリング (average pooling)。

    .. math::
        y_{n,c,i,j} = \frac{1}{K^2} \sum_{0 \le p, q < K}
            x_{n,c,Si+p,Sj+q}

    パディングは 0 で埋め、割る数はいつも :math:`K^2` とする
    (PyTorch の既定 ``count_include_pad=True`` と同じ)。逆伝播では
    各窓の勾配を窓の全画素に :math:`\delta / K^2` ずつ配る。

    Args:
        kernel: 窓の大きさ :math:`K`。
        stride: ストライド :math:`S` (``None`` なら :math:`K`)。
        pad: パディング :math:`P` (:math:`K/2` 以下)。

    Shape:
        - 入力: ``(N, C, H, W)``
        - 出力: ``(N, C, OH, OW)``
    """

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        _check_input(x)
        K, S, P = self.kernel, self.stride, self.pad
        N, C, H, W = x.shape
        OH = conv_output_size(H, K, S, P)
        OW = conv_output_size(W, K, S, P)
        xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        out = np.zeros((N, C, OH, OW), dtype=np.result_type(x, 1.0))
        for p in range(K):
            for q in range(K):
                out += xp[:, :, p : p + S * OH : S, q : q + S * OW : S]
        self.x_shape = (N, C, H, W)
        return out / (K * K)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x_shape is not None, "forward を先に呼ぶ"
        K, S, P = self.kernel, self.stride, self.pad
        N, C, H, W = self.x_shape
        OH, OW = dout.shape[2:]
        share = dout / (K * K)  # 窓の各画素への取り分
        dxp = np.zeros((N, C, H + 2 * P, W + 2 * P), dtype=share.dtype)
        for p in range(K):
            for q in range(K):
                dxp[:, :, p : p + S * OH : S, q : q + S * OW : S] += share
        return dxp[:, :, P : P + H, P : P + W].copy()  # (N, C, H, W)

    def __repr__(self) -> str:
        return (
            f"AvgPool2d(kernel={self.kernel}, stride={self.stride}, "
            f"pad={self.pad})"
        )


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    r"""大域平均プーリング (global average pooling)。

    .. math::
        y_{n,c} = \frac{1}{HW} \sum_{h,w} x_{n,c,h,w}

    特徴マップ全体の平均で 1 チャネルを 1 つの数にする
    (``torch.nn.AdaptiveAvgPool2d(1)`` の後に平らにしたものと同じ)。

    Shape:
        - x: ``(N, C, H, W)``
        - 出力: ``(N, C)``
    """
    _check_input(x)
    return x.mean(axis=(2, 3))  # (N, C)


def global_avg_pool_backward(
    dout: np.ndarray, x_shape: tuple[int, int, int, int]
) -> np.ndarray:
    r"""``global_avg_pool`` の逆伝播: 勾配を全画素に :math:`1/(HW)` ずつ配る。

    Shape:
        - dout: ``(N, C)``
        - 出力: ``x_shape`` = ``(N, C, H, W)``
    """
    N, C, H, W = x_shape
    dx = dout[:, :, None, None] / (H * W)  # (N, C, 1, 1)
    return np.broadcast_to(dx, (N, C, H, W)).copy()  # (N, C, H, W)


class GlobalAvgPool(Layer):
    """大域平均プーリングの層 (``global_avg_pool`` とその逆伝播)。

    Shape:
        - 入力: ``(N, C, H, W)``
        - 出力: ``(N, C)``
    """

    def __init__(self) -> None:
        super().__init__()
        self.x_shape: tuple[int, int, int, int] | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        out = global_avg_pool(x)
        N, C, H, W = x.shape
        self.x_shape = (N, C, H, W)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x_shape is not None, "forward を先に呼ぶ"
        return global_avg_pool_backward(dout, self.x_shape)

    def __repr__(self) -> str:
        return "GlobalAvgPool()"
