r"""NumPy による畳み込み (convolution): ループ版と im2col 版。

深層学習の「畳み込み」は、実際には相互相関 (cross-correlation)
である。入力 :math:`x` (チャネル :math:`C`)、フィルタ :math:`W`、
バイアス :math:`b`、ストライド :math:`S` に対して

.. math::
    y_{n,f,i,j} = b_f + \sum_{c=0}^{C-1} \sum_{p=0}^{F_H-1}
        \sum_{q=0}^{F_W-1} W_{f,c,p,q}\, x_{n,c,Si+p,Sj+q}

(:math:`x` は周囲を :math:`P` 画素の 0 で埋めたもの)。

- ``conv2d_naive`` / ``Conv2dNaive``: 式をそのままループで書いたもの (読む用)。
- ``im2col`` / ``col2im`` / ``conv2d`` / ``Conv2dSimple``: 窓を列に並べて
  畳み込みを 1 回の行列積にしたもの (本文で読む短い版)。
- ``Conv2d``: 同じ計算を塊に分け、作業用の配列を使い回す速い版 (結果は同じ)。
- ``conv2d_input_grad_by_flip``: 入力に関する勾配が、180° 回したフィルタ
  による "full" 相互相関であることを確かめる関数。

列の並びは ``(C*FH*FW, N*OH*OW)`` とした。重み ``(FN, C*FH*FW)`` を
左から掛けるだけで済み、大きな転置をしなくてよいからである。
"""

from __future__ import annotations

import math
from typing import Self

import numpy as np

from dlbook.init import INITIALIZERS
from dlbook.layers import Layer, require_array
from dlbook.parallel import map_chunks
from dlbook.windows import Windows


def conv_output_size(
    size: int, kernel: int, stride: int = 1, pad: int = 0
) -> int:
    r"""畳み込み・プーリングの出力の大きさ (1 辺)。

    .. math::
        O = \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1

    Args:
        size: 入力の大きさ :math:`H` (高さか幅)。
        kernel: フィルタ (窓) の大きさ :math:`K`。
        stride: ストライド :math:`S` (1 以上)。
        pad: パディング :math:`P` (0 以上)。

    Returns:
        出力の大きさ :math:`O` (1 以上)。

    Raises:
        ValueError: 引数が整数でない・範囲外のとき、またはフィルタが
            パディングした入力に収まらず出力が 1 未満になるとき。
    """
    args = {"size": size, "kernel": kernel, "stride": stride, "pad": pad}
    for name, value in args.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(
                f"{name} は整数でなければならない ({name} must be an int): "
                f"{value!r}"
            )
    if size < 1 or kernel < 1 or stride < 1 or pad < 0:
        raise ValueError(
            "size, kernel, stride は 1 以上、pad は 0 以上でなければならない "
            "(size, kernel, stride must be >= 1 and pad >= 0): "
            f"size={size}, kernel={kernel}, stride={stride}, pad={pad}"
        )
    if size + 2 * pad < kernel:
        raise ValueError(
            "フィルタがパディングした入力に収まらない "
            "(kernel does not fit in the padded input; output size < 1): "
            f"size={size}, kernel={kernel}, stride={stride}, pad={pad}"
        )
    return (size + 2 * pad - kernel) // stride + 1


def _check_conv_args(x: np.ndarray, W: np.ndarray) -> None:
    """入力 ``(N, C, H, W)`` とフィルタ ``(FN, C, FH, FW)`` の形を確かめる。"""
    require_array(x)
    require_array(W, "W")
    if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
        raise ValueError(
            "入力は (N, C, H, W)、フィルタは (FN, C, FH, FW) で C が等しい "
            "(expected x (N, C, H, W) and W (FN, C, FH, FW)): "
            f"x {x.shape}, W {W.shape}"
        )


