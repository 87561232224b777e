"""数値微分 (中心差分) による勾配の確認 (gradient check)。

逆伝播で求めた勾配が正しいかを、遅いが確実な数値微分と比べて確かめる。
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlbook.layers import Layer


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    r"""中心差分で :math:`\partial f / \partial x` を求める。

    .. math::
        \frac{\partial f}{\partial x_i}
        \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    ``x`` の要素を 1 つずつその場でずらして ``f(x)`` を呼び、
    すぐに元の値に戻す (層のパラメータのように ``f`` が ``x`` を
    参照で持っていても使える)。終わったとき ``x`` は元のままである。

    Args:
        f: 配列を受け取りスカラーを返す関数。
        x: 微分する点 (浮動小数点の配列)。
        eps: 差分の幅 :math:`h`。

    Returns:
        ``x`` と同じ形の勾配。

    Raises:
        ValueError: ``x`` が浮動小数点の配列でないとき。
    """
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        raise ValueError("x は浮動小数点の np.ndarray でなければならない")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        try:
            x[idx] = orig + eps
            f_plus = f(x)
            x[idx] = orig - eps
            f_minus = f(x)
        finally:
            x[idx] = orig  # 必ず元に戻す
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    r"""2 つの配列の相対誤差 :math:`\|a - b\| / (\|a\| + \|b\|)`。

    両方とも 0 のときは 0 を返す。目安: float64 で ``1e-7`` 未満なら一致。
    真の勾配が 0 の配列 (BatchNorm 直前のバイアスなど) では、丸め誤差どうしの
    比になり意味がない。そのような配列は、呼ぶ側で絶対誤差
    (``np.abs(a - b).max()``) を比べること (この関数は相対誤差だけを返す)。

    Raises:
        ValueError: 形が違うとき。
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"形が違う: {a.shape} と {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / scale)


def check_layer(
    layer: Layer,
    x: np.ndarray,
    rng: np.random.Generator,
    eps: float = 1e-6,
    train: bool = True,
) -> dict[str, float]:
    r"""層の ``backward`` を数値微分と比べ、相対誤差を返す。

    乱数の重み ``dout`` を固定したスカラー
    :math:`L = \sum \mathrm{forward}(x) \odot \mathrm{dout}` を使う。
    すると :math:`\partial L / \partial \mathrm{out} = \mathrm{dout}` なので、
    ``backward(dout)`` の結果と :math:`L` の数値微分を比べればよい。

    Args:
        layer: 確かめる層。
        x: 入力 (書き換えない)。
        rng: ``dout`` を作る乱数生成器。
        eps: 数値微分の幅。
        train: ``forward`` に渡す学習モードの旗。

    Returns:
        ``{"x": dx の誤差, "W": dW の誤差, ...}`` (パラメータ名ごと)。
    """
    x = np.array(x, dtype=np.float64)  # コピーして元の x を守る
    dout = rng.standard_normal(layer.forward(x, train).shape)

    def loss(_: np.ndarray) -> float:
        return float(np.sum(layer.forward(x, train) * dout))

    layer.forward(x, train)
    dx = layer.backward(dout)
    errors = {"x": relative_error(dx, numerical_gradient(loss, x, eps))}
    for name, param in layer.params.items():
        num = numerical_gradient(loss, param, eps)
        errors[name] = relative_error(layer.grads[name], num)
    return errors
