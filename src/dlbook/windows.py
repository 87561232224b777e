r"""畳み込みの窓を strided view で見る: コピー 1 回の im2col。

``conv.im2col`` はフィルタの位置 :math:`(p, q)` ごとに 1 回ずつ、計
:math:`F_H F_W` 回の切り出しで列の行列を作る。ここでは同じ行列を、
パディングした入力の上の「窓の view」(コピーしない見方) として
表し、1 回のコピーで作る。``conv.Conv2d`` が使う。

入力はチャネルを先頭にした ``(C, B, Hp, Wp)`` の並びで持つ
(:math:`H_p = H + 2P`, :math:`W_p = W + 2P`)。ストライド 1 では、
さらに出力の位置を 2 次元 :math:`(b, i, j)` ではなく、チャネル 1 つ分の
画像を平らに並べた 1 次元の番号 :math:`k = b H_p W_p + i W_p + j` で
数える。フィルタの :math:`(p, q)` 要素が掛かる画素は
:math:`k + p W_p + q` なので、列の行列の各行は入力の *連続した*
一続きになり、速く写せる (NumPy の演算は行が長いほど速い)。その代わり
:math:`j \ge O_W` や :math:`i \ge O_H` の :math:`k` は出力にない
"ごみ" の位置である。ごみの位置の出力は捨て、勾配には 0 を入れるので、
結果は変わらない (計算は約 :math:`H_p W_p / (O_H O_W)` 倍に増える)。
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided


@dataclass(frozen=True)
class Windows:
    """パディングした画像 ``(C, B, Hp, Wp)`` の上の窓の並べ方。

    Args:
        C: 入力のチャネル数。
        FH: フィルタの高さ。
        FW: フィルタの幅。
        stride: ストライド。
        Hp: パディングした入力の高さ :math:`H + 2P`。
        Wp: パディングした入力の幅 :math:`W + 2P`。

    ``B`` 枚の出力の位置の並び (``positions(B)``) は、ストライド 1 なら
    平らな番号 ``(n_pos,)`` (位置の数
    :math:`(B-1) H_p W_p + (O_H-1) W_p + O_W`、
    ごみの位置を含む)、それ以外なら ``(B, OH, OW)``。
    """

    C: int
    FH: int
    FW: int
    stride: int
    Hp: int
    Wp: int

    @property
    def OH(self) -> int:
        return (self.Hp - self.FH) // self.stride + 1

    @property
    def OW(self) -> int:
        return (self.Wp - self.FW) // self.stride + 1

    def positions(self, B: int) -> tuple[int, ...]:
        """``B`` 枚分の出力位置の形 (ストライド 1 なら平らな番号)。"""
        if self.stride == 1:
            last = (B - 1) * self.Hp * self.Wp + (self.OH - 1) * self.Wp
            return (last + self.OW,)  # 最後の画像の最後の出力位置まで
        return (B, self.OH, self.OW)

    def size(self, B: int) -> int:
        """``B`` 枚分の出力位置の数 (ごみの位置を含む)。"""
        return math.prod(self.positions(B))

    def _position_strides(self) -> tuple[int, ...]:
        """出力位置の各軸を 1 つ進めたとき、窓が動く画素数。"""
        if self.stride == 1:
            return (1,)
        S, HW = self.stride, self.Hp * self.Wp
        return (HW, S * self.Wp, S)

    def _view(self, a: np.ndarray, writeable: bool) -> np.ndarray:
        """``a`` (C, B, Hp, Wp) の窓の view ``(C, FH, FW, *positions)``。

        要素 ``[c, p, q, k]`` (ストライド 1) は、フィルタの ``(p, q)``
        要素が出力位置 ``k`` で掛かる画素、つまり ``a[c]`` を平らにした
        ``k + p*Wp + q`` 番目である。
        """
        C, B, Hp, Wp = a.shape
        e = a.itemsize
        if (C, Hp, Wp) != (self.C, self.Hp, self.Wp):
            raise ValueError(
                "画像の形が窓の設定と合わない (image shape does not match): "
                f"{a.shape}, expected ({self.C}, B, {self.Hp}, {self.Wp})"
            )
        image = (Hp * Wp * e, Wp * e, e)  # 画像が続けて並ぶときの刻み
        if a.strides[2:] != image[1:] or (B > 1 and a.strides[1] != image[0]):
            raise ValueError(
                "各チャネルの B 枚の画像は連続して並んでいなければならない "
                f"(images must be contiguous per channel): {a.strides}"
            )
        strides = (a.strides[0] // e, Wp, 1, *self._position_strides())
        return as_strided(
            a,
            shape=(C, self.FH, self.FW, *self.positions(B)),
            strides=tuple(e * s for s in strides),
            writeable=writeable,
        )  # (C, FH, FW, *positions)

    def im2col(self, xp: np.ndarray, out: np.ndarray) -> np.ndarray:
        """列の行列を ``out`` に作る (コピー 1 回)。

        Shape:
            - xp: ``(C, B, Hp, Wp)``
            - out: ``(C*FH*FW, 位置の数)`` (C 連続)。これを返す。
        """
        windows = self._view(xp, writeable=False)  # (C, FH, FW, *pos)
        np.copyto(out.reshape(windows.shape), windows)
        return out  # (C*FH*FW, 位置の数)

    def col2im(self, dcol: np.ndarray, dxp: np.ndarray) -> None:
        """列の勾配を画素へ足し戻す (``dxp`` に足し込む)。

        窓が重なる画素は複数の列から勾配を受け取る。フィルタの位置
        ``(p, q)`` を 1 つ決めれば、出力位置ごとの画素はすべて異なるので、
        ``(p, q)`` ごとに 1 回の足し算で済む (計 FH*FW 回)。

        Shape:
            - dcol: ``(C*FH*FW, 位置の数)``
            - dxp: ``(C, B, Hp, Wp)``
        """
        target = self._view(dxp, writeable=True)  # (C, FH, FW, *pos)
        dcol = dcol.reshape(target.shape)
        for p in range(self.FH):
            for q in range(self.FW):
                target[:, p, q] += dcol[:, p, q]

    def to_image(self, y: np.ndarray, B: int) -> np.ndarray:
        """出力位置の並びの ``y`` から、ごみを除いた画像の形の view を作る。

        ``y`` は転置した配列の view (``yT.T``) でもよい。

        Shape:
            - y: ``(F, 位置の数)``
            - 出力: ``(B, F, OH, OW)`` (``y`` の view)
        """
        F = y.shape[0]
        sf, sk = y.strides  # F と位置を 1 つ進めたときのバイト数
        if self.stride == 1:
            n, i = self.Hp * self.Wp, self.Wp  # b と i を 1 進めた位置の差
        else:
            n, i = self.OH * self.OW, self.OW
        return as_strided(
            y,
            shape=(B, F, self.OH, self.OW),
            strides=(sk * n, sf, sk * i, sk),
            writeable=y.flags.writeable,
        )  # (B, F, OH, OW)

    def from_image(self, dout: np.ndarray, out: np.ndarray) -> np.ndarray:
        """画像の形の ``dout`` を出力位置の並びに写す (ごみの位置は 0)。

        Shape:
            - dout: ``(B, F, OH, OW)``
            - out: ``(F, 位置の数)`` (C 連続)。これを返す。
        """
        if self.stride == 1:
            out[...] = 0  # ごみの位置の勾配は 0
        self.to_image(out, dout.shape[0])[...] = dout
        return out  # (F, 位置の数)
