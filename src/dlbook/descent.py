"""勾配降下法 (gradient descent) の振る舞いを見るための小さな実験。

- 2 次元の関数の上で、学習率ごとの軌跡を記録する。
- 線形回帰で、バッチ・確率的・ミニバッチ勾配降下法の損失曲線を比べる。
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quadratic:
    r"""細長い 2 次関数 :math:`f(\mathbf{p}) = \tfrac12 (a p_1^2 + b p_2^2)`。

    ヘッセ行列は :math:`\mathrm{diag}(a, b)`。勾配降下法は
    :math:`\eta < 2 / \max(a, b)` のときに限り収束する。
    """

    a: float = 1.0  # p1 方向の曲率 (緩い)
    b: float = 10.0  # p2 方向の曲率 (急)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """関数値。``p`` の形は ``(..., 2)``、出力は ``(...)``。"""
        return 0.5 * (self.a * p[..., 0] ** 2 + self.b * p[..., 1] ** 2)

    def grad(self, p: np.ndarray) -> np.ndarray:
        r"""勾配 :math:`(a p_1, b p_2)`。形は ``p`` と同じ。"""
        return p * np.array([self.a, self.b])


def gradient_descent(
    grad: Callable[[np.ndarray], np.ndarray],
    p0: np.ndarray,
    lr: float,
    steps: int,
) -> np.ndarray:
    r"""勾配降下法 :math:`\mathbf{p} \leftarrow \mathbf{p} - \eta \nabla f(\mathbf{p})`
    を ``steps`` 回行い、軌跡を返す。

    Returns:
        初期値を含む軌跡、形 ``(steps + 1, D)``。
    """
    path = [np.asarray(p0, dtype=np.float64)]
    for _ in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    return np.stack(path)


def make_regression(
    n: int, rng: np.random.Generator, noise: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    r"""直線 :math:`y = 2x - 1` にガウス雑音を加えたデータ。

    Returns:
        ``(X, y)``。``X`` は ``(n, 2)`` (2 列目はバイアス用の 1)、
        ``y`` は ``(n,)``。
    """
    x = rng.uniform(-1.0, 1.0, size=n)
    y = 2.0 * x - 1.0 + noise * rng.standard_normal(n)
    return np.stack([x, np.ones(n)], axis=1), y


def mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    r"""平均二乗誤差 :math:`\frac{1}{N} \sum_n (\mathbf{x}_n^\top \mathbf{w} - y_n)^2`。"""
    return float(np.mean((X @ w - y) ** 2))


def minibatch_descent(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    lr: float,
    epochs: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    r"""線形回帰をミニバッチ勾配降下法で解き、更新ごとの損失を記録する。

    ``batch_size == N`` ならバッチ勾配降下法、``1`` なら確率的勾配降下法
    (SGD)。各エポックの初めに訓練例の順番を混ぜる。バッチ :math:`B` での勾配は

    .. math::
        \nabla_{\mathbf{w}} L_B
        = \frac{2}{|B|} \sum_{n \in B} (\mathbf{x}_n^\top \mathbf{w} - y_n)
        \mathbf{x}_n

    Args:
        X: 入力、形 ``(N, D)``。
        y: 目標、形 ``(N,)``。
        batch_size: ミニバッチの大きさ (1 以上 N 以下)。
        lr: 学習率。
        epochs: エポック数。
        rng: 順番を混ぜる乱数生成器。

    Returns:
        ``(seen, losses)``: 各更新の後までに見た訓練例の数と、
        その時点の訓練データ全体での損失。どちらも形 ``(更新回数 + 1,)``
        (先頭は初期値)。

    Raises:
        ValueError: ``batch_size`` が範囲外のとき。
    """
    N, D = X.shape
    if not 1 <= batch_size <= N:
        raise ValueError(f"batch_size は 1 以上 {N} 以下: {batch_size}")
    w = np.zeros(D)
    seen, losses = [0], [mse(w, X, y)]
    for _ in range(epochs):
        order = rng.permutation(N)
        for start in range(0, N, batch_size):
            idx = order[start : start + batch_size]
            Xb, yb = X[idx], y[idx]  # (B, D), (B,)
            w = w - lr * 2.0 / len(idx) * Xb.T @ (Xb @ w - yb)
            seen.append(seen[-1] + len(idx))
            losses.append(mse(w, X, y))
    return np.array(seen), np.array(losses)
