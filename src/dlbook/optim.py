r"""最適化手法 (optimizer)。``torch.optim`` と同じ更新式を NumPy で書く。

どの最適化器も ``step(params, grads)`` で ``params`` の配列を
その場で更新する (``Sequential.params()`` の配列は層の配列そのものなので、
層の重みが更新される)。状態 (速度など) はパラメータ名ごとに持つ。

記号: :math:`W` はパラメータ、:math:`g = \partial L / \partial W`、
:math:`\eta` は学習率 ``lr``。``weight_decay`` :math:`\lambda` を与えると、
PyTorch と同じく :math:`g \leftarrow g + \lambda W` (L2 正則化) とする。
"""

from __future__ import annotations

import numpy as np

Arrays = dict[str, np.ndarray]


class Optimizer:
    """最適化器の基底クラス。"""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        if lr < 0.0 or weight_decay < 0.0:
            raise ValueError("lr と weight_decay は 0 以上")
        self.lr, self.weight_decay = lr, weight_decay

    def step(self, params: Arrays, grads: Arrays) -> None:
        """全パラメータを 1 回更新する (``params`` をその場で書き換える)。

        Raises:
            ValueError: ``params`` と ``grads`` の名前か形が合わないとき。
        """
        if params.keys() != grads.keys():
            raise ValueError(
                f"params と grads の名前が違う: {sorted(params)} と "
                f"{sorted(grads)}"
            )
        for key, p in params.items():
            g = grads[key]
            if p.shape != g.shape:
                raise ValueError(f"{key}: 形が違う {p.shape} と {g.shape}")
            if self.weight_decay:
                g = g + self.weight_decay * p  # grads は書き換えない
            self.update(key, p, g)

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        """1 つのパラメータ ``p`` を勾配 ``g`` でその場で更新する。"""
        raise NotImplementedError


class SGD(Optimizer):
    r"""確率的勾配降下法 :math:`W \leftarrow W - \eta g`
    (``torch.optim.SGD(lr=lr)``)。"""

    def __init__(self, lr: float = 0.001, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.lr * g


class Momentum(Optimizer):
    r"""モメンタム (``torch.optim.SGD(momentum=..., dampening=...)``)。

    .. math::
        v \leftarrow \mu v + (1 - d) g, \qquad W \leftarrow W - \eta v

    PyTorch と同じく、最初の 1 回は :math:`v = g` とする。
    :math:`d = 0` なら、ゼロから作る版の
    :math:`v \leftarrow \mu v - \eta g,\ W \leftarrow W + v` と同じ軌跡になる。
    """

    def __init__(
        self,
        lr: float = 0.001,
        momentum: float = 0.9,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.momentum, self.dampening = momentum, dampening
        self.v: Arrays = {}  # 速度 (velocity)

    def velocity(self, key: str, g: np.ndarray) -> np.ndarray:
        """速度 :math:`v` を更新して返す。"""
        if key not in self.v:
            self.v[key] = g.copy()
        else:
            self.v[key] = (
                self.momentum * self.v[key] + (1 - self.dampening) * g
            )
        return self.v[key]

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.lr * self.velocity(key, g)


class Nesterov(Momentum):
    r"""ネステロフの加速勾配法 (``torch.optim.SGD(nesterov=True)``)。

    .. math::
        v \leftarrow \mu v + g, \qquad W \leftarrow W - \eta (g + \mu v)

    先の位置で勾配を見る代わりに、速度を 1 歩先まで使う形で書いたもの。
    """

    def __init__(
        self,
        lr: float = 0.001,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
    ) -> None:
        if momentum <= 0.0:
            raise ValueError("Nesterov には momentum > 0 が要る")
        super().__init__(lr, momentum, 0.0, weight_decay)

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        v = self.velocity(key, g)
        p -= self.lr * (g + self.momentum * v)


class AdaGrad(Optimizer):
    r"""AdaGrad (``torch.optim.Adagrad``)。

    .. math::
        h \leftarrow h + g \odot g, \qquad
        W \leftarrow W - \eta_t \frac{g}{\sqrt{h} + \epsilon},
        \quad \eta_t = \frac{\eta}{1 + (t - 1)\,\mathrm{lr\_decay}}

    :math:`h` の初期値は ``initial_accumulator_value`` (既定 0)。
    """

    def __init__(
        self,
        lr: float = 0.01,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.lr_decay, self.eps = lr_decay, eps
        self.initial_accumulator_value = initial_accumulator_value
        self.h: Arrays = {}  # 勾配の 2 乗和
        self.t: dict[str, int] = {}  # 更新の回数

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        if key not in self.h:
            self.h[key] = np.full_like(p, self.initial_accumulator_value)
            self.t[key] = 0
        self.t[key] += 1
        self.h[key] += g * g
        lr = self.lr / (1 + (self.t[key] - 1) * self.lr_decay)
        p -= lr * g / (np.sqrt(self.h[key]) + self.eps)


class RMSProp(Optimizer):
    r"""RMSProp (``torch.optim.RMSprop``、``centered=False``)。

    .. math::
        h \leftarrow \alpha h + (1 - \alpha) g \odot g, \qquad
        W \leftarrow W - \eta \frac{g}{\sqrt{h} + \epsilon}

    ``momentum`` :math:`\mu > 0` なら
    :math:`b \leftarrow \mu b + g / (\sqrt h + \epsilon)`、
    :math:`W \leftarrow W - \eta b`。
    """

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.alpha, self.eps, self.momentum = alpha, eps, momentum
        self.h: Arrays = {}  # 勾配の 2 乗の移動平均
        self.b: Arrays = {}  # momentum の速度

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        h = self.h.get(key, np.zeros_like(p))
        self.h[key] = self.alpha * h + (1 - self.alpha) * g * g
        step = g / (np.sqrt(self.h[key]) + self.eps)
        if self.momentum > 0:
            b = self.b.get(key, np.zeros_like(p))
            self.b[key] = step = self.momentum * b + step
        p -= self.lr * step


class Adam(Optimizer):
    r"""Adam (``torch.optim.Adam``)。

    .. math::
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g \odot g \\
        W &\leftarrow W - \frac{\eta}{1 - \beta_1^t}
        \frac{m}{\sqrt{v} / \sqrt{1 - \beta_2^t} + \epsilon}

    :math:`1 - \beta^t` で割るのは、0 から始めた移動平均が
    最初の数回は小さく偏るのを直すため (バイアス補正)。
    """

    def __init__(
        self,
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.m: Arrays = {}  # 勾配の移動平均
        self.v: Arrays = {}  # 勾配の 2 乗の移動平均
        self.t: dict[str, int] = {}  # 更新の回数

    def update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        b1, b2 = self.beta1, self.beta2
        if key not in self.m:
            self.m[key], self.v[key] = np.zeros_like(p), np.zeros_like(p)
            self.t[key] = 0
        self.t[key] += 1
        t = self.t[key]
        self.m[key] = b1 * self.m[key] + (1 - b1) * g
        self.v[key] = b2 * self.v[key] + (1 - b2) * g * g
        m_hat_scale = self.lr / (1 - b1**t)  # バイアス補正
        denom = np.sqrt(self.v[key]) / np.sqrt(1 - b2**t) + self.eps
        p -= m_hat_scale * self.m[key] / denom
