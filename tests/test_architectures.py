"""dlbook.architectures のテスト (手計算・torchvision の値と比べる)。"""

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import architectures as arch
from dlbook.models import count_parameters


class TestCountMacs:
    def test_single_conv(self) -> None:
        m = nn.Conv2d(3, 8, 3, padding=1)
        # 出力 8×5×5 の各要素に 3×3×3 回の積和
        assert arch.count_macs(m, (1, 3, 5, 5)) == 8 * 5 * 5 * 27

    def test_grouped_conv_and_linear(self) -> None:
        m = nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1, groups=4),
            nn.Flatten(),
            nn.Linear(64, 10),
        )
        assert arch.count_macs(m, (1, 4, 4, 4)) == 4 * 16 * 9 + 640

    @pytest.mark.parametrize(
        ("name", "params", "gmacs"),
        [("resnet18", 11_689_512, 1.814), ("vgg16", 138_357_544, 15.47)],
    )
    def test_torchvision_models(
        self, name: str, params: int, gmacs: float
    ) -> None:
        model = arch.build(name)
        assert count_parameters(model) == params
        assert arch.count_macs(model, (1, 3, 224, 224)) / 1e9 == pytest.approx(
            gmacs, rel=1e-3
        )

    def test_mobilenet_v1_matches_paper(self) -> None:
        model = arch.build("mobilenet_v1")
        assert count_parameters(model) / 1e6 == pytest.approx(4.2, abs=0.05)
        macs = arch.count_macs(model, (1, 3, 224, 224))
        assert macs / 1e6 == pytest.approx(569, rel=0.01)


class TestSeparable:
    @pytest.mark.parametrize(
        ("c_in", "c_out", "k"), [(32, 64, 3), (512, 512, 3)]
    )
    def test_ratio_formula(self, c_in: int, c_out: int, k: int) -> None:
        p_std, m_std = arch.conv_cost(c_in, c_out, k, 14, 14)
        p_sep, m_sep = arch.separable_cost(c_in, c_out, k, 14, 14)
        assert m_sep / m_std == pytest.approx(1 / c_out + 1 / k**2)
        assert p_sep / p_std == pytest.approx(1 / c_out + 1 / k**2)

    def test_matches_torch_layers(self) -> None:
        dw = nn.Conv2d(8, 8, 3, groups=8, bias=False)
        pw = nn.Conv2d(8, 16, 1, bias=False)
        n = sum(p.numel() for p in [*dw.parameters(), *pw.parameters()])
        assert n == arch.separable_cost(8, 16, 3, 1, 1)[0]