def conv2d_naive(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None = None,
    stride: int = 1,
    pad: int = 0,
) -> np.ndarray:
    r"""畳み込みを定義どおりのループで計算する (遅い。読むための版)。

    出力の各位置 :math:`(n, i, j)` で入力の窓を切り出し、
    全フィルタとの要素積の和 :math:`\sum_{c,p,q} W_{f,c,p,q}
    x_{n,c,Si+p,Sj+q}` を求める。

    Args:
        x: 入力。
        W: フィルタ。
        b: バイアス (``None`` なら 0)。
        stride: ストライド :math:`S`。
        pad: 上下左右に足す 0 の幅 :math:`P`。

    Returns:
        出力特徴マップ。

    Shape:
        - x: ``(N, C, H, W)``
        - W: ``(FN, C, FH, FW)``
        - b: ``(FN,)``
        - 出力: ``(N, FN, OH, OW)``
    """
    _check_conv_args(x, W)
    FN, _, FH, FW = W.shape
    N, _, H, W_ = x.shape  # W_: 幅 (W はフィルタの名前)
    OH = conv_output_size(H, FH, stride, pad)
    OW = conv_output_size(W_, FW, stride, pad)
    if b is None:
        b = np.zeros(FN, dtype=W.dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, FN, OH, OW), dtype=np.result_type(x, W, b))
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                h, w = i * stride, j * stride
                window = xp[n, :, h : h + FH, w : w + FW]  # (C, FH, FW)
                # すべてのフィルタと窓の要素積の和をとる
                out[n, :, i, j] = np.sum(W * window, axis=(1, 2, 3)) + b
    return out


