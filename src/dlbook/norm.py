r"""バッチ正規化 (batch normalization)。

ミニバッチの平均 :math:`\mu` と分散 :math:`\sigma^2` で各特徴を正規化し、
学習するスケール :math:`\gamma` とシフト :math:`\beta` を掛ける。

.. math::
    \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
    y = \gamma \hat x + \beta
"""

from __future__ import annotations

import numpy as np

from dlbook.layers import Layer


class BatchNorm(Layer):
    r"""バッチ正規化層 (``torch.nn.BatchNorm1d/2d`` と同じ計算)。

    学習時はミニバッチの統計量で正規化し、移動平均
    :math:`r \leftarrow (1 - m) r + m\,s` (:math:`m` は ``momentum``) を
    更新する。PyTorch と同じく、正規化には標本分散 (:math:`M` で割る) を、
    ``running_var`` には不偏分散 (:math:`M - 1` で割る) を使う。
    推論時は移動平均で正規化する。

    逆伝播 (学習時) は、:math:`M` 個のデータについてまとめると

    .. math::
        \frac{\partial L}{\partial x}
        = \frac{1}{M \sqrt{\sigma^2 + \epsilon}}
          \Bigl(M \delta_{\hat x} - \sum \delta_{\hat x}
          - \hat x \sum \delta_{\hat x} \hat x\Bigr),
        \quad \delta_{\hat x} = \gamma\, \delta

    Args:
        num_features: 特徴の数 :math:`D` (画像ならチャネル数 :math:`C`)。
        momentum: 移動平均の係数 (PyTorch と同じ向き、既定 0.1)。
        eps: 0 除算を防ぐ小さな数。

    Shape:
        - 入力: ``(N, D)`` または ``(N, C, H, W)`` (チャネルごとに
          :math:`M = N H W` 個で統計量を取る)
        - 出力: 入力と同じ
    """

    def __init__(
        self, num_features: int, momentum: float = 0.1, eps: float = 1e-5
    ) -> None:
        super().__init__()
        D = num_features
        self.params = {"gamma": np.ones(D), "beta": np.zeros(D)}
        self.running_mean = np.zeros(D)
        self.running_var = np.ones(D)
        self.momentum, self.eps = momentum, eps
        self.x_hat: np.ndarray | None = None  # (M, D)
        self.inv_std: np.ndarray | None = None  # (D,)
        self.train = True

    def _to_2d(self, x: np.ndarray) -> np.ndarray:
        """``(N, C, H, W)`` を ``(N*H*W, C)`` にする (特徴を最後の軸へ)。"""
        D = self.params["gamma"].shape[0]
        if x.ndim not in (2, 4) or x.shape[1] != D:
            raise ValueError(
                f"入力は (N, {D}) か (N, {D}, H, W) でなければならない: "
                f"{x.shape}"
            )
        if x.ndim == 2:
            return x
        N, C, H, W = x.shape
        return x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)

    @staticmethod
    def _from_2d(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``_to_2d`` の逆。"""
        if len(shape) == 2:
            return y
        N, C, H, W = shape
        return y.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        x2 = self._to_2d(x)  # (M, D)
        M = x2.shape[0]
        if train:
            if M < 2:
                raise ValueError(
                    "学習時は 1 特徴あたり 2 個以上のデータが要る"
                )
            mu = x2.mean(axis=0)  # (D,)
            var = x2.var(axis=0)  # (D,) 標本分散 (M で割る)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mu
            unbiased = var * M / (M - 1)
            self.running_var = (1 - m) * self.running_var + m * unbiased
        else:
            mu, var = self.running_mean, self.running_var
        self.train = train
        self.inv_std = 1.0 / np.sqrt(var + self.eps)  # (D,)
        self.x_hat = (x2 - mu) * self.inv_std  # (M, D)
        y = self.params["gamma"] * self.x_hat + self.params["beta"]
        return self._from_2d(y, x.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.x_hat is not None and self.inv_std is not None
        d2 = self._to_2d(dout)  # (M, D)
        x_hat, M = self.x_hat, d2.shape[0]
        self.grads["gamma"] = np.sum(d2 * x_hat, axis=0)  # (D,)
        self.grads["beta"] = np.sum(d2, axis=0)  # (D,)
        dx_hat = d2 * self.params["gamma"]  # (M, D)
        if not self.train:  # 推論時は平均・分散が定数
            return self._from_2d(dx_hat * self.inv_std, dout.shape)
        dx = (self.inv_std / M) * (
            M * dx_hat
            - np.sum(dx_hat, axis=0)
            - x_hat * np.sum(dx_hat * x_hat, axis=0)
        )  # (M, D)
        return self._from_2d(dx, dout.shape)
