"""パーセプトロン (perceptron) と論理ゲート、2 層で解く XOR。

Rosenblatt の学習則で AND/OR/NAND の重みを求め、それらを 2 層に
組み合わせて、1 本の直線では分けられない XOR を実現する。
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: 2 入力の真理値表の入力。行が 1 つの入力 ``(x1, x2)``。
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)

#: ゲート名 → 真理値表の出力 (``GATE_INPUTS`` の行の順)。
GATE_TARGETS: dict[str, np.ndarray] = {
    "AND": np.array([0, 0, 0, 1], dtype=np.float64),
    "OR": np.array([0, 1, 1, 1], dtype=np.float64),
    "NAND": np.array([1, 1, 1, 0], dtype=np.float64),
    "XOR": np.array([0, 1, 1, 0], dtype=np.float64),
}


@dataclass
class Perceptron:
    r"""単純パーセプトロン :math:`y = H(\mathbf{w}^\top \mathbf{x} + b)`。

    :math:`H` はステップ関数 (:math:`a > 0` で 1、それ以外で 0)。

    Attributes:
        w: 重み、形 ``(D,)``。
        b: バイアス。
        history: 学習則の各エポックでの誤分類の数。
    """

    w: np.ndarray
    b: float = 0.0
    history: list[int] = field(default_factory=list)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """0/1 の出力を返す。

        Shape:
            - x: ``(N, D)``
            - 出力: ``(N,)``
        """
        return (x @ self.w + self.b > 0).astype(np.float64)

    @property
    def converged(self) -> bool:
        """最後のエポックで誤分類が 0 なら ``True``。"""
        return bool(self.history) and self.history[-1] == 0


def train_perceptron(
    x: np.ndarray, t: np.ndarray, lr: float = 1.0, max_epochs: int = 100
) -> Perceptron:
    r"""Rosenblatt のパーセプトロン学習則で重みを求める。

    重みとバイアスを 0 から始め、訓練例を順に見て誤った例でだけ更新する。

    .. math::
        \mathbf{w} \leftarrow \mathbf{w} + \eta (t - y) \mathbf{x}, \quad
        b \leftarrow b + \eta (t - y)

    線形分離可能なら有限回の更新で収束する (パーセプトロンの収束定理)。
    XOR のように分離できなければ ``max_epochs`` まで止まらない。

    Args:
        x: 入力、形 ``(N, D)``。
        t: 0/1 の目標、形 ``(N,)``。
        lr: 学習率 :math:`\eta`。
        max_epochs: 訓練例を一巡する回数の上限。

    Returns:
        学習したパーセプトロン (``history`` にエポックごとの誤分類数)。

    Raises:
        ValueError: ``x`` と ``t`` の例の数が合わないとき。
    """
    N, D = x.shape
    if t.shape != (N,):
        raise ValueError(f"t の形は ({N},) であるべきだが {t.shape}")
    p = Perceptron(w=np.zeros(D))
    for _ in range(max_epochs):
        mistakes = 0
        for xi, ti in zip(x, t, strict=True):
            err = ti - p.predict(xi[None, :])[0]  # -1, 0, 1 のいずれか
            if err != 0:
                p.w = p.w + lr * err * xi
                p.b += lr * err
                mistakes += 1
        p.history.append(mistakes)
        if mistakes == 0:
            break
    return p


def xor_two_layer(
    nand: Perceptron, or_: Perceptron, and_: Perceptron, x: np.ndarray
) -> np.ndarray:
    r"""NAND と OR を隠れ層、AND を出力層に置いた 2 層で XOR を計算する。

    .. math::
        \mathrm{XOR}(x_1, x_2)
        = \mathrm{AND}\bigl(\mathrm{NAND}(x_1, x_2), \mathrm{OR}(x_1, x_2)\bigr)

    Shape:
        - x: ``(N, 2)``
        - 出力: ``(N,)``
    """
    h = np.stack([nand.predict(x), or_.predict(x)], axis=1)  # (N, 2)
    return and_.predict(h)