def im2col(
    x: np.ndarray,
    FH: int,
    FW: int,
    stride: int = 1,
    pad: int = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    r"""フィルタが掛かる窓を列に並べた行列 (im2col) を作る。

    列 :math:`(n, i, j)` は出力位置 :math:`(i, j)` の窓
    :math:`x_{n,:,Si:Si+F_H,Sj:Sj+F_W}` を平らにしたもの。重みを
    ``(FN, C*FH*FW)`` に並べれば、畳み込みは 1 回の行列積
    ``W_col @ col`` になる。

    ループは窓の中の位置 :math:`(p, q)` (FH*FW 回) だけで、
    1 回ごとに全出力位置ぶんの画素をまとめて写す。

    Args:
        x: 入力。
        FH: フィルタの高さ。
        FW: フィルタの幅。
        stride: ストライド。
        pad: パディング。0 なら ``x`` をコピーせずに読む。
        out: 結果を書き込む配列 (省略すると新しく作る)。``Conv2d`` が
            大きな作業用配列を使い回すために使う。

    Returns:
        列の行列。行の並びは ``(c, p, q)`` (``W.reshape(FN, -1)`` と同じ)。

    Shape:
        - x: ``(N, C, H, W)``
        - 出力: ``(C*FH*FW, N*OH*OW)``
    """
    N, C, H, W = x.shape
    OH = conv_output_size(H, FH, stride, pad)
    OW = conv_output_size(W, FW, stride, pad)
    if pad > 0:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # (C, N, ...) の順に見る (コピーしない)。列を c ごとに N*OH*OW の順で
    # 並べるためで、こうすると行列積の後に大きな転置が要らない
    xt = x.transpose(1, 0, 2, 3)  # (C, N, H+2P, W+2P)
    out = _col_array(out, (C * FH * FW, N * OH * OW), x.dtype)
    col = out.reshape(C, FH, FW, N, OH, OW)  # 同じメモリを 6 次元で見る
    for p in range(FH):
        p_end = p + stride * OH
        for q in range(FW):
            q_end = q + stride * OW
            # フィルタの (p, q) 要素が掛かる画素を全出力位置ぶん取る
            col[:, p, q] = xt[:, :, p:p_end:stride, q:q_end:stride]
    return out  # (C*FH*FW, N*OH*OW)


def _col_array(
    out: np.ndarray | None, shape: tuple[int, int], dtype: np.dtype
) -> np.ndarray:
    """``out`` が ``None`` なら新しい配列を作り、そうでなければ形を確かめる。"""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(
            "out は C 連続の (C*FH*FW, N*OH*OW) 配列でなければならない "
            "(out must be a C-contiguous (C*FH*FW, N*OH*OW) array): "
            f"{out.shape}, expected {shape}"
        )
    return out


def col2im(
    col: np.ndarray,
    x_shape: tuple[int, int, int, int],
    FH: int,
    FW: int,
    stride: int = 1,
    pad: int = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    r"""``im2col`` の逆向き: 列の値を元の画素の位置へ足し戻す。

    ``im2col`` は 1 つの画素を複数の列に写す (窓が重なる)。そのため
    勾配を戻すときは、写した先の値をすべて足し合わせる:
    :math:`\partial L/\partial x = \sum_{\text{写した先}}
    \partial L/\partial \mathrm{col}`。

    Args:
        col: 列の行列 (``im2col`` の出力と同じ並び)。
        x_shape: 元の入力の形 ``(N, C, H, W)``。
        FH: フィルタの高さ。
        FW: フィルタの幅。
        stride: ストライド。
        pad: パディング (足し戻した後で切り捨てる)。
        out: 結果を書き込む ``(N, C, H, W)`` の配列 (省略すると新しく
            作る)。``pad`` が 0 なら作業用の配列を使わず ``out`` に直接
            足し込む。``Conv2d`` が ``dx`` の一部へ直接書くために使う。

    Returns:
        入力と同じ形の配列 (``out`` を渡したときは ``out``)。

    Shape:
        - col: ``(C*FH*FW, N*OH*OW)``
        - 出力: ``(N, C, H, W)``
    """
    N, C, H, W = x_shape
    OH = conv_output_size(H, FH, stride, pad)
    OW = conv_output_size(W, FW, stride, pad)
    col = col.reshape(C, FH, FW, N, OH, OW)  # (C, FH, FW, N, OH, OW)
    if out is None:
        out = np.empty((N, C, H, W), dtype=col.dtype)
    # パディングした大きさの配列に足し込む (pad = 0 なら out に直接)
    shape = (N, C, H + 2 * pad, W + 2 * pad)
    xp = out if pad == 0 else np.empty(shape, dtype=col.dtype)
    xp[...] = 0
    xt = xp.transpose(1, 0, 2, 3)  # (C, N, H+2P, W+2P) 同じメモリ
    for p in range(FH):
        p_end = p + stride * OH
        for q in range(FW):
            q_end = q + stride * OW
            xt[:, :, p:p_end:stride, q:q_end:stride] += col[:, p, q]
    if pad > 0:  # パディングの部分を捨てる
        out[...] = xp[:, :, pad : pad + H, pad : pad + W]
    return out  # (N, C, H, W)


def conv2d(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None = None,
    stride: int = 1,
    pad: int = 0,
) -> np.ndarray:
    r"""im2col と 1 回の行列積による畳み込み (順伝播だけの関数版)。

    ``conv2d_naive`` と同じ値を返す。

    Shape:
        - x: ``(N, C, H, W)``
        - W: ``(FN, C, FH, FW)``
        - b: ``(FN,)``
        - 出力: ``(N, FN, OH, OW)``
    """
    _check_conv_args(x, W)
    FN, _, FH, FW = W.shape
    N, _, H, W_ = x.shape  # W_: 幅 (W はフィルタの名前)
    OH = conv_output_size(H, FH, stride, pad)
    OW = conv_output_size(W_, FW, stride, pad)
    col = im2col(x, FH, FW, stride, pad)  # (C*FH*FW, N*OH*OW)
    out = W.reshape(FN, -1) @ col  # (FN, N*OH*OW)
    if b is not None:
        out = out + b[:, None]  # 整数の x, W と小数の b でも型をそろえる
    out = out.reshape(FN, N, OH, OW).transpose(1, 0, 2, 3)  # (N, FN, OH, OW)
    return np.ascontiguousarray(out)


def conv2d_input_grad_by_flip(
    dout: np.ndarray,
    W: np.ndarray,
    stride: int = 1,
    pad: int = 0,
    input_size: tuple[int, int] | None = None,
) -> np.ndarray:
    r"""入力に関する勾配を「180° 回したフィルタ」の畳み込みで求める。

    :math:`\delta = \partial L / \partial y` とすると

    .. math::
        \frac{\partial L}{\partial x_{n,c}} = \sum_f
        \operatorname{full-corr}\bigl(\delta_{n,f},\,
        \operatorname{rot180}(W_{f,c})\bigr)

    つまり、(1) :math:`S > 1` なら :math:`\delta` の画素の間に
    :math:`S-1` 個の 0 を挟み (dilation)、(2) 周囲を
    :math:`F_H-1, F_W-1` の 0 で埋め、(3) 上下左右を反転しチャネルの
    入出力を入れ替えたフィルタ ``(C, FN, FH, FW)`` でストライド 1 の
    相互相関をとる。結果はパディングした入力に関する勾配なので、
    (4) ストライドで使われなかった右下の余りに 0 を足し、
    (5) パディングの分を切り取る。``Conv2d.backward`` の ``dx`` と一致する。

    Args:
        dout: 出力に関する勾配 :math:`\delta`。
        W: 順伝播で使ったフィルタ。
        stride: 順伝播のストライド。
        pad: 順伝播のパディング。
        input_size: 入力の ``(H, W)``。``None`` なら余りがないとみなす
            (:math:`H = (OH-1)S + FH - 2P`)。

    Returns:
        入力に関する勾配。

    Shape:
        - dout: ``(N, FN, OH, OW)``
        - W: ``(FN, C, FH, FW)``
        - 出力: ``(N, C, H, W)``
    """
    if dout.ndim != 4 or W.ndim != 4 or dout.shape[1] != W.shape[0]:
        raise ValueError(
            "dout は (N, FN, OH, OW)、W は (FN, C, FH, FW) で FN が等しい "
            "(expected dout (N, FN, OH, OW) and W (FN, C, FH, FW)): "
            f"dout {dout.shape}, W {W.shape}"
        )
    N, FN, OH, OW = dout.shape
    FH, FW = W.shape[2:]
    # (1) ストライドの分だけ間を 0 で空ける
    HD, WD = (OH - 1) * stride + 1, (OW - 1) * stride + 1
    dilated = np.zeros((N, FN, HD, WD), dtype=dout.dtype)
    dilated[:, :, ::stride, ::stride] = dout
    # (2) "full" にするため周囲を 0 で埋める
    dilated = np.pad(
        dilated, ((0, 0), (0, 0), (FH - 1, FH - 1), (FW - 1, FW - 1))
    )  # (N, FN, HD+2FH-2, WD+2FW-2)
    # (3) 180° 回転し、入力と出力のチャネルを入れ替えたフィルタ
    W_rot = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, FN, FH, FW)
    # パディングした入力に関する勾配 (右下の余りの行・列を除く)
    dxp = conv2d(dilated, np.ascontiguousarray(W_rot))  # (N, C, ., .)
    if input_size is None:
        input_size = (dxp.shape[2] - 2 * pad, dxp.shape[3] - 2 * pad)
    H, W_ = input_size
    # (4) ストライドのため窓が届かなかった右下の画素の勾配は 0
    rest_h = H + 2 * pad - dxp.shape[2]
    rest_w = W_ + 2 * pad - dxp.shape[3]
    if rest_h < 0 or rest_w < 0 or rest_h >= stride or rest_w >= stride:
        raise ValueError(
            "input_size が dout の形と合わない "
            "(input_size does not match dout, stride and pad): "
            f"input_size={input_size}, dout {dout.shape}, W {W.shape}, "
            f"stride={stride}, pad={pad}"
        )
    dxp = np.pad(dxp, ((0, 0), (0, 0), (0, rest_h), (0, rest_w)))
    # (5) パディングの分を切り取る
    return dxp[:, :, pad : pad + H, pad : pad + W_].copy()  # (N, C, H, W)


def _check_positive_int(name: str, value: object) -> None:
    """``value`` が 1 以上の整数 (bool は除く) でなければ ValueError。"""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{name} は 1 以上の整数 ({name} must be an int >= 1): {value!r}"
        )


