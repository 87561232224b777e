"""最適化器と重みの初期化を、同じ条件で比べる実験。

比較を公平にするため、どの実行でも初期値 (``seed``) とミニバッチの順序を
そろえ、違うのは比べたいもの (最適化器、または初期化) だけにする。
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import pairwise

import torch
from torch import nn

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def make_mlp(sizes: list[int], seed: int) -> nn.Sequential:
    """``sizes`` の順に全結合層を並べ、間に ReLU を挟んだ MLP。

    例: ``[64, 64, 10]`` は 64 → 64 → 10。同じ ``seed`` なら同じ初期値。
    """
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_curve(
    model: nn.Module,
    make_optimizer: OptimizerFactory,
    X: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """ミニバッチ学習をして、各エポックの後の訓練損失 (全データ) を返す。

    Shape:
        - X: :math:`(N, D)`、y: :math:`(N,)` (クラス番号)
        - 戻り値: 長さ ``epochs + 1`` (先頭は学習前の損失)
    """
    loss_fn = nn.CrossEntropyLoss()
    opt = make_optimizer(model.parameters())
    g = torch.Generator().manual_seed(
        seed
    )  # ミニバッチの順序を全実行でそろえる
    N = X.shape[0]

    def full_loss() -> float:
        with torch.no_grad():
            return loss_fn(model(X), y).item()

    curve = [full_loss()]
    for _ in range(epochs):
        perm = torch.randperm(N, generator=g)
        for i in range(0, N, batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            loss_fn(model(X[idx]), y[idx]).backward()
            opt.step()
        curve.append(full_loss())
    return curve


def compare_optimizers(
    optimizers: dict[str, OptimizerFactory],
    X: torch.Tensor,
    y: torch.Tensor,
    sizes: list[int],
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, list[float]]:
    """同じ初期値の MLP を最適化器ごとに学習し、損失曲線を返す。

    Args:
        optimizers: 名前 → 「パラメータを受け取り最適化器を返す関数」。
        X: 入力 ``(N, D)``。
        y: クラス番号 ``(N,)``。
        sizes: MLP の層の幅 (``make_mlp`` に渡す)。
        epochs: エポック数。
        batch_size: ミニバッチの大きさ。
        seed: 初期値とミニバッチ順序のシード。

    Returns:
        名前 → :func:`train_curve` の損失のリスト。
    """
    return {
        name: train_curve(
            make_mlp(sizes, seed),
            make,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
        )
        for name, make in optimizers.items()
    }


def init_linear(layer: nn.Linear, scheme: str) -> None:
    """全結合層の重みを初期化する (その場で書き換える)。

    - ``"default"``: PyTorch の既定 (何もしない)。重みは
      :math:`U(-1/\\sqrt{n_{in}}, 1/\\sqrt{n_{in}})` で分散は
      :math:`1/(3 n_{in})`。
    - ``"xavier"``: :math:`\\mathcal{N}(0, 2/(n_{in}+n_{out}))`、バイアス 0。
    - ``"he"``: :math:`\\mathcal{N}(0, 2/n_{in})`、バイアス 0。

    Raises:
        ValueError: 未知の ``scheme``。
    """
    if scheme == "default":
        return
    if scheme == "xavier":
        nn.init.xavier_normal_(layer.weight)
    elif scheme == "he":
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    else:
        raise ValueError(f"未知の初期化: {scheme!r}")
    nn.init.zeros_(layer.bias)


def activation_stds(
    scheme: str,
    depth: int = 10,
    width: int = 256,
    n: int = 1000,
    seed: int = 0,
) -> list[float]:
    """深い ReLU MLP に標準正規分布の入力を流し、各層の出力の標準偏差を返す。

    Returns:
        長さ ``depth`` のリスト。``i`` 番目は ``i + 1`` 層目の ReLU の出力の
        標準偏差。
    """
    torch.manual_seed(seed)
    h = torch.randn(n, width)
    stds = []
    with torch.no_grad():
        for _ in range(depth):
            layer = nn.Linear(width, width)
            init_linear(layer, scheme)
            h = torch.relu(layer(h))  # (n, width)
            stds.append(h.std().item())
    return stds


def relu_gain(scheme: str, n_in: int, n_out: int) -> float:
    """ReLU 層 1 つで活性の 2 乗平均が何倍になるか (理論値、バイアスを無視)。

    :math:`\\mathbb{E}[h^2] \\to \\tfrac{1}{2} n_{in} \\sigma_w^2 \\,
    \\mathbb{E}[h^2]` なので、倍率は :math:`n_{in}\\sigma_w^2/2`。
    """
    var = {
        "default": 1 / (3 * n_in),
        "xavier": 2 / (n_in + n_out),
        "he": 2 / n_in,
    }
    if scheme not in var:
        raise ValueError(f"未知の初期化: {scheme!r}")
    return n_in * var[scheme] / 2


def std_ratio(scheme: str, width: int) -> float:
    """1 層あたりの標準偏差の倍率 (理論値) :math:`\\sqrt{\\text{relu\\_gain}}`。"""
    return math.sqrt(relu_gain(scheme, width, width))


__all__ = [
    "activation_stds",
    "compare_optimizers",
    "init_linear",
    "make_mlp",
    "relu_gain",
    "std_ratio",
    "train_curve",
]
