"""NumPy だけで書いたネットワーク (``Sequential``) の学習ループ。

PyTorch の ``dlbook.train.fit`` と同じ ``History`` を返すので、
2 つの実装の学習曲線を同じ関数で描いて比べられる。
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dlbook.history import History
from dlbook.network import Sequential
from dlbook.optim import Optimizer


def train_epoch(
    net: Sequential,
    opt: Optimizer,
    X: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """訓練データを混ぜてミニバッチに分け、1 エポック学習する。

    1 回の更新は「順伝播 → 逆伝播 → ``opt.step``」の 3 行である。

    Args:
        net: 学習させるネットワーク (重みはその場で更新される)。
        opt: 最適化器。
        X: 入力、形 ``(N, D)``。
        t: クラス番号、形 ``(N,)``。
        batch_size: ミニバッチの大きさ。
        rng: 順番を混ぜる乱数生成器。

    Returns:
        ``(平均損失, 正解率)``。どちらも更新中のミニバッチで測った値。
    """
    N = X.shape[0]
    if batch_size <= 0:
        raise ValueError(f"batch_size は正の整数: {batch_size}")
    if N == 0:
        raise ValueError("訓練データが空です")
    order = rng.permutation(N)
    total_loss, correct = 0.0, 0
    for start in range(0, N, batch_size):
        idx = order[start : start + batch_size]
        xb, tb = X[idx], t[idx]  # (B, D), (B,)
        scores = net.forward(xb)  # 順伝播 (B, K)
        loss = net.loss_layer.forward(scores, tb)
        net.backward()  # 逆伝播
        opt.step(net.params(), net.grads())  # 重みの更新
        total_loss += loss * len(idx)
        correct += int(np.sum(np.argmax(scores, axis=1) == tb))
    return total_loss / N, correct / N


def evaluate(
    net: Sequential, X: np.ndarray, t: np.ndarray
) -> tuple[float, float]:
    """推論モードで ``(平均損失, 正解率)`` を返す。"""
    loss = net.loss(X, t, train=False)
    return float(loss), net.accuracy(X, t)


def fit_numpy(
    net: Sequential,
    opt: Optimizer,
    X: np.ndarray,
    t: np.ndarray,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    X_val: np.ndarray | None = None,
    t_val: np.ndarray | None = None,
    log: Callable[[str], None] | None = print,
) -> History:
    """``epochs`` エポック学習し、``dlbook.train.History`` を返す。

    Args:
        net: 損失層が ``SoftmaxCrossEntropy`` の ``Sequential``。
        opt: 最適化器 (``dlbook.optim``)。
        X, t: 訓練データ ``(N, D)`` とクラス番号 ``(N,)``。
        epochs: エポック数。
        batch_size: ミニバッチの大きさ。
        rng: 順番を混ぜる乱数生成器。
        X_val, t_val: 検証データ (``None`` なら評価しない)。
        log: 1 エポック 1 行の進捗を渡す関数 (``None`` なら出さない)。
    """
    history = History()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        history.lr.append(float(opt.lr))
        loss, acc = train_epoch(net, opt, X, t, batch_size, rng)
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        msg = (
            f"epoch {epoch:3d}/{epochs}: 訓練 損失 {loss:.4f} 正解率 {acc:.3f}"
        )
        if X_val is not None and t_val is not None:
            v_loss, v_acc = evaluate(net, X_val, t_val)
            history.val_loss.append(v_loss)
            history.val_acc.append(v_acc)
            msg += f" | 検証 損失 {v_loss:.4f} 正解率 {v_acc:.3f}"
        history.epoch_time.append(time.perf_counter() - t0)
        if log is not None:
            log(msg)
    return history
