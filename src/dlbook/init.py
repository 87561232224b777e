r"""重みの初期化 (weight initialization): Xavier (Glorot) と He (Kaiming)。

層の入力の数を :math:`n_\mathrm{in}` (fan_in)、出力の数を
:math:`n_\mathrm{out}` (fan_out) とする。

- Xavier: :math:`\sigma = \sqrt{2 / (n_\mathrm{in} + n_\mathrm{out})}`
  (sigmoid や tanh 向き)
- He: :math:`\sigma = \sqrt{2 / n_\mathrm{in}}` (ReLU 向き)

一様分布 :math:`U(-a, a)` の標準偏差は :math:`a / \sqrt3` なので、
同じ :math:`\sigma` を与える範囲は :math:`a = \sqrt3\,\sigma`。
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Shape = tuple[int, ...]


def fan_in_out(shape: Shape) -> tuple[int, int]:
    """重みの形から (fan_in, fan_out) を求める。

    - 全結合 ``(D_in, D_out)`` (本書の ``Affine`` の向き): ``(D_in, D_out)``
    - 畳み込み ``(FN, C, FH, FW)``: ``(C*FH*FW, FN*FH*FW)``
      (PyTorch の ``nn.init`` と同じ)

    Raises:
        ValueError: 2 次元未満の形のとき。
    """
    if len(shape) < 2:
        raise ValueError(f"重みは 2 次元以上: {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])  # FH*FW
    return shape[1] * receptive, shape[0] * receptive


def xavier_normal(
    rng: np.random.Generator, shape: Shape, gain: float = 1.0
) -> np.ndarray:
    r"""Xavier の正規分布 :math:`N(0, \sigma^2)`、
    :math:`\sigma = g \sqrt{2 / (n_\mathrm{in} + n_\mathrm{out})}`。"""
    fan_in, fan_out = fan_in_out(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=shape)


def xavier_uniform(
    rng: np.random.Generator, shape: Shape, gain: float = 1.0
) -> np.ndarray:
    r"""Xavier の一様分布 :math:`U(-a, a)`、
    :math:`a = g \sqrt{6 / (n_\mathrm{in} + n_\mathrm{out})}`。"""
    fan_in, fan_out = fan_in_out(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape)


def _he_fan(shape: Shape, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode は 'fan_in' か 'fan_out': {mode!r}")
    fan_in, fan_out = fan_in_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def he_normal(
    rng: np.random.Generator, shape: Shape, mode: str = "fan_in"
) -> np.ndarray:
    r"""He の正規分布 :math:`N(0, \sigma^2)`、:math:`\sigma = \sqrt{2 / n}`。

    :math:`n` は ``mode`` で選ぶ (既定は fan_in)。PyTorch の
    ``kaiming_normal_(w, nonlinearity="relu")`` と同じ分布。
    """
    std = math.sqrt(2.0 / _he_fan(shape, mode))
    return rng.normal(0.0, std, size=shape)


def he_uniform(
    rng: np.random.Generator, shape: Shape, mode: str = "fan_in"
) -> np.ndarray:
    r"""He の一様分布 :math:`U(-a, a)`、:math:`a = \sqrt{6 / n}`。"""
    a = math.sqrt(6.0 / _he_fan(shape, mode))
    return rng.uniform(-a, a, size=shape)


#: 名前 → 初期化関数 (``Affine.from_init`` が使う)。
INITIALIZERS: dict[str, Callable[[np.random.Generator, Shape], np.ndarray]] = {
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}