def _as_float_array(a: np.ndarray) -> np.ndarray:
    """浮動小数点の配列としてコピーする (float32 はそのまま保つ)。"""
    a = np.array(a)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


class _ConvBase(Layer):
    """``Conv2dNaive`` と ``Conv2d`` に共通の初期化。"""

    def __init__(
        self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
    ) -> None:
        super().__init__()
        W, b = _as_float_array(W), _as_float_array(b)
        if W.ndim != 4 or b.shape != (W.shape[0],):
            raise ValueError(
                "W は (FN, C, FH, FW)、b は (FN,) でなければならない "
                "(expected W (FN, C, FH, FW) and b (FN,)): "
                f"{W.shape}, {b.shape}"
            )
        if stride < 1 or pad < 0:
            raise ValueError(
                "stride は 1 以上、pad は 0 以上 (stride >= 1, pad >= 0): "
                f"stride={stride}, pad={pad}"
            )
        self.params = {"W": W, "b": b}
        self.stride, self.pad = stride, pad

    @classmethod
    def from_init(
        cls,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        rng: np.random.Generator,
        stride: int = 1,
        pad: int = 0,
        init: str = "he_normal",
    ) -> Self:
        """``dlbook.init`` の初期化 (名前で指定) で W を作り、b = 0 とする。

        Args:
            init: ``"he_normal"``, ``"he_uniform"``, ``"xavier_normal"``,
                ``"xavier_uniform"`` のどれか。
        """
        if init not in INITIALIZERS:
            raise ValueError(f"未知の初期化 {init!r}: {sorted(INITIALIZERS)}")
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        W = INITIALIZERS[init](rng, shape)
        return cls(W, np.zeros(out_channels), stride, pad)

    def _check_input(self, x: np.ndarray) -> None:
        _check_conv_args(x, self.params["W"])

    def __repr__(self) -> str:
        FN, C, FH, FW = self.params["W"].shape
        return (
            f"{type(self).__name__}({C}, {FN}, kernel=({FH}, {FW}), "
            f"stride={self.stride}, pad={self.pad})"
        )


