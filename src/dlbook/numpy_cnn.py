"""NumPy の層だけで組んだ小さな CNN と、同じ重みを持つ PyTorch の双子。

``build_numpy_cnn`` は ``dlbook.conv``・``dlbook.pooling``・``dlbook.layers``
の層を ``dlbook.network.Sequential`` に並べる。``to_torch`` は同じ重みを
float64 で写した ``torch.nn.Sequential`` を作る。``train_twins`` は両方を
同じミニバッチの列と同じ SGD で学習させ、2 本の損失曲線を返す。
2 つの実装が同じ計算をしていれば、曲線は浮動小数点の誤差の範囲で重なる。
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlbook.conv import Conv2d
from dlbook.layers import Affine, Flatten, ReLU, SoftmaxCrossEntropy
from dlbook.network import Sequential
from dlbook.optim import SGD
from dlbook.pooling import MaxPool2d


def build_numpy_cnn(
    rng: np.random.Generator,
    in_channels: int = 1,
    size: int = 8,
    widths: tuple[int, int] = (8, 16),
    n_classes: int = 10,
) -> Sequential:
    """畳み込み 2 段 + 全結合 1 層の CNN を NumPy の層で作る。

    conv3×3 → ReLU → 最大プーリング 2×2 → conv3×3 → ReLU → 最大プーリング
    2×2 → 平坦化 → 全結合 → ソフトマックス交差エントロピー。
    畳み込みはパディング 1 (大きさを保つ)、重みは He の初期化。

    Args:
        rng: 重みの初期化に使う乱数生成器。
        in_channels: 入力のチャネル数 ``C``。
        size: 入力の一辺 ``H = W`` (4 の倍数)。
        widths: 2 つの畳み込みのフィルタ数。
        n_classes: クラス数 ``K``。

    Shape:
        - 入力: ``(N, C, size, size)``
        - 出力: ``(N, K)`` のスコア
    """
    if size % 4 != 0:
        raise ValueError(f"size は 4 の倍数 (プーリング 2 回): {size}")
    c1, c2 = widths
    side = size // 4  # 2 回のプーリングの後の一辺
    layers = [
        Conv2d.from_init(in_channels, c1, 3, rng, pad=1),  # (N, c1, H, W)
        ReLU(),
        MaxPool2d(2),  # (N, c1, H/2, W/2)
        Conv2d.from_init(c1, c2, 3, rng, pad=1),  # (N, c2, H/2, W/2)
        ReLU(),
        MaxPool2d(2),  # (N, c2, H/4, W/4)
        Flatten(),  # (N, c2*H/4*W/4)
        Affine.from_init(c2 * side * side, n_classes, rng),  # (N, K)
    ]
    return Sequential(layers, SoftmaxCrossEntropy())


def layer_shapes(
    net: Sequential, x: np.ndarray
) -> list[tuple[str, tuple[int, ...]]]:
    """各層の名前と出力の形を、入力 ``x`` を実際に流して求める。"""
    shapes = [("入力", tuple(x.shape))]
    for layer in net.layers:
        x = layer.forward(x, train=False)
        shapes.append((type(layer).__name__, tuple(x.shape)))
    return shapes


def to_torch(net: Sequential) -> nn.Sequential:
    """``build_numpy_cnn`` の網と同じ重みを持つ PyTorch のモデル (float64)。

    ``Affine`` の ``W`` は ``(D_in, D_out)`` なので、``nn.Linear.weight``
    には転置して写す。
    """
    modules: list[nn.Module] = []
    for layer in net.layers:
        m: nn.Module
        if isinstance(layer, Conv2d):
            W, b = layer.params["W"], layer.params["b"]
            FN, C, FH, _ = W.shape
            conv = nn.Conv2d(C, FN, FH, stride=layer.stride, padding=layer.pad)
            conv = conv.double()
            assert conv.bias is not None
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(W))
                conv.bias.copy_(torch.from_numpy(b))
            m = conv
        elif isinstance(layer, ReLU):
            m = nn.ReLU()
        elif isinstance(layer, MaxPool2d):
            m = nn.MaxPool2d(layer.kernel, layer.stride, layer.pad)
        elif isinstance(layer, Flatten):
            m = nn.Flatten()
        elif isinstance(layer, Affine):
            W, b = layer.params["W"], layer.params["b"]
            fc = nn.Linear(*W.shape).double()
            with torch.no_grad():
                fc.weight.copy_(torch.from_numpy(W.T))
                fc.bias.copy_(torch.from_numpy(b))
            m = fc
        else:
            raise TypeError(f"to_torch が知らない層: {layer!r}")
        modules.append(m)
    return nn.Sequential(*modules)


def train_twins(
    net: Sequential,
    X: np.ndarray,
    t: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """NumPy の網と、その重みを写した PyTorch の網を同じ手順で学習させる。

    学習の前に ``to_torch`` で双子を作り、エポックごとに ``rng`` で決めた
    同じ順番のミニバッチで、両方を同じ学習率の SGD で 1 回ずつ更新する。

    Returns:
        ``"numpy"`` と ``"torch"``: 更新ごとのミニバッチの損失 (形は
        ``(更新回数,)``)、``"torch_net"``: 学習後の PyTorch の網。

    Shape:
        - X: ``(N, C, H, W)`` float64、t: ``(N,)`` のクラス番号
    """
    twin = to_torch(net)
    sgd = SGD(lr=lr)  # dlbook.optim: p -= lr * g
    opt = torch.optim.SGD(twin.parameters(), lr=lr)
    X_t, t_t = torch.from_numpy(X), torch.from_numpy(t)
    curves: dict[str, list[float]] = {"numpy": [], "torch": []}
    N = len(X)
    for _ in range(epochs):
        order = rng.permutation(N)
        for start in range(0, N, batch_size):
            idx = order[start : start + batch_size]
            # NumPy: 順伝播 → 逆伝播 → SGD (p -= lr * g)
            loss = net.loss(X[idx], t[idx])
            net.backward()
            sgd.step(net.params(), net.grads())
            curves["numpy"].append(loss)
            # PyTorch: 同じバッチで同じ 1 歩
            loss_t = nn.functional.cross_entropy(twin(X_t[idx]), t_t[idx])
            opt.zero_grad()
            loss_t.backward()
            opt.step()
            curves["torch"].append(loss_t.item())
    return {
        "numpy": np.array(curves["numpy"]),
        "torch": np.array(curves["torch"]),
        "torch_net": twin,  # type: ignore[dict-item]
    }
