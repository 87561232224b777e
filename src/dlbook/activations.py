"""活性化関数 (activation function) とその導関数。

関数 ``f(x)`` と導関数 ``f_grad(x)`` = :math:`f'(x)` を並べて置く。
``softmax`` 以外は要素ごとの関数なので、導関数も要素ごとに返す。
``ACTIVATIONS`` は名前 → ``(f, f_grad)`` の辞書で、グラフを並べて描くのに使う。

どの関数も入力を書き換えず、新しい配列を返す。
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

ArrayFn = Callable[[np.ndarray], np.ndarray]

# math.erf を配列に使えるようにする (SciPy に依存しないため)
_erf = np.vectorize(math.erf, otypes=[np.float64])


def step(x: np.ndarray) -> np.ndarray:
    r"""ステップ関数 :math:`h(x) = 1\ (x > 0),\ 0\ (x \le 0)`。"""
    return (np.asarray(x) > 0).astype(np.float64)


def step_grad(x: np.ndarray) -> np.ndarray:
    """ステップ関数の導関数。:math:`x \\ne 0` で 0 (勾配法で学習できない理由)。"""
    return np.zeros_like(np.asarray(x), dtype=np.float64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    r"""シグモイド関数 :math:`\sigma(x) = 1 / (1 + e^{-x})`。

    :math:`x \ll 0` で :math:`e^{-x}` があふれないよう、
    :math:`e^{-|x|}` だけを計算する。
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # (0, 1] なのであふれない
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    r""":math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`。"""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: np.ndarray) -> np.ndarray:
    r"""双曲線正接 :math:`\tanh x`。"""
    return np.tanh(np.asarray(x, dtype=np.float64))


def tanh_grad(x: np.ndarray) -> np.ndarray:
    r""":math:`\tanh'(x) = 1 - \tanh^2 x`。"""
    return 1.0 - np.tanh(np.asarray(x, dtype=np.float64)) ** 2


def relu(x: np.ndarray) -> np.ndarray:
    r"""ReLU :math:`\max(0, x)`。"""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def relu_grad(x: np.ndarray) -> np.ndarray:
    """ReLU の導関数 (PyTorch と同じく :math:`x = 0` では 0)。"""
    return (np.asarray(x) > 0).astype(np.float64)


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    r"""Leaky ReLU :math:`x\ (x > 0),\ \alpha x\ (x \le 0)`。"""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, alpha * x)


def leaky_relu_grad(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    r"""Leaky ReLU の導関数 :math:`1\ (x > 0),\ \alpha\ (x \le 0)`。"""
    return np.where(np.asarray(x) > 0, 1.0, alpha)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    r"""ELU :math:`x\ (x > 0),\ \alpha (e^x - 1)\ (x \le 0)`。"""
    x = np.asarray(x, dtype=np.float64)
    # 使わない側 (x > 0) の exp があふれないよう min(x, 0) を渡す
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_grad(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    r"""ELU の導関数 :math:`1\ (x > 0),\ \alpha e^x\ (x \le 0)`。"""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def gelu(x: np.ndarray) -> np.ndarray:
    r"""GELU :math:`x \Phi(x)` (誤差関数による厳密形、PyTorch の既定)。

    :math:`\Phi(x) = \tfrac12 \bigl(1 + \operatorname{erf}(x/\sqrt2)\bigr)`
    は標準正規分布の累積分布関数。
    """
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_grad(x: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{GELU}'(x) = \Phi(x) + x \phi(x)`
    (:math:`\phi` は標準正規分布の密度関数)。"""
    x = np.asarray(x, dtype=np.float64)
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def swish(x: np.ndarray) -> np.ndarray:
    r"""Swish (SiLU) :math:`x \sigma(x)`。"""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


def swish_grad(x: np.ndarray) -> np.ndarray:
    r""":math:`\sigma(x) + x \sigma(x)(1 - \sigma(x))`。"""
    x = np.asarray(x, dtype=np.float64)
    s = sigmoid(x)
    return s + x * s * (1.0 - s)


silu = swish
silu_grad = swish_grad


def softplus(x: np.ndarray) -> np.ndarray:
    r"""ソフトプラス :math:`\log(1 + e^x)` (あふれない形で計算)。"""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def mish(x: np.ndarray) -> np.ndarray:
    r"""Mish :math:`x \tanh(\mathrm{softplus}(x))`。"""
    x = np.asarray(x, dtype=np.float64)
    return x * np.tanh(softplus(x))


def mish_grad(x: np.ndarray) -> np.ndarray:
    r""":math:`\tanh(s) + x\,(1 - \tanh^2 s)\,\sigma(x)`、
    :math:`s = \mathrm{softplus}(x)`。"""
    x = np.asarray(x, dtype=np.float64)
    t = np.tanh(softplus(x))
    return t + x * (1.0 - t**2) * sigmoid(x)


def softmax_naive(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""定義どおりのソフトマックス :math:`e^{x_k} / \sum_j e^{x_j}`。

    :math:`x_k` が 710 を超えると :math:`e^{x_k}` が ``inf`` にあふれ、
    結果が ``nan`` になる。対策は :func:`softmax` を見よ。
    """
    e = np.exp(np.asarray(x, dtype=np.float64))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""数値的に安定なソフトマックス。

    .. math::
        y_k = \frac{e^{x_k - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j

    分子と分母に同じ :math:`e^{-m}` を掛けても値は変わらない。
    指数は 0 以下になるので、あふれない。

    Shape:
        - x: ``(..., K)`` (``axis`` の軸で正規化)
        - 出力: ``x`` と同じ
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))  # オーバーフロー対策
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_grad(
    x: np.ndarray, dout: np.ndarray, axis: int = -1
) -> np.ndarray:
    r"""ソフトマックスの逆伝播 (ヤコビ行列と ``dout`` の積)。

    ソフトマックスは要素ごとの関数ではないので、導関数の代わりに
    :math:`\partial L / \partial x` を返す。

    .. math::
        \frac{\partial L}{\partial x_k}
        = y_k \Bigl(\frac{\partial L}{\partial y_k}
        - \sum_j \frac{\partial L}{\partial y_j} y_j\Bigr)

    Shape:
        - x, dout, 出力: ``(..., K)``
    """
    y = softmax(x, axis=axis)
    return y * (dout - np.sum(dout * y, axis=axis, keepdims=True))


#: 要素ごとの活性化関数: 名前 → (f, f_grad)。既定のハイパーパラメータを使う。
ACTIVATIONS: dict[str, tuple[ArrayFn, ArrayFn]] = {
    "step": (step, step_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "elu": (elu, elu_grad),
    "gelu": (gelu, gelu_grad),
    "swish": (swish, swish_grad),
    "mish": (mish, mish_grad),
}
