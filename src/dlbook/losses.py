"""損失関数 (loss function)。

どの損失もバッチ (先頭の軸、大きさ :math:`N`) で平均する。
1 次元の入力は 1 個のデータ (:math:`N = 1`) とみなす。

教師ラベル ``t`` は次のどちらでもよい。

- クラス番号: 整数の配列 ``(N,)`` (1 個なら整数のスカラー)
- one-hot (または確率分布): ``y`` と同じ形 ``(N, K)``
"""

from __future__ import annotations

import numpy as np

from dlbook.activations import softmax


def _as_batch(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y`` を ``(N, K)``、``t`` を ``(N,)`` か ``(N, K)`` にそろえる。"""
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t)
    if y.ndim == 1:  # 1 個のデータ
        y, t = y[None, :], t[None, ...]  # (1, K)
    if y.ndim != 2:
        raise ValueError(f"y は (N, K) でなければならない: {y.shape}")
    if t.shape == y.shape:
        return y, t.astype(np.float64)
    if t.shape != y.shape[:1]:
        raise ValueError(f"t の形 {t.shape} が y の形 {y.shape} に合わない")
    _check_labels(t, y.shape[1])
    return y, t


def _check_labels(t: np.ndarray, num_classes: int) -> None:
    """クラス番号 ``t`` が 0 以上 ``num_classes`` 未満の整数でなければ ValueError。

    負の番号を許すと、NumPy の添字として後ろから数えられてしまう。
    """
    if t.dtype.kind not in "iu":
        raise ValueError(f"クラス番号の t は整数でなければならない: {t.dtype}")
    if np.any((t < 0) | (t >= num_classes)):
        raise ValueError(f"クラス番号は 0 以上 {num_classes} 未満: {t}")


def one_hot(t: np.ndarray, num_classes: int) -> np.ndarray:
    """クラス番号 ``(N,)`` を one-hot 表現 ``(N, num_classes)`` にする。

    Raises:
        ValueError: ``t`` が整数でない、または 0 以上 ``num_classes`` 未満で
            ないとき (負の番号が後ろから数えられてしまうのを防ぐ)。
    """
    t = np.asarray(t)
    _check_labels(t, num_classes)
    return np.eye(num_classes)[t]  # (N, K)


def mean_squared_error(y: np.ndarray, t: np.ndarray) -> float:
    r"""2 乗和誤差をバッチで平均したもの。

    .. math::
        E = \frac{1}{N} \sum_{n} \frac{1}{2} \sum_{k} (y_{nk} - t_{nk})^2

    :math:`\tfrac12` は微分 :math:`(y - t)` をきれいにするため。
    PyTorch の ``F.mse_loss(y, t, reduction="sum") / (2 * N)`` に等しい
    (``reduction="mean"`` は要素数 :math:`NK` で割るので違う)。

    Shape:
        - y, t: ``(N, K)`` または ``(K,)``
    """
    y, t = _as_batch(y, t)
    if t.shape != y.shape:
        raise ValueError("mean_squared_error の t は y と同じ形にする")
    N = y.shape[0]
    return float(0.5 * np.sum((y - t) ** 2) / N)


def mean_squared_error_grad(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    r""":math:`\partial E / \partial y = (y - t) / N`。

    Shape:
        - y, t, 出力: ``(N, K)``
    """
    shape = np.shape(y)
    y, t = _as_batch(y, t)
    if t.shape != y.shape:  # クラス番号を渡すと、形が偶然合えば黙って広がる
        raise ValueError("mean_squared_error_grad の t は y と同じ形にする")
    return ((y - t) / y.shape[0]).reshape(shape)  # (N, K) か (K,)


def cross_entropy(
    y_prob: np.ndarray, t: np.ndarray, eps: float = 1e-12
) -> float:
    r"""交差エントロピー誤差 (確率を受け取る版)。

    .. math::
        E = -\frac{1}{N} \sum_{n} \sum_{k} t_{nk} \log y_{nk}

    ``t`` がクラス番号なら :math:`-\frac1N \sum_n \log y_{n, t_n}`。
    :math:`\log 0 = -\infty` を避けるため、``eps`` 未満の確率は
    ``eps`` に切り上げる (それ以外の値は変えない)。

    Shape:
        - y_prob: ``(N, K)`` (各行の和が 1)
        - t: ``(N,)`` のクラス番号、または ``(N, K)``
    """
    y, t = _as_batch(y_prob, t)
    N = y.shape[0]
    log_y = np.log(np.clip(y, eps, None))  # log(0) 対策
    if t.shape == y.shape:
        return float(-np.sum(t * log_y) / N)
    return float(-np.sum(log_y[np.arange(N), t]) / N)


def log_softmax(x: np.ndarray) -> np.ndarray:
    r"""log-sum-exp で :math:`\log \mathrm{softmax}(x)` を安定に求める。

    .. math::
        \log y_k = x_k - m - \log \sum_j e^{x_j - m},
        \quad m = \max_j x_j

    Shape:
        - x, 出力: ``(..., K)``
    """
    x = np.asarray(x, dtype=np.float64)
    z = x - np.max(x, axis=-1, keepdims=True)  # オーバーフロー対策
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, t: np.ndarray) -> float:
    r"""ソフトマックスと交差エントロピーをまとめた損失。

    確率を作ってから log を取ると、:math:`y_k` が 0 に丸められて
    :math:`\log 0` になる。:func:`log_softmax` で対数のまま計算すれば
    ロジットが 1000 でも 0 でも正しい値が出る。
    PyTorch の ``F.cross_entropy(logits, t)`` に等しい。

    Shape:
        - logits: ``(N, K)``
        - t: ``(N,)`` のクラス番号、または ``(N, K)``
    """
    x, t = _as_batch(logits, t)
    N = x.shape[0]
    log_y = log_softmax(x)  # (N, K)
    if t.shape == x.shape:
        return float(-np.sum(t * log_y) / N)
    return float(-np.sum(log_y[np.arange(N), t]) / N)


def softmax_cross_entropy_grad(
    logits: np.ndarray, t: np.ndarray
) -> np.ndarray:
    r"""ロジットに関する勾配 :math:`(y - t) / N`、:math:`y = \mathrm{softmax}(x)`。

    Shape:
        - logits, 出力: ``(N, K)``
        - t: ``(N,)`` のクラス番号、または ``(N, K)``
    """
    x, t = _as_batch(logits, t)
    N, K = x.shape
    t_onehot = t if t.shape == x.shape else one_hot(t, K)  # (N, K)
    dx = (softmax(x) - t_onehot) / N
    return dx.reshape(np.shape(logits))
