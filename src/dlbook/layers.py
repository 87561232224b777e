"""NumPy による層 (forward/backward の組)。

すべての層は ``Layer`` を継承し、次の約束に従う。

- ``forward(x, train=True)`` は出力を返し、逆伝播に要るものだけを保持する。
- ``backward(dout)`` は入力に関する勾配 ``dx`` を返し、
  パラメータの勾配を ``self.grads`` (``self.params`` と同じキー) に入れる。
- 入力 ``x`` や ``dout`` をその場で書き換えない。

損失層 (``SoftmaxCrossEntropy``, ``MeanSquaredError``) は ``Layer`` ではなく、
``forward(y, t) -> loss`` と ``backward() -> dy`` を持つ。
"""

from __future__ import annotations

from functools import partial

import numpy as np

from dlbook import activations as act
from dlbook import losses
from dlbook.activations import ArrayFn
from dlbook.init import INITIALIZERS


def require_array(x: object, name: str = "x") -> None:
    """``x`` が NumPy の配列でなければ、何を渡したかを示す TypeError を出す。"""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} は NumPy の配列 (np.ndarray) にする "
            f"(np.asarray で変換できる): {type(x).__name__}"
        )


class Layer:
    """層の基底クラス。パラメータを持たない層は ``params`` が空。"""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class Affine(Layer):
    r"""全結合層 (affine layer) :math:`y = x W + b`。

    重み ``W`` の形は ``(D_in, D_out)`` (PyTorch の ``nn.Linear.weight`` の
    転置)。逆伝播は

    .. math::
        \frac{\partial L}{\partial x} = \delta W^\top, \quad
        \frac{\partial L}{\partial W} = x^\top \delta, \quad
        \frac{\partial L}{\partial b} = \sum_n \delta_n

    (:math:`\delta = \partial L / \partial y`)。

    Args:
        W: 重みの初期値 ``(D_in, D_out)`` (コピーして持つ)。
        b: バイアスの初期値 ``(D_out,)``。

    Shape:
        - 入力: ``(N, D_in)``
        - 出力: ``(N, D_out)``
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        W = np.array(W, dtype=np.float64)
        b = np.array(b, dtype=np.float64)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"W は (D_in, D_out)、b は (D_out,): {W.shape}, {b.shape}"
            )
        self.params = {"W": W, "b": b}
        self.x: np.ndarray | None = None

    @classmethod
    def from_init(
        cls,
        d_in: int,
        d_out: int,
        rng: np.random.Generator,
        init: str = "he_normal",
    ) -> Affine:
        """``dlbook.init`` の初期化 (名前で指定) で重みを作り、b = 0 とする。

        Args:
            init: ``"he_normal"``, ``"he_uniform"``, ``"xavier_normal"``,
                ``"xavier_uniform"`` のどれか。
        """
        if init not in INITIALIZERS:
            raise ValueError(f"未知の初期化 {init!r}: {sorted(INITIALIZERS)}")
        W = INITIALIZERS[init](rng, (d_in, d_out))
        return cls(W, np.zeros(d_out))

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        W, b = self.params["W"], self.params["b"]
        require_array(x)
        if x.ndim != 2 or x.shape[1] != W.shape[0]:
            raise ValueError(
                f"入力は (N, {W.shape[0]}) でなければならない: {x.shape}"
            )
        self.x = x
        return x @ W + b  # (N, D_out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x is not None, "forward を先に呼ぶ"
        self.grads["W"] = self.x.T @ dout  # (D_in, D_out)
        self.grads["b"] = np.sum(dout, axis=0)  # (D_out,)
        return dout @ self.params["W"].T  # (N, D_in)


class Activation(Layer):
    r"""要素ごとの活性化関数の層 :math:`y = f(x)`。

    逆伝播は :math:`\partial L / \partial x = \delta \odot f'(x)`。
    ``f`` と ``f_grad`` は ``dlbook.activations`` の関数を使う。

    Shape:
        - 入力: 任意の形
        - 出力: 入力と同じ
    """

    def __init__(self, f: ArrayFn, f_grad: ArrayFn) -> None:
        super().__init__()
        self.f, self.f_grad = f, f_grad
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self.x = x
        return self.f(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x is not None, "forward を先に呼ぶ"
        return dout * self.f_grad(self.x)  # dout は書き換えない


class ReLU(Activation):
    """ReLU 層。"""

    def __init__(self) -> None:
        super().__init__(act.relu, act.relu_grad)


class Sigmoid(Activation):
    """シグモイド層。"""

    def __init__(self) -> None:
        super().__init__(act.sigmoid, act.sigmoid_grad)


class Tanh(Activation):
    """tanh 層。"""

    def __init__(self) -> None:
        super().__init__(act.tanh, act.tanh_grad)


class LeakyReLU(Activation):
    """Leaky ReLU 層 (負の側の傾き ``alpha``)。"""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__(
            partial(act.leaky_relu, alpha=alpha),
            partial(act.leaky_relu_grad, alpha=alpha),
        )


class ELU(Activation):
    """ELU 層。"""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(
            partial(act.elu, alpha=alpha), partial(act.elu_grad, alpha=alpha)
        )


class GELU(Activation):
    """GELU 層 (erf による厳密形)。"""

    def __init__(self) -> None:
        super().__init__(act.gelu, act.gelu_grad)


class Swish(Activation):
    """Swish (SiLU) 層。"""

    def __init__(self) -> None:
        super().__init__(act.swish, act.swish_grad)


class Mish(Activation):
    """Mish 層。"""

    def __init__(self) -> None:
        super().__init__(act.mish, act.mish_grad)


class Dropout(Layer):
    r"""ドロップアウト (inverted dropout)。

    学習時は各要素を確率 ``p`` で 0 にし、残りを :math:`1/(1-p)` 倍する。
    こうすると期待値が変わらないので、推論時は何もしなくてよい。

    .. math::
        y = x \odot m / (1 - p), \quad m_i \sim \mathrm{Bernoulli}(1 - p)

    Args:
        p: 0 にする確率 (:math:`0 \le p < 1`)。
        rng: マスクを作る乱数生成器。

    Shape:
        - 入力: 任意の形
        - 出力: 入力と同じ
    """

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p は 0 以上 1 未満: {p}")
        self.p, self.rng = p, rng
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        if not train:
            self.mask = np.ones_like(x)  # 推論時は恒等写像
            return x.copy()
        keep = self.rng.random(x.shape) >= self.p
        self.mask = keep / (1.0 - self.p)  # 残す要素は 1/(1-p) 倍
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.mask is not None, "forward を先に呼ぶ"
        return dout * self.mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Flatten(Layer):
    """先頭 (バッチ) 以外の軸を 1 つにまとめる。

    Shape:
        - 入力: ``(N, *)`` (例 ``(N, C, H, W)``)
        - 出力: ``(N, D)``、:math:`D` は残りの軸の積
    """

    def __init__(self) -> None:
        super().__init__()
        self.in_shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self.in_shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, C*H*W)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self.in_shape)  # (N, C, H, W)


class SoftmaxCrossEntropy:
    r"""ソフトマックスと交差エントロピー誤差をまとめた損失層。

    まとめると逆伝播が :math:`(y - t) / N` という簡単な形になる
    (:math:`y` はソフトマックスの出力、:math:`t` は one-hot)。

    Shape:
        - logits: ``(N, K)``
        - t: ``(N,)`` のクラス番号、または ``(N, K)``
        - 出力: スカラー
    """

    def __init__(self) -> None:
        self.y: np.ndarray | None = None  # ソフトマックスの出力 (N, K)
        self.t: np.ndarray | None = None  # one-hot の教師 (N, K)

    def forward(self, logits: np.ndarray, t: np.ndarray) -> float:
        require_array(logits, "logits")
        if logits.ndim != 2:
            raise ValueError(f"logits は (N, K): {logits.shape}")
        loss = losses.softmax_cross_entropy(logits, t)
        K = logits.shape[1]
        self.y = act.softmax(logits)  # (N, K)
        t = np.asarray(t)
        self.t = t if t.shape == logits.shape else losses.one_hot(t, K)
        return loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        assert self.y is not None and self.t is not None, "forward を先に"
        N = self.y.shape[0]
        return dout * (self.y - self.t) / N  # (N, K)


class MeanSquaredError:
    r"""2 乗和誤差の損失層 :math:`\frac1N \sum_n \frac12 \|y_n - t_n\|^2`。

    Shape:
        - y, t: ``(N, K)``
        - 出力: スカラー
    """

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, y: np.ndarray, t: np.ndarray) -> float:
        self.y, self.t = y, np.asarray(t, dtype=np.float64)
        return losses.mean_squared_error(y, t)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        assert self.y is not None and self.t is not None, "forward を先に"
        return dout * losses.mean_squared_error_grad(self.y, self.t)