class Conv2dNaive(_ConvBase):
    r"""ループで書いた畳み込み層 (読む用。``Conv2d`` と同じ結果)。

    逆伝播も定義どおりのループで、出力位置 :math:`(n, i, j)` ごとに

    .. math::
        \frac{\partial L}{\partial W_f} \mathrel{+}= \delta_{n,f,i,j}\,
            x_{n,:,Si:Si+F_H,Sj:Sj+F_W}, \quad
        \frac{\partial L}{\partial x_{n,:,Si:Si+F_H,Sj:Sj+F_W}}
            \mathrel{+}= \sum_f \delta_{n,f,i,j} W_f

    と足し込む。:math:`\partial L/\partial b_f = \sum_{n,i,j}
    \delta_{n,f,i,j}`。

    Args:
        W: フィルタの初期値 (コピーして持つ)。
        b: バイアスの初期値。
        stride: ストライド。
        pad: パディング。

    Shape:
        - W: ``(FN, C, FH, FW)``、b: ``(FN,)``
        - 入力: ``(N, C, H, W)``
        - 出力: ``(N, FN, OH, OW)``
    """

    def __init__(
        self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
    ) -> None:
        super().__init__(W, b, stride, pad)
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._check_input(x)
        self.x = x
        W, b = self.params["W"], self.params["b"]
        return conv2d_naive(x, W, b, self.stride, self.pad)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x is not None, "forward を先に呼ぶ"
        W, s, P = self.params["W"], self.stride, self.pad
        FH, FW = W.shape[2:]
        N, _, OH, OW = dout.shape
        dtype = np.result_type(self.x, W, dout)  # 整数の入力でも小数の勾配
        xp = np.pad(
            self.x.astype(dtype, copy=False), ((0, 0), (0, 0), (P, P), (P, P))
        )
        dxp = np.zeros_like(xp)
        dW = np.zeros_like(W)
        for n in range(N):
            for i in range(OH):
                for j in range(OW):
                    h, w = i * s, j * s
                    window = xp[n, :, h : h + FH, w : w + FW]  # (C, FH, FW)
                    g = dout[n, :, i, j]  # (FN,)
                    dW += g[:, None, None, None] * window
                    # 窓の画素は全フィルタの重み付き和の勾配を受け取る
                    dxp[n, :, h : h + FH, w : w + FW] += np.tensordot(
                        g, W, axes=1
                    )  # (C, FH, FW)
        self.grads["W"] = dW
        self.grads["b"] = dout.sum(axis=(0, 2, 3))  # (FN,)
        H, W_ = self.x.shape[2:]
        return dxp[:, :, P : P + H, P : P + W_].copy()  # (N, C, H, W)


