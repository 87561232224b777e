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
