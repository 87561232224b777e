"""本書が PyTorch で学習させるモデルと、層ごとの形を調べる道具。

- ``MLP``: 全結合の多層パーセプトロン (第4章、MNIST なら 784-128-10)。
- ``SmallCNN``: 32×32×3 (CIFAR-10) 用の小さな CNN (第5章)。
- ``LeNet5``: LeCun ら (1998) の LeNet-5 (第6章、1 チャネル)。
- ``AlexNetSmall``: AlexNet の構成を 32×32 に縮めたもの (第6章)。
- ``layer_shapes`` / ``count_parameters``: 本に載せる層の表を作る。
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """全結合層と ReLU を重ねた多層パーセプトロン。

    .. math::
        \\mathbf{h}_1 = \\mathrm{ReLU}(W_1 \\mathbf{x} + \\mathbf{b}_1),\\quad
        \\ldots,\\quad \\mathbf{y} = W_L \\mathbf{h}_{L-1} + \\mathbf{b}_L

    出力はソフトマックスの前のスコア (logits)。損失は
    ``nn.CrossEntropyLoss`` がソフトマックスと合わせて計算する。

    Args:
        in_features: 入力の次元 (MNIST なら 28×28 = 784、8×8 の digits
            なら 64)。
        hidden: 隠れ層の幅。整数 1 つか、層ごとの幅の列 (``(256, 128)``)。
        out_features: クラス数。
        dropout: 隠れ層の後に入れるドロップアウトの確率 (0 なら入れない)。

    Shape:
        - 入力: :math:`(N, C, H, W)` または :math:`(N, D)`
          (:math:`C H W = D =` ``in_features``)
        - 出力: :math:`(N, \\text{out\\_features})`
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden: int | Sequence[int] = 128,
        out_features: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        d_in = in_features
        for width in widths:
            layers += [nn.Linear(d_in, width), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d_in = width
        layers.append(nn.Linear(d_in, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (N, out_features)


class SmallCNN(nn.Module):
    """32×32 のカラー画像用の小さな CNN (畳み込み 3 段 + 全結合 2 層)。

    ``[Conv3x3 → BN → ReLU → MaxPool2] × 3 → Flatten → Linear → ReLU
    → Dropout → Linear``。プーリングのたびに縦横が半分になり、
    32×32 の入力は 4×4 の特徴マップになる。

    Args:
        in_channels: 入力のチャネル数 (カラーなら 3)。
        num_classes: クラス数。
        channels: 3 つの畳み込み層の出力チャネル数。
        hidden: 全結合の隠れ層の幅。
        input_size: 入力画像の一辺 (8 の倍数)。
        dropout: 全結合の隠れ層の後のドロップアウト確率。

    Shape:
        - 入力: :math:`(N, C_{in}, H, W)`、:math:`H = W =` ``input_size``
        - 出力: :math:`(N, \\text{num\\_classes})`
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        channels: tuple[int, int, int] = (32, 64, 64),
        hidden: int = 128,
        input_size: int = 32,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        if input_size % 8 != 0:
            raise ValueError(f"input_size は 8 の倍数です: {input_size}")
        blocks: list[nn.Module] = []
        c_in = in_channels
        for c_out in channels:
            blocks += [
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),  # 縦横が半分
            ]
            c_in = c_out
        self.features = nn.Sequential(*blocks)  # (N, c3, H/8, W/8)
        side = input_size // 8
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (N, c3 * H/8 * W/8)
            nn.Linear(c_in * side * side, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (N, num_classes)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998)。

    ``C1: Conv5x5(6) → S2: Pool2 → C3: Conv5x5(16) → S4: Pool2
    → F5: Linear(120) → F6: Linear(84) → 出力 Linear(10)``。
    元の論文は 32×32 の入力を使う。28×28 (MNIST) では C1 に
    ``padding=2`` を付けて同じ 28×28 の特徴マップにする。

    Args:
        in_channels: 入力のチャネル数 (手書き数字なら 1)。
        num_classes: クラス数。
        input_size: 入力画像の一辺 (28 か 32)。
        modern: ``False`` なら元の形 (tanh と平均プーリング)、
            ``True`` なら ReLU と最大プーリング。

    Shape:
        - 入力: :math:`(N, C_{in}, S, S)`、:math:`S \\in \\{28, 32\\}`
        - 出力: :math:`(N, \\text{num\\_classes})`
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: int = 28,
        modern: bool = False,
    ) -> None:
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"input_size は 28 か 32 です: {input_size}")
        padding = (32 - input_size) // 2  # 28 → 2, 32 → 0
        act: type[nn.Module] = nn.ReLU if modern else nn.Tanh
        pool: type[nn.Module] = nn.MaxPool2d if modern else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding),
            act(),  # (N, 6, 28, 28)
            pool(2),  # (N, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5),
            act(),  # (N, 16, 10, 10)
            pool(2),  # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (N, 400)
            nn.Linear(16 * 5 * 5, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (N, num_classes)


class AlexNetSmall(nn.Module):
    """AlexNet (Krizhevsky et al., 2012) の構成を 32×32 用に縮めたもの。

    畳み込み 5 層 (最大プーリング 3 回) と、ドロップアウト付きの全結合 3 層
    という AlexNet の骨格はそのまま、カーネルを 3×3、チャネル数を小さく
    している。元の AlexNet は 224×224 の入力に 11×11 のカーネル
    (ストライド 4) を使う。

    Args:
        in_channels: 入力のチャネル数。
        num_classes: クラス数。
        channels: 5 つの畳み込み層の出力チャネル数。
        hidden: 全結合の隠れ層の幅。
        dropout: 全結合層の前のドロップアウト確率。

    Shape:
        - 入力: :math:`(N, C_{in}, 32, 32)`
        - 出力: :math:`(N, \\text{num\\_classes})`
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        channels: tuple[int, int, int, int, int] = (32, 64, 96, 96, 64),
        hidden: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, c1, 16, 16)
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, c2, 8, 8)
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, c5, 4, 4)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (N, c5 * 16)
            nn.Dropout(dropout),
            nn.Linear(c5 * 4 * 4, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (N, num_classes)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """パラメータ (重みとバイアス) の要素数の合計を返す。

    Args:
        model: モデル。
        trainable_only: ``True`` なら ``requires_grad`` のものだけ数える。
    """
    total = 0
    for p in model.parameters():
        if p.requires_grad or not trainable_only:
            total += p.numel()
    return total


def layer_shapes(
    model: nn.Module,
    input_shape: Sequence[int],
    device: torch.device | None = None,
) -> list[tuple[str, tuple[int, ...], int]]:
    """実際に順伝播させ、葉の層ごとの出力の形とパラメータ数を返す。

    フックで各層の出力を記録する。推論モード (``model.eval()``) で
    ゼロの入力を流し、終わったらモデルのモードを元に戻す。

    Args:
        model: モデル。
        input_shape: バッチ次元を含む入力の形 (例: ``(1, 3, 32, 32)``)。
        device: 入力を置くデバイス (既定はモデルのパラメータと同じ)。

    Returns:
        ``(層の名前, 出力の形, パラメータ数)`` のリスト (順伝播の順)。
        名前は ``"features.0"`` のような ``named_modules`` の名前と
        クラス名をつないだもの (``"features.0 (Conv2d)"``)。
    """
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    rows: list[tuple[str, tuple[int, ...], int]] = []
    handles = []
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue  # 入れ物 (Sequential など) は飛ばし、葉の層だけ見る

        def hook(
            mod: nn.Module,
            inputs: tuple[torch.Tensor, ...],
            output: torch.Tensor,
            name: str = name,
        ) -> None:
            n_params = sum(p.numel() for p in mod.parameters())
            label = f"{name} ({type(mod).__name__})"
            rows.append((label, tuple(output.shape), n_params))

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(*input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows
