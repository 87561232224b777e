"""dlbook.compare: 比較実験の公平さ (同じ初期値・同じ順序) と初期化の理論値。"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlbook import compare


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 5, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    return X, y


def test_make_mlp_same_seed_same_weights() -> None:
    a, b = compare.make_mlp([5, 8, 2], 3), compare.make_mlp([5, 8, 2], 3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert [type(m) for m in a] == [nn.Linear, nn.ReLU, nn.Linear]


def test_same_optimizer_same_curve() -> None:
    X, y = _data()
    sgd = lambda p: torch.optim.SGD(p, lr=0.1)  # noqa: E731
    curves = compare.compare_optimizers(
        {"a": sgd, "b": sgd}, X, y, [5, 8, 2], epochs=3, batch_size=32
    )
    assert curves["a"] == curves["b"]
    assert len(curves["a"]) == 4


def test_loss_decreases() -> None:
    X, y = _data()
    curves = compare.compare_optimizers(
        {"adam": lambda p: torch.optim.Adam(p, lr=0.01)},
        X,
        y,
        [5, 16, 2],
        epochs=10,
        batch_size=32,
    )
    assert curves["adam"][-1] < 0.5 * curves["adam"][0]


@pytest.mark.parametrize(
    ("scheme", "gain"),
    [
        ("default", 1 / 6),
        ("xavier", 0.5),
        ("he", 1.0),
    ],
)
def test_relu_gain(scheme: str, gain: float) -> None:
    assert compare.relu_gain(scheme, 100, 100) == pytest.approx(gain)
    assert compare.std_ratio(scheme, 100) == pytest.approx(math.sqrt(gain))


def test_he_keeps_scale_xavier_shrinks() -> None:
    he = compare.activation_stds("he", depth=8, width=256, n=1000)
    xa = compare.activation_stds("xavier", depth=8, width=256, n=1000)
    assert 0.5 < he[-1] / he[0] < 2.0
    # Xavier は 1 層ごとに約 1/sqrt(2) 倍、7 層で約 0.09 倍
    # (有限の幅では層ごとの倍率がゆらぐので、許容幅を広くとる)
    assert 0.03 < xa[-1] / xa[0] < 0.2


def test_init_linear() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(400, 300)
    compare.init_linear(layer, "he")
    assert layer.weight.std().item() == pytest.approx(
        math.sqrt(2 / 400), rel=0.02
    )
    assert torch.count_nonzero(layer.bias) == 0
    with pytest.raises(ValueError, match="未知の初期化"):
        compare.init_linear(layer, "lecun")
    with pytest.raises(ValueError, match="未知の初期化"):
        compare.relu_gain("lecun", 1, 1)