class Conv2dSimple(_ConvBase):
    r"""im2col と col2im で書いた短い畳み込み層 (本文で読む版)。

    順伝播は :math:`Y = W_\mathrm{col} X_\mathrm{col} + b`、逆伝播は行列積の勾配

    .. math::
        \frac{\partial L}{\partial W_\mathrm{col}} = \Delta X_\mathrm{col}^\top,
        \quad
        \frac{\partial L}{\partial X_\mathrm{col}} = W_\mathrm{col}^\top \Delta,
        \quad
        \frac{\partial L}{\partial b} = \Delta \mathbf{1}

    で、:math:`\partial L/\partial X_\mathrm{col}` を col2im で画素へ足し戻す。
    列の行列を丸ごと保存するので、メモリは入力の約 :math:`F_H F_W` 倍要る。
    同じ式を塊に分けて速くしたのが :class:`Conv2d` (結果は同じ)。

    Shape:
        - W: ``(FN, C, FH, FW)``、b: ``(FN,)``
        - 入力: ``(N, C, H, W)``
        - 出力: ``(N, FN, OH, OW)``
    """

    def __init__(
        self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
    ) -> None:
        super().__init__(W, b, stride, pad)
        self.col = np.empty((0, 0))  # 順伝播の列の行列 (逆伝播で使う)
        self.x_shape: tuple[int, int, int, int] = (0, 0, 0, 0)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._check_input(x)
        W, b = self.params["W"], self.params["b"]
        FN, C, FH, FW = W.shape
        N, _, H, W_ = x.shape  # W_: 幅
        OH = conv_output_size(H, FH, self.stride, self.pad)
        OW = conv_output_size(W_, FW, self.stride, self.pad)
        self.x_shape = (N, C, H, W_)
        S, P = self.stride, self.pad
        self.col = im2col(x, FH, FW, S, P)  # (C*FH*FW, N*OH*OW)
        y = W.reshape(FN, -1) @ self.col + b[:, None]  # (FN, N*OH*OW)
        y = y.reshape(FN, N, OH, OW).transpose(1, 0, 2, 3)  # (N, FN, OH, OW)
        return np.ascontiguousarray(y)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.col.size, "forward を先に呼ぶ"
        W = self.params["W"]
        FN, _, FH, FW = W.shape
        delta = dout.transpose(1, 0, 2, 3).reshape(FN, -1)  # (FN, N*OH*OW)
        dW = delta @ self.col.T  # (FN, C*FH*FW)
        self.grads["W"] = dW.reshape(W.shape)  # (FN, C, FH, FW)
        self.grads["b"] = delta.sum(axis=1)  # (FN,)
        dcol = W.reshape(FN, -1).T @ delta  # (C*FH*FW, N*OH*OW)
        # 同じ画素を写した列の勾配をすべて足して画素に戻す
        return col2im(dcol, self.x_shape, FH, FW, self.stride, self.pad)


