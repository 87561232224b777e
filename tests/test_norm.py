"""dlbook.norm.BatchNorm を torch.nn.BatchNorm1d/2d と数値微分に比べる。"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlbook.gradcheck import check_layer
from dlbook.norm import BatchNorm

ATOL = 1e-10
SHAPES = [(5, 3), (8, 1), (3, 4, 5, 3), (2, 3, 1, 1)]


def _pair(shape: tuple[int, ...], momentum: float = 0.1, seed: int = 0):
    """同じ gamma, beta を持つ本書の層と PyTorch の層。"""
    D = shape[1]
    rng = np.random.default_rng(seed)
    ours = BatchNorm(D, momentum=momentum)
    ours.params["gamma"][...] = rng.uniform(0.5, 2.0, D)
    ours.params["beta"][...] = rng.standard_normal(D)
    cls = nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d
    theirs = cls(D, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.params["gamma"]))
        theirs.bias.copy_(torch.from_numpy(ours.params["beta"]))
    return ours, theirs, rng


def _compare(ours: BatchNorm, theirs: nn.Module, x, dout, train: bool):
    out = ours.forward(x, train=train)
    dx = ours.backward(dout)
    theirs.train(train)
    xt = torch.from_numpy(x).requires_grad_()
    theirs.weight.grad = theirs.bias.grad = None
    yt = theirs(xt)
    yt.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(
        ours.grads["gamma"], theirs.weight.grad, atol=ATOL
    )
    np.testing.assert_allclose(ours.grads["beta"], theirs.bias.grad, atol=ATOL)


class TestBatchNorm:
    @pytest.mark.parametrize("shape", SHAPES)
    def test_train_matches_torch(self, shape) -> None:
        ours, theirs, rng = _pair(shape)
        for _ in range(3):  # 移動平均が 3 回更新される
            x = 2.0 + 3.0 * rng.standard_normal(shape)
            _compare(ours, theirs, x, rng.standard_normal(shape), train=True)
        np.testing.assert_allclose(
            ours.running_mean, theirs.running_mean.numpy(), atol=ATOL
        )
        np.testing.assert_allclose(
            ours.running_var, theirs.running_var.numpy(), atol=ATOL
        )

    @pytest.mark.parametrize("shape", SHAPES)
    def test_eval_matches_torch(self, shape) -> None:
        ours, theirs, rng = _pair(shape, momentum=0.3, seed=1)
        for _ in range(2):
            x = rng.standard_normal(shape)
            _compare(ours, theirs, x, rng.standard_normal(shape), train=True)
        x, dout = rng.standard_normal((2, *shape))
        mean_before = ours.running_mean.copy()
        _compare(ours, theirs, x, dout, train=False)
        np.testing.assert_array_equal(ours.running_mean, mean_before)

    def test_train_output_is_normalized(self) -> None:
        ours = BatchNorm(4)
        x = 5.0 + 3.0 * np.random.default_rng(2).standard_normal((50, 4))
        y = ours.forward(x)
        np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(y.var(axis=0), 1.0, rtol=1e-5)

    @pytest.mark.parametrize("shape", [(4, 3), (2, 2, 3, 3)])
    @pytest.mark.parametrize("train", [True, False])
    def test_gradcheck(self, shape, train: bool) -> None:
        ours, _, rng = _pair(shape, seed=3)
        ours.running_var[...] = rng.uniform(0.5, 2.0, shape[1])
        x = rng.standard_normal(shape)
        errors = check_layer(ours, x, rng, train=train)
        assert set(errors) == {"x", "gamma", "beta"}
        assert max(errors.values()) < 1e-7

    def test_does_not_modify_input(self) -> None:
        x = np.random.default_rng(4).standard_normal((3, 2, 4, 4))
        before = x.copy()
        layer = BatchNorm(2)
        layer.forward(x)
        layer.backward(x)
        np.testing.assert_array_equal(x, before)

    @pytest.mark.parametrize(
        ("shape", "match"),
        [((4, 5), r"\(N, 3\)"), ((2, 3, 4), "H, W"), ((1, 3), "2 個以上")],
    )
    def test_bad_input_raises(self, shape, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            BatchNorm(3).forward(np.zeros(shape))
