r"""学習率スケジュール: ウォームアップ付きコサインと、学習率の列の記録。

PyTorch のスケジューラ (``torch.optim.lr_scheduler``) は、最適化器の
``step()`` の後に ``scheduler.step()`` を呼ぶたびに学習率を書き換える。
ここでは、よく使う「ウォームアップ + コサイン」を ``LambdaLR`` の倍率
として書き、スケジューラが実際に与える学習率の列を取り出す関数を置く。

コサインの部分は :math:`\eta_{\min} = 0` の

.. math::
    \eta_t = \frac{\eta_{\max}}{2}
        \left(1 + \cos\frac{\pi (t - t_w)}{T - t_w}\right)
    \quad (t_w \le t \le T)

で、その前の :math:`t_w` ステップは :math:`\eta_{\max}/t_w` ずつ線形に
上げる。
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    r"""ステップ :math:`t` の学習率の倍率 (``LambdaLR`` に渡す関数)。

    .. math::
        \lambda(t) = \begin{cases}
            (t + 1) / t_w & (t < t_w) \\
            \frac{1}{2}\left(1 + \cos\frac{\pi (t - t_w)}{T - t_w}\right)
                & (t_w \le t \le T)
        \end{cases}

    :math:`t = t_w - 1` で 1 に達し、:math:`t = T` で 0 になる。
    :math:`T` を過ぎても 0 のままにする。

    Args:
        warmup: ウォームアップのステップ数 :math:`t_w` (0 以上)。
        total: 全体のステップ数 :math:`T` (``warmup`` より大きい)。

    Raises:
        ValueError: ``warmup < 0`` か ``total <= warmup`` のとき。
    """
    _check_steps(warmup, total)

    def factor(t: int) -> float:
        if t < warmup:  # 線形に 1 まで上げる
            return (t + 1) / warmup
        # その後はコサインで 1 から 0 へ下げる
        progress = min(t - warmup, total - warmup) / (total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _check_steps(warmup: int, total: int) -> None:
    """``0 <= warmup < total`` でなければ ValueError。"""
    if warmup < 0 or total <= warmup:
        raise ValueError(
            "0 <= warmup < total でなければならない "
            f"(need 0 <= warmup < total): warmup={warmup}, total={total}"
        )


def lr_trace(
    make_scheduler: Callable[[torch.optim.Optimizer], LRScheduler],
    steps: int = 100,
    lr: float = 0.1,
) -> list[float]:
    """スケジューラが各ステップで与える学習率の列を返す。

    パラメータ 1 つのダミーの SGD にスケジューラを付け、``steps`` 回
    「``optimizer.step()`` の後に ``scheduler.step()``」を繰り返す。
    勾配はないのでパラメータは動かず、学習率だけが記録される。

    Args:
        make_scheduler: 最適化器を受け取りスケジューラを作る関数。
        steps: 記録するステップ数。
        lr: 初期学習率。

    Returns:
        長さ ``steps`` の学習率の列 (各ステップの ``step()`` の前の値)。
    """
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # 本当はここで 1 ステップ学習する
        scheduler.step()
    return lrs
