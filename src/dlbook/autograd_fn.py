"""順伝播と逆伝播を自分で書いた演算を autograd に加える (torch.autograd.Function)。

第 4 章の層の ``forward``/``backward`` と同じ形で、PyTorch の演算を 1 つ定義する。
``forward`` は逆伝播に要るテンソルを ``ctx.save_for_backward`` に取っておき、
``backward`` は出力の勾配 ``dout`` から入力の勾配 ``dx`` を返す。
"""

from __future__ import annotations

import torch


class SiLU(torch.autograd.Function):
    """SiLU (swish) :math:`y = x\\,\\sigma(x)` とその逆伝播。

    .. math::

        \\frac{dy}{dx} = \\sigma(x)\\,\\bigl(1 + x\\,(1 - \\sigma(x))\\bigr)

    Shape:
        - 入力: 任意の形 → 出力: 同じ形
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)  # 逆伝播で使う値を取っておく
        return x * s

    @staticmethod
    def backward(ctx, dout: torch.Tensor) -> torch.Tensor:
        x, s = ctx.saved_tensors
        return dout * s * (1 + x * (1 - s))  # 連鎖律: dout × dy/dx


def silu(x: torch.Tensor) -> torch.Tensor:
    """``SiLU.apply`` (``torch.nn.functional.silu`` と同じ値)。"""
    return SiLU.apply(x)


__all__ = ["SiLU", "silu"]
