"""dlbook.scratch: NumPy の学習ループが本当に学習し、決定的であること。"""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.layers import Affine, ReLU, SoftmaxCrossEntropy
from dlbook.network import Sequential
from dlbook.optim import SGD
from dlbook.scratch import evaluate, fit_numpy, train_epoch


def _blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """3 クラスのよく分かれた 2 次元の点。"""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    t = rng.integers(0, 3, size=150)
    X = centers[t] + rng.normal(scale=0.5, size=(150, 2))
    return X, t


def _net(seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    layers = [
        Affine.from_init(2, 16, rng),
        ReLU(),
        Affine.from_init(16, 3, rng),
    ]
    return Sequential(layers, SoftmaxCrossEntropy())


class TestTrainEpoch:
    def test_loss_decreases_and_accuracy_rises(self) -> None:
        X, t = _blobs(0)
        net, opt = _net(0), SGD(lr=0.1)
        before_loss, before_acc = evaluate(net, X, t)
        rng = np.random.default_rng(0)
        for _ in range(5):
            train_epoch(net, opt, X, t, batch_size=16, rng=rng)
        after_loss, after_acc = evaluate(net, X, t)
        assert after_loss < 0.5 * before_loss
        assert after_acc > 0.95 > before_acc

    def test_inputs_are_not_modified(self) -> None:
        X, t = _blobs(1)
        X0, t0 = X.copy(), t.copy()
        train_epoch(_net(1), SGD(lr=0.1), X, t, 8, np.random.default_rng(1))
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(t, t0)

    def test_bad_batch_size(self) -> None:
        X, t = _blobs(0)
        with pytest.raises(ValueError, match="batch_size"):
            train_epoch(
                _net(0), SGD(lr=0.1), X, t, 0, np.random.default_rng(0)
            )


class TestFitNumpy:
    def test_history_and_log(self) -> None:
        X, t = _blobs(2)
        lines: list[str] = []
        hist = fit_numpy(
            _net(2),
            SGD(lr=0.1),
            X,
            t,
            epochs=3,
            batch_size=32,
            rng=np.random.default_rng(2),
            X_val=X[:30],
            t_val=t[:30],
            log=lines.append,
        )
        assert len(hist.train_loss) == len(hist.val_acc) == len(lines) == 3
        assert hist.lr == [0.1, 0.1, 0.1]
        assert lines[0].startswith("epoch   1/3")
        assert hist.train_loss[-1] < hist.train_loss[0]

    def test_same_seed_same_history(self) -> None:
        X, t = _blobs(3)
        runs = [
            fit_numpy(
                _net(3),
                SGD(lr=0.05),
                X,
                t,
                epochs=2,
                batch_size=10,
                rng=np.random.default_rng(7),
                log=None,
            )
            for _ in range(2)
        ]
        assert runs[0].train_loss == runs[1].train_loss
        assert runs[0].train_acc == runs[1].train_acc

    def test_evaluate_matches_network(self) -> None:
        X, t = _blobs(4)
        net = _net(4)
        loss, acc = evaluate(net, X, t)
        assert loss == pytest.approx(net.loss(X, t, train=False))
        assert acc == pytest.approx(
            float(np.mean(np.argmax(net.predict(X), axis=1) == t))
        )


def test_train_epoch_on_empty_data_is_a_clear_error() -> None:
    rng = np.random.default_rng(0)
    net = Sequential(
        [Affine.from_init(2, 3, rng), ReLU(), Affine.from_init(3, 2, rng)],
        SoftmaxCrossEntropy(),
    )
    with pytest.raises(ValueError, match="空"):
        train_epoch(
            net, SGD(lr=0.1), np.zeros((0, 2)), np.zeros(0, int), 4, rng
        )
