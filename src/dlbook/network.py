"""層を順につないだネットワーク (``Sequential``)。"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from dlbook.layers import Layer


class Loss(Protocol):
    """損失層の約束 (``SoftmaxCrossEntropy``, ``MeanSquaredError``)。"""

    def forward(self, y: np.ndarray, t: np.ndarray) -> float: ...

    def backward(self, dout: float = 1.0) -> np.ndarray: ...


class Sequential:
    """層のリストと損失層からなるネットワーク。

    順伝播は層を前から、逆伝播は損失層から後ろ向きにたどる。
    ``params()`` と ``grads()`` は ``"0.W"`` (層の番号 . 名前) をキーとする
    辞書で、値は層が持つ配列そのもの (コピーではない)。
    そのため ``opt.step(net.params(), net.grads())`` が層の重みを更新する。

    Args:
        layers: 層のリスト (前から順に)。
        loss: 損失層。

    Example::

        rng = np.random.default_rng(0)
        net = Sequential(
            [Affine.from_init(784, 100, rng), ReLU(),
             Affine.from_init(100, 10, rng)],
            SoftmaxCrossEntropy(),
        )
        loss = net.loss(x, t)  # 順伝播
        net.backward()  # 逆伝播
        opt.step(net.params(), net.grads())  # 層の重みが更新される
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss) -> None:
        if len(layers) == 0:
            raise ValueError("層が 1 つもない")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ValueError(f"{i} 番目が Layer でない: {layer!r}")
        self.layers = list(layers)
        self.loss_layer = loss

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """出力 (ソフトマックスの前のスコア) を返す。"""
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray, train: bool = True) -> float:
        """順伝播して損失を返す (``backward`` の準備も兼ねる)。"""
        return self.loss_layer.forward(self.forward(x, train), t)

    def backward(self) -> np.ndarray:
        """直前の ``loss`` から逆伝播し、各層の ``grads`` を埋める。

        Returns:
            入力 ``x`` に関する勾配。
        """
        dout = self.loss_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def params(self) -> dict[str, np.ndarray]:
        """``{"0.W": 配列, "0.b": 配列, ...}`` (層の配列そのもの)。"""
        return {
            f"{i}.{name}": p
            for i, layer in enumerate(self.layers)
            for name, p in layer.params.items()
        }

    def grads(self) -> dict[str, np.ndarray]:
        """``params()`` と同じキーの勾配。``backward`` の後に呼ぶ。"""
        grads = {}
        for i, layer in enumerate(self.layers):
            for name in layer.params:
                if name not in layer.grads:
                    raise RuntimeError("grads() の前に backward() を呼ぶ")
                grads[f"{i}.{name}"] = layer.grads[name]
        return grads

    def predict(self, x: np.ndarray) -> np.ndarray:
        """推論モード (``train=False``) の出力スコア ``(N, K)``。"""
        return self.forward(x, train=False)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """正解率。``t`` はクラス番号 ``(N,)`` か one-hot ``(N, K)``。"""
        y = np.argmax(self.predict(x), axis=1)  # (N,)
        t = np.asarray(t)
        if t.ndim == 2:
            t = np.argmax(t, axis=1)
        if t.shape != y.shape:
            raise ValueError(f"t の形 {t.shape} がデータ数 {y.shape} と違う")
        return float(np.mean(y == t))

    def __repr__(self) -> str:
        lines = [f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers)]
        loss = type(self.loss_layer).__name__
        return "Sequential(\n" + "\n".join(lines) + f"\n  loss={loss}\n)"