class Conv2d(_ConvBase):
    r"""im2col による畳み込み層 (速い版)。

    順伝播は :math:`Y = W_\mathrm{col}\, X_\mathrm{col} + b`
    (:math:`W_\mathrm{col}`: ``(FN, C*FH*FW)``、
    :math:`X_\mathrm{col}`: im2col の ``(C*FH*FW, 位置の数)``)。
    逆伝播は行列積の勾配そのもので (:math:`\Delta` は ``dout`` を
    ``(FN, 位置の数)`` に並べたもの)

    .. math::
        \frac{\partial L}{\partial W_\mathrm{col}} =
            \Delta X_\mathrm{col}^\top, \quad
        \frac{\partial L}{\partial X_\mathrm{col}} =
            W_\mathrm{col}^\top \Delta, \quad
        \frac{\partial L}{\partial b} = \Delta \mathbf{1}

    :math:`\partial L/\partial X_\mathrm{col}` は col2im で画素に戻す。

    速くするための工夫 (式は変わらない):

    - im2col と col2im は ``dlbook.windows.Windows`` で行う。窓を
      strided view で表し、列の行列をコピー 1 回で作る。ストライド 1
      では出力の位置を平らな番号で数えるので、各行が入力の連続した
      一続きになる。
    - バッチを ``chunk`` 枚ずつの塊に分ける。列の行列は入力の約
      :math:`F_H F_W` 倍の大きさで、一度に作るとキャッシュに収まらず
      行列積が主記憶を待つ。塊ごとなら、作った列がキャッシュにある
      うちに使える。:math:`\partial L/\partial W_\mathrm{col}` は
      塊ごとの :math:`\Delta X_\mathrm{col}^\top` の和である。
    - 塊は ``dlbook.parallel.map_chunks`` で BLAS と同じ数のスレッドに
      分けて計算する (各スレッドの行列積は 1 スレッド)。
    - 逆伝播では列の行列を保存せず、入力から作り直す (保存した大きな
      行列を主記憶から読み直すより速く、メモリも塊の分で済む)。
    - 行列積は BLAS が速く計算できる向きで行う。順伝播は転置した
      :math:`Y^\top = X_\mathrm{col}^\top W_\mathrm{col}^\top`、
      重みの勾配は :math:`X_\mathrm{col} \Delta^\top` (その転置) を求める。
    - パディングは塊ごとに、チャネルを先頭にした ``(C, N, H+2P, W+2P)``
      の配列へ 1 回だけする。これを ``backward`` のために持つので、
      ``forward`` の後で ``x`` を書き換えても勾配は変わらない。
    - 作業用の配列はスレッドごとに使い回す。返す ``out`` と ``dx`` は
      毎回新しい配列。

    Args:
        W: フィルタの初期値 (コピーして持つ。float32 ならそのまま)。
        b: バイアスの初期値。
        stride: ストライド。
        pad: パディング。
        chunk: 一度に im2col する画像の枚数 (1 以上)。結果は変わらない。
        workers: スレッドの数 (``None`` なら呼んだ時点の BLAS の
            スレッド数)。結果は変わらない。

    Shape:
        - W: ``(FN, C, FH, FW)``、b: ``(FN,)``
        - 入力: ``(N, C, H, W)``
        - 出力: ``(N, FN, OH, OW)``
    """

    def __init__(
        self,
        W: np.ndarray,
        b: np.ndarray,
        stride: int = 1,
        pad: int = 0,
        chunk: int = 4,
        workers: int | None = None,
    ) -> None:
        super().__init__(W, b, stride, pad)
        _check_positive_int("chunk", chunk)
        if workers is not None:  # None なら BLAS のスレッド数に合わせる
            _check_positive_int("workers", workers)
        self.chunk, self.workers = chunk, workers
        self.xp: np.ndarray | None = None  # パディングした入力のコピー
        self.x_shape: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._work: dict[tuple[str, int], np.ndarray] = {}

    def _buffer(
        self, name: str, worker: int, shape: tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray:
        """スレッド ``worker`` の作業用の C 連続な配列。

        前回の配列が足りれば、そのメモリを使う。大きな配列を毎回新しく
        確保すると、OS からメモリを受け取り直す時間が行列積と同じくらい
        かかる。最後の塊は枚数が少ないので、前回より小さい形は先頭を使う。
        """
        size = math.prod(shape)
        buf = self._work.get((name, worker))
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self._work[name, worker] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def _windows(self, xp: np.ndarray) -> Windows:
        _, C, FH, FW = self.params["W"].shape
        _, _, Hp, Wp = xp.shape
        return Windows(C, FH, FW, self.stride, Hp, Wp)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._check_input(x)
        FN, C, FH, FW = self.params["W"].shape
        N, C, H, W_ = x.shape  # W_: 幅
        S, P = self.stride, self.pad
        OH = conv_output_size(H, FH, S, P)
        OW = conv_output_size(W_, FW, S, P)
        dtype = np.result_type(x, self.params["W"])
        # パディングした入力 (backward でも使う)。チャネルを先頭にすると、
        # 各チャネルの画像が塊の中で一続きに並ぶ
        xp = np.empty((C, N, H + 2 * P, W_ + 2 * P), dtype=dtype)
        out = np.empty((N, FN, OH, OW), dtype=dtype)
        windows = self._windows(xp)

        def chunk_forward(worker: int, s: slice) -> None:
            xp[:, s] = 0  # 塊ごとにパディングする
            xp[:, s, P : P + H, P : P + W_] = x[s].transpose(1, 0, 2, 3)
            self._forward_chunk(xp[:, s], out[s], windows, worker)

        map_chunks(chunk_forward, N, self.chunk, self.workers)
        self.xp, self.x_shape = xp, (N, C, H, W_)
        return out  # (N, FN, OH, OW)

    def _forward_chunk(
        self, xp: np.ndarray, out: np.ndarray, windows: Windows, worker: int
    ) -> None:
        """塊 1 つの順伝播を ``out`` に書く。

        Shape:
            - xp: ``(C, B, H+2P, W+2P)``
            - out: ``(B, FN, OH, OW)``
        """
        W, b = self.params["W"], self.params["b"]
        FN, C, FH, FW = W.shape
        B = xp.shape[1]
        n_pos = windows.size(B)  # 出力位置の数 (ごみの位置を含む)
        col = self._buffer("col", worker, (C * FH * FW, n_pos), xp.dtype)
        windows.im2col(xp, out=col)  # (C*FH*FW, n_pos)
        # Y^T = X_col^T W_col^T の向きの方が、BLAS が速く計算する
        y_T = self._buffer("y_T", worker, (n_pos, FN), xp.dtype)
        np.matmul(col.T, W.reshape(FN, -1).T, out=y_T)  # (n_pos, FN)
        # ごみの位置を除いて画像の形に並べ、同時にバイアスを足す
        np.add(windows.to_image(y_T.T, B), b[:, None, None], out=out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.xp is not None, "forward を先に呼ぶ"
        xp = self.xp  # (C, N, H+2P, W+2P)
        N, C, H, W_ = self.x_shape  # パディングする前の形
        FN, C, FH, FW = self.params["W"].shape
        dtype = np.result_type(xp, dout)
        dx = np.empty((N, C, H, W_), dtype=dtype)
        windows = self._windows(xp)
        # W_col^T を連続した配列にしておくと、BLAS がわずかに速い
        W_col_T = np.ascontiguousarray(self.params["W"].reshape(FN, -1).T)

        def chunk_backward(worker: int, s: slice) -> np.ndarray:
            return self._backward_chunk(
                xp[:, s], dout[s], dx[s], W_col_T, windows, worker
            )

        dW_T = sum(map_chunks(chunk_backward, N, self.chunk, self.workers))
        self.grads["W"] = np.asarray(dW_T).T.reshape(FN, C, FH, FW)
        self.grads["b"] = dout.sum(axis=(0, 2, 3)).astype(dtype)  # (FN,)
        return dx  # (N, C, H, W)

    def _backward_chunk(
        self,
        xp: np.ndarray,
        dout: np.ndarray,
        dx: np.ndarray,
        W_col_T: np.ndarray,
        windows: Windows,
        worker: int,
    ) -> np.ndarray:
        """塊 1 つの逆伝播。``dx`` に書き、dW の転置を返す。

        Shape:
            - xp: ``(C, B, H+2P, W+2P)``
            - dout: ``(B, FN, OH, OW)``
            - dx: ``(B, C, H, W)``
            - W_col_T: ``(C*FH*FW, FN)``
            - 戻り値: ``(C*FH*FW, FN)``
        """
        rows, FN = W_col_T.shape  # rows = C*FH*FW
        B, dtype, P = xp.shape[1], dx.dtype, self.pad
        n_pos = windows.size(B)  # 出力位置の数 (ごみの位置を含む)
        col = self._buffer("col", worker, (rows, n_pos), dtype)
        windows.im2col(xp, out=col)  # 順伝播と同じ列を作り直す
        delta = self._buffer("delta", worker, (FN, n_pos), dtype)
        windows.from_image(dout, out=delta)  # (FN, n_pos) ごみの位置は 0
        # X_col Δ^T (= dW の転置) の向きの方が、BLAS が速く計算する
        dW_T = col @ delta.T  # (C*FH*FW, FN)
        dcol = self._buffer("dcol", worker, (rows, n_pos), dtype)
        np.matmul(W_col_T, delta, out=dcol)  # (C*FH*FW, n_pos)
        dxp = self._buffer("dxp", worker, xp.shape, dtype)
        dxp[...] = 0
        windows.col2im(dcol, dxp)  # dxp += col2im(dcol)
        H, W_ = dx.shape[2:]  # パディングの分を捨てる
        dx[...] = dxp[:, :, P : P + H, P : P + W_].transpose(1, 0, 2, 3)
        return dW_T
