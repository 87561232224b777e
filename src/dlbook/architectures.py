"""代表的な CNN の規模を数える: パラメータ数と積和演算 (multiply-add) の回数。

torchvision のモデルを ``weights=None`` で作り (重みはダウンロードしない)、
``meta`` デバイスの上で形だけを流して、畳み込み層と全結合層の積和演算を
フォワードフックで数える。実際の計算はしないので、VGG-16 でも一瞬で終わる。
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import torch
from torch import nn

from dlbook.models import count_parameters

#: 論文が報告する値。params は百万 (M)、macs は十億 (G) 回の積和演算。
#: 報告のない欄は ``None``。ResNet の論文の "FLOPs" は積和演算の回数である。
PAPER_FIGURES: dict[str, dict[str, float | str | None]] = {
    "alexnet": {"params": 60.0, "macs": None, "cite": "krizhevsky2012"},
    "vgg16": {"params": 138.0, "macs": None, "cite": "simonyan2014"},
    "googlenet": {"params": None, "macs": 1.5, "cite": "szegedy2015"},
    "resnet18": {"params": None, "macs": 1.8, "cite": "he2016"},
    "resnet50": {"params": None, "macs": 3.8, "cite": "he2016"},
    "densenet121": {"params": None, "macs": None, "cite": "huang2017"},
    "mobilenet_v1": {"params": 4.2, "macs": 0.569, "cite": "howard2017"},
    "mobilenet_v2": {"params": 3.4, "macs": 0.300, "cite": "sandler2018"},
}

DISPLAY_NAMES = {
    "alexnet": "AlexNet",
    "vgg16": "VGG-16",
    "googlenet": "GoogLeNet",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "densenet121": "DenseNet-121",
    "mobilenet_v1": "MobileNet v1",
    "mobilenet_v2": "MobileNetV2",
}


def count_macs(model: nn.Module, input_size: tuple[int, ...]) -> int:
    """1 枚の入力あたりの積和演算の回数を数える (畳み込み層と全結合層のみ)。

    畳み込み 1 層の積和演算は (出力の要素数) × (C_in / groups) × K_H × K_W、
    全結合層は (出力の要素数) × (入力の次元) である。
    バイアスの加算・活性化・プーリング・正規化は数えない (慣例に従う)。

    Args:
        model: 数えるモデル。``meta`` デバイス上にあってもよい。
        input_size: ``(1, C, H, W)`` のような入力の形。

    Returns:
        入力 1 枚あたりの積和演算の回数。
    """
    total = 0

    def hook(
        m: nn.Module,
        inputs: tuple[torch.Tensor, ...],
        out: torch.Tensor,
    ) -> None:
        nonlocal total
        per_sample = out.numel() // out.shape[0]
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += per_sample * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            total += per_sample * m.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model(torch.empty(input_size, device=device))
    finally:
        for h in handles:
            h.remove()
    return total


def conv_cost(
    c_in: int, c_out: int, k: int, h: int, w: int
) -> tuple[int, int]:
    """通常の K×K 畳み込み (出力 H×W、バイアスなし) の (パラメータ数, 積和演算数)。"""
    params = c_out * c_in * k * k
    return params, params * h * w


def separable_cost(
    c_in: int, c_out: int, k: int, h: int, w: int
) -> tuple[int, int]:
    """深さ方向分離可能畳み込み (depthwise separable convolution) の費用。

    深さ方向 (depthwise) の K×K 畳み込み C_in 枚と、1×1 の点方向 (pointwise)
    畳み込みの和である。通常の畳み込みとの比は :math:`1/C_{out} + 1/K^2`。

    Returns:
        (パラメータ数, 積和演算数)。バイアスは含めない。
    """
    params = c_in * k * k + c_in * c_out
    return params, params * h * w


def _dw_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """MobileNet v1 の 1 段: 3×3 深さ方向畳み込み → 1×1 点方向畳み込み。"""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def mobilenet_v1(num_classes: int = 1000) -> nn.Module:
    """MobileNet v1 (幅 1.0、入力 224×224) を Howard ら (2017) の表 1 どおりに組む。

    torchvision には v1 がないので、ここで定義する。
    """
    # (出力チャネル, ストライド) の列。最初の通常畳み込みは 3→32、ストライド 2
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    plan += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers: list[nn.Module] = [
        nn.Conv2d(3, 32, 3, 2, 1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(inplace=True),
    ]
    c = 32
    for c_out, s in plan:
        layers.append(_dw_block(c, c_out, s))
        c = c_out
    layers += [
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(c, num_classes),
    ]
    return nn.Sequential(*layers)


def build(name: str, device: str = "meta") -> nn.Module:
    """名前から重みなし (``weights=None``) のモデルを作る。"""
    import torchvision.models as tvm

    with torch.device(device):
        if name == "mobilenet_v1":
            return mobilenet_v1().eval()
        if name == "googlenet":
            # 補助分類器は推論では使わないので外す (論文の数え方に合わせる)
            return tvm.googlenet(
                weights=None, aux_logits=False, init_weights=False
            ).eval()
        if name not in PAPER_FIGURES:
            raise ValueError(f"未知のモデル {name!r}: {list(PAPER_FIGURES)}")
        ctor: Callable[..., nn.Module] = getattr(tvm, name)
        return ctor(weights=None).eval()


def architecture_table(
    names: tuple[str, ...] = tuple(PAPER_FIGURES),
    input_size: tuple[int, ...] = (1, 3, 224, 224),
) -> pd.DataFrame:
    """モデルごとのパラメータ数と積和演算数 (計算値と論文の値) の表を作る。

    Returns:
        列 ``モデル``, ``パラメータ (M)``, ``論文 (M)``, ``積和 (G)``, ``論文 (G)``,
        ``文献`` の DataFrame。論文に報告のない欄は NaN。
    """
    rows = []
    for name in names:
        model = build(name)
        paper = PAPER_FIGURES[name]
        rows.append(
            {
                "モデル": DISPLAY_NAMES[name],
                "パラメータ (M)": count_parameters(model) / 1e6,
                "論文 (M)": paper["params"],
                "積和 (G)": count_macs(model, input_size) / 1e9,
                "論文 (G)": paper["macs"],
                "文献": paper["cite"],
            }
        )
    return pd.DataFrame(rows)


class ConvBlock(nn.Module):
    """3×3 畳み込み 2 層の塊。``residual=True`` なら入力を足す (残差ブロック)。

    .. math:: \\mathbf{y} = \\mathrm{ReLU}(F(\\mathbf{x}) + \\mathbf{x})

    ``norm=True`` なら各畳み込みの後に BN を置く (He et al. 2016 の基本ブロック:
    conv → BN → ReLU → conv → BN → (+x) → ReLU)。

    Shape:
        入力と出力: ``(N, C, H, W)``。
    """

    def __init__(
        self, channels: int, residual: bool, norm: bool = False
    ) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=not norm)
        self.bn1 = nn.BatchNorm2d(channels) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=not norm)
        self.bn2 = nn.BatchNorm2d(channels) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))  # F(x)
        if self.residual:
            out = out + x  # 恒等写像の近道 (shortcut)
        return torch.relu(out)  # 足した後の ReLU が近道も通す/止める


class PreActBlock(nn.Module):
    """前活性化 (pre-activation) の残差ブロック (He et al. 2016b)。

    .. math:: \\mathbf{y} = \\mathbf{x} + F(\\mathbf{x}),\\quad
        F = \\mathrm{conv}\\circ\\mathrm{ReLU}\\circ\\mathrm{BN}
        \\circ\\mathrm{conv}\\circ\\mathrm{ReLU}\\circ\\mathrm{BN}

    足し算の後に何も置かないので、近道は恒等写像のまま出力へつながり、
    :math:`\\partial L/\\partial \\mathbf{x} = \\partial L/\\partial \\mathbf{y}
    + (\\partial F/\\partial \\mathbf{x})^\\top \\partial L/\\partial \\mathbf{y}`。

    Shape:
        入力と出力: ``(N, C, H, W)``。
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(torch.relu(self.bn1(x)))
        out = self.conv2(torch.relu(self.bn2(out)))
        return x + out  # 足した後には何も置かない


