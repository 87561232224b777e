"""dlbook.descent のテスト。"""

import numpy as np
import pytest

from dlbook.descent import (
    Quadratic,
    gradient_descent,
    make_regression,
    minibatch_descent,
    mse,
)
from dlbook.gradcheck import numerical_gradient


def test_quadratic_grad_matches_numerical() -> None:
    f = Quadratic(a=1.0, b=10.0)
    p = np.array([0.7, -0.3])
    num = numerical_gradient(lambda q: float(f(q)), p.copy())
    np.testing.assert_allclose(f.grad(p), num, rtol=1e-6)


@pytest.mark.parametrize(("lr", "converges"), [(0.15, True), (0.21, False)])
def test_stability_threshold(lr: float, converges: bool) -> None:
    # 収束の条件は lr < 2 / max(a, b) = 0.2
    f = Quadratic(a=1.0, b=10.0)
    path = gradient_descent(f.grad, np.array([1.0, 1.0]), lr, 200)
    assert path.shape == (201, 2)
    assert (f(path[-1]) < 1e-6) == converges


@pytest.mark.parametrize("batch_size", [1, 10, 200])
def test_minibatch_reaches_least_squares(batch_size: int) -> None:
    rng = np.random.default_rng(0)
    X, y = make_regression(200, rng)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    lr = 0.01 if batch_size == 1 else 0.2
    seen, losses = minibatch_descent(X, y, batch_size, lr, 50, rng)
    assert seen[-1] == 50 * 200
    assert len(seen) == len(losses)
    assert losses[-1] < mse(w_star, X, y) * 1.05


def test_bad_batch_size() -> None:
    X, y = make_regression(10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_descent(X, y, 0, 0.1, 1, np.random.default_rng(0))


def _gd_losses(
    X: np.ndarray, y: np.ndarray, lr: float, steps: int
) -> np.ndarray:
    """w = 0 から数値微分の勾配で steps 回更新したときの損失の列。"""
    w = np.zeros(X.shape[1])  # minibatch_descent の始点
    out = [mse(w, X, y)]
    for _ in range(steps):
        g = numerical_gradient(lambda v: mse(v, X, y), w.copy())
        w = w - lr * g
        out.append(mse(w, X, y))
    return np.array(out)


@pytest.mark.parametrize("lr", [0.05, 0.3])
def test_full_batch_update_is_minus_lr_times_gradient(lr: float) -> None:
    """batch_size = N の 1 回目の更新は -lr × (mse の勾配)、始点は w = 0。"""
    X, y = make_regression(20, np.random.default_rng(1))
    seen, losses = minibatch_descent(X, y, 20, lr, 1, np.random.default_rng(2))
    np.testing.assert_array_equal(seen, [0, 20])
    assert losses[0] == pytest.approx(mse(np.zeros(2), X, y), rel=1e-15)
    g = numerical_gradient(lambda v: mse(v, X, y), np.zeros(2))
    w1 = -lr * g
    assert losses[1] == pytest.approx(mse(w1, X, y), rel=1e-8)
    # 何エポックでも、全データのバッチなら勾配降下法そのもの
    seen, losses = minibatch_descent(X, y, 20, lr, 4, np.random.default_rng(3))
    np.testing.assert_array_equal(seen, [0, 20, 40, 60, 80])
    np.testing.assert_allclose(losses, _gd_losses(X, y, lr, 4), rtol=1e-8)


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_minibatch_gradient_is_batch_mean(batch_size: int) -> None:
    """全例が同じなら、どのミニバッチの勾配も全体の勾配に等しい。

    1/|B| で割ることを (最後の小さいバッチも含めて) 順番に依らず確かめる。
    """
    N = 7  # batch_size=3 なら 3, 3, 1 件
    X = np.tile([0.8, 1.0], (N, 1))  # (7, 2)
    y = np.full(N, 0.5)
    lr = 0.1
    seen, losses = minibatch_descent(
        X, y, batch_size, lr, 2, np.random.default_rng(4)
    )
    n_updates = 2 * (-(-N // batch_size))
    assert len(losses) == n_updates + 1
    assert seen[-1] == 2 * N
    np.testing.assert_allclose(
        losses, _gd_losses(X, y, lr, n_updates), rtol=1e-7, atol=1e-15
    )