class TestDeepCnn:
    @pytest.mark.parametrize("residual", [True, False])
    def test_shapes_and_grad(self, residual: bool) -> None:
        torch.manual_seed(0)
        net = arch.deep_cnn(3, residual, channels=4).double()
        x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
        y = torch.tensor([1, 2])
        assert net(x).shape == (2, 10)
        # 前に溜まった勾配があっても 0 から計算し直す
        net(x).sum().backward()
        norm = arch.first_layer_grad_norm(net, x, y)
        # 手で逆伝播して、最初の畳み込み層の重みの勾配のノルムと比べる
        ref = arch.deep_cnn(3, residual, channels=4).double()
        ref.load_state_dict(net.state_dict())
        F.cross_entropy(ref(x), y).backward()
        first = ref[0]
        assert isinstance(first, nn.Conv2d)
        assert first.weight.grad is not None
        expected = float(first.weight.grad.norm())
        assert expected > 0
        assert norm == pytest.approx(expected, rel=1e-10)

    def test_residual_block_adds_input(self) -> None:
        """residual=True は ReLU(F(x) + x)、False は ReLU(F(x))。"""
        torch.manual_seed(0)
        block = arch.ConvBlock(4, residual=True).double()
        x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
        with torch.no_grad():
            f = block.conv2(torch.relu(block.conv1(x)))  # F(x)
            out = block(x)
            block.residual = False
            plain = block(x)
        torch.testing.assert_close(
            out, torch.relu(f + x), rtol=1e-12, atol=1e-12
        )
        torch.testing.assert_close(
            plain, torch.relu(f), rtol=1e-12, atol=1e-12
        )
        assert (out - plain).abs().max() > 0.1
        # コンストラクタの引数がそのまま使われる
        assert arch.ConvBlock(4, residual=True).residual is True
        assert arch.ConvBlock(4, residual=False).residual is False
        net = arch.deep_cnn(2, residual=True, channels=4)
        blocks = [m for m in net if isinstance(m, arch.ConvBlock)]
        assert len(blocks) == 2 and all(b.residual for b in blocks)

    def test_norm_puts_bn_after_each_conv(self) -> None:
        """norm=True は conv → BN → ReLU → conv → BN → (+x) → ReLU。"""
        torch.manual_seed(0)
        block = arch.ConvBlock(4, residual=True, norm=True).double().eval()
        assert (
            isinstance(block.bn1, nn.BatchNorm2d) and block.conv1.bias is None
        )
        with (
            torch.no_grad()
        ):  # 移動平均を 0 以外にして、BN が本当に使われることを見る
            for bn in (block.bn1, block.bn2):
                bn.running_mean.uniform_(-1, 1)
                bn.running_var.uniform_(0.5, 2)
        x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
        with torch.no_grad():
            f = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
            torch.testing.assert_close(block(x), torch.relu(f + x))
        net = arch.deep_cnn(2, residual=False, norm=True)
        assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 5

    def test_relu_after_the_sum_gates_the_shortcut(self) -> None:
        """ReLU(F(x)+x) では z<=0 の要素で近道の勾配も 0、前活性化では常に通る。"""
        torch.manual_seed(0)
        post = arch.ConvBlock(3, residual=True).double()
        x = torch.randn(1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
        z = post.conv2(torch.relu(post.conv1(x))) + x
        post(x).sum().backward()
        # F の重みを 0 にすれば勾配は近道だけ: 1[z > 0]
        with torch.no_grad():
            for m in (post.conv1, post.conv2):
                m.weight.zero_()
                m.bias.zero_()
        x.grad = None
        post(x).sum().backward()
        assert x.grad is not None
        torch.testing.assert_close(x.grad, (x > 0).double())
        assert (z <= 0).any()
        pre = arch.PreActBlock(3).double()
        with torch.no_grad():
            pre.conv2.weight.zero_()  # F = 0 にすると y = x
        x.grad = None
        pre(x).sum().backward()
        torch.testing.assert_close(x.grad, torch.ones_like(x))

    def test_unknown_model(self) -> None:
        with pytest.raises(ValueError, match="未知のモデル"):
            arch.build("lenet99")

    def test_table_columns(self) -> None:
        df = arch.architecture_table(("resnet18", "alexnet"))
        assert list(df.columns) == [
            "モデル", "パラメータ (M)", "論文 (M)", "積和 (G)", "論文 (G)",
            "文献",
        ]  # fmt: skip
        assert list(df["モデル"]) == ["ResNet-18", "AlexNet"]
        assert df.loc[0, "論文 (G)"] == 1.8
        assert df.loc[1, "論文 (M)"] == 60.0
        # 計算した列 (torchvision の weights=None のモデルと
        # torch.utils.flop_counter.FlopCounterMode で確かめた値)
        assert df.loc[0, "パラメータ (M)"] == pytest.approx(11.689512)
        assert df.loc[0, "積和 (G)"] == pytest.approx(1.814073344)
        assert df.loc[1, "パラメータ (M)"] == pytest.approx(61.10084)
        assert df.loc[1, "積和 (G)"] == pytest.approx(0.71418848)
        # 報告のない欄は NaN
        assert pd.isna(df.loc[0, "論文 (M)"])
        assert pd.isna(df.loc[1, "論文 (G)"])
        assert list(df["文献"]) == ["he2016", "krizhevsky2012"]


class TestReceptiveField:
    @pytest.mark.parametrize(
        "layers",
        [
            [(3, 1), (3, 2), (3, 1)],
            [(7, 2), (3, 2)] + [(3, 1)] * 4,  # ResNet の入口と layer1
            [(5, 1), (2, 2), (5, 1), (2, 2)],  # LeNet 風 (プーリングも 1 層)
            [(1, 1), (3, 3), (4, 2)],
        ],
    )
    def test_formula_equals_the_width_of_nonzero_gradients(
        self, layers: list[tuple[int, int]]
    ) -> None:
        """重みがすべて正の 1 次元の畳み込みで、中央の出力の勾配が 0 でない幅。"""
        from dlbook.architectures import receptive_field

        x = torch.zeros(1, 1, 301, requires_grad=True)
        h = x
        for K, S in layers:
            h = torch.nn.functional.conv1d(h, torch.ones(1, 1, K), stride=S)
        h[0, 0, h.shape[-1] // 2].backward()
        assert x.grad is not None
        assert receptive_field(layers) == int((x.grad != 0).sum())

    def test_resnet_stem_is_43(self) -> None:
        from dlbook.architectures import receptive_field

        assert receptive_field([(7, 2), (3, 2)] + [(3, 1)] * 4) == 43
        assert receptive_field([]) == 1