def deep_cnn(
    num_blocks: int,
    residual: bool,
    channels: int = 16,
    in_channels: int = 1,
    num_classes: int = 10,
    norm: bool = False,
) -> nn.Module:
    """``num_blocks`` 個の :class:`ConvBlock` を重ねた深い CNN。

    畳み込みは 2 × ``num_blocks`` + 1 層。残差の有無だけが違う 2 つのネットワークを
    比べるために使う。``norm=True`` なら各畳み込みの後に BN を置く。
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=not norm),
        nn.BatchNorm2d(channels) if norm else nn.Identity(),
        nn.ReLU(),
        *[ConvBlock(channels, residual, norm) for _ in range(num_blocks)],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, num_classes),
    )


def first_layer_grad_norm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> float:
    """交差エントロピー損失の、最初の層の重みについての勾配のノルム。"""
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.weight.grad is not None
    return float(first.weight.grad.norm())


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """層を入力側から重ねたときの受容野の幅 (1 次元)。

    ``layers`` は層ごとの (カーネル K, ストライド S)。漸化式
    :math:`r_l = r_{l-1} + (K_l - 1) j_{l-1}`、:math:`j_l = j_{l-1} S_l`、
    :math:`r_0 = j_0 = 1` (:math:`j` は入力で測った出力の画素の間隔)。
    """
    r, j = 1, 1
    for K, S in layers:
        r, j = r + (K - 1) * j, j * S
    return r
