"""dlbook.data のテスト (代用データ、標準化、データローダ)。

実データのファイルの読み込みは tests/test_realdata.py、生成データは
tests/test_shapes10.py で確かめる。
"""

from __future__ import annotations

import pytest
import torch

from dlbook.data import (
    SHAPES10_CLASSES,
    channel_stats,
    denormalize,
    load_cifar10,
    load_mnist,
    make_loaders,
    normalize,
)


class TestLoadMnistEmbedded:
    def test_digits_upsampled_to_mnist_shape(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DLBOOK_PROFILE", "quick")
        b = load_mnist()  # quick の auto は代用データ
        X, y = b.train.tensors
        assert X.shape == (1437, 1, 28, 28) and X.dtype == torch.float32
        assert y.dtype == torch.int64 and len(b.test) == 360
        assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
        assert b.info.source == "embedded"
        assert b.info.describe() == (
            "scikit-learn の手書き数字 (8×8 を 28×28 に拡大、"
            "訓練 1,437 枚・テスト 360 枚、10 クラス)"
        )
        assert b.classes == [str(d) for d in range(10)]

    def test_native_8x8(self) -> None:
        b = load_mnist("embedded", image_size=8)
        assert b.train.tensors[0].shape == (1437, 1, 8, 8)
        assert "8×8、" in b.info.describe()

    def test_deterministic(self) -> None:
        a, b = load_mnist("embedded"), load_mnist("embedded")
        assert torch.equal(a.train.tensors[0], b.train.tensors[0])
        assert torch.equal(a.test.tensors[1], b.test.tensors[1])

    def test_normalize_and_denormalize(self) -> None:
        b = load_mnist("embedded", normalize=True)
        X = b.train.tensors[0]
        assert abs(float(X.mean())) < 1e-4
        assert float(X.std()) == pytest.approx(1.0, abs=1e-3)
        raw = load_mnist("embedded").train.tensors[0]
        back = denormalize(X, b.info.mean, b.info.std)
        torch.testing.assert_close(back, raw, atol=1e-5, rtol=0)

    def test_bad_source(self) -> None:
        with pytest.raises(ValueError, match="source="):
            load_mnist("mnist")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------


class TestLoadCifar10Embedded:
    def test_embedded_bundle(self) -> None:
        b = load_cifar10("embedded", n_embedded=(100, 40))
        assert b.train.tensors[0].shape == (100, 3, 32, 32)
        assert len(b.test) == 40
        assert b.classes == list(SHAPES10_CLASSES)
        assert b.info.describe() == (
            "生成した図形と模様の画像 (32×32 のカラー、雑音入り、"
            "訓練 100 枚・テスト 40 枚、10 クラス)"
        )


class TestChannelStats:
    def test_known_values(self) -> None:
        """チャネルごとに違う値の画像で、平均と (不偏) 標準偏差を比べる。"""
        g = torch.Generator().manual_seed(0)
        base = torch.randn(6, 3, 4, 5, generator=g, dtype=torch.float64)
        X = base * torch.tensor([1.0, 2.0, 0.5]).view(1, 3, 1, 1)
        X = X + torch.tensor([0.0, 3.0, -1.0]).view(1, 3, 1, 1)
        mean, std = channel_stats(X)
        assert len(mean) == len(std) == 3
        for c in range(3):
            values = X[:, c].reshape(-1)  # (N*H*W,)
            assert mean[c] == pytest.approx(float(values.mean()), rel=1e-12)
            assert std[c] == pytest.approx(float(values.std()), rel=1e-12)

    def test_normalize_per_channel(self) -> None:
        g = torch.Generator().manual_seed(1)
        X = torch.rand(4, 3, 5, 5, generator=g, dtype=torch.float64)
        mean, std = (0.1, 0.5, 0.9), (0.2, 0.4, 0.8)
        out = normalize(X, mean, std)
        for c in range(3):
            torch.testing.assert_close(
                out[:, c], (X[:, c] - mean[c]) / std[c], rtol=1e-12, atol=0
            )
        torch.testing.assert_close(
            denormalize(out, mean, std), X, rtol=1e-12, atol=1e-15
        )


class TestCifar10Normalization:
    @pytest.mark.parametrize("n_train", [None, 60])
    def test_train_channels_are_standardized(self, n_train) -> None:
        """標準化した訓練データは、チャネルごとに平均 0・標準偏差 1。"""
        kw = {"n_embedded": (200, 50), "n_train": n_train}
        b = load_cifar10("embedded", normalize=True, **kw)
        raw = load_cifar10("embedded", **kw)
        X = b.train.tensors[0]  # (N, 3, 32, 32)
        assert X.shape == (n_train or 200, 3, 32, 32)
        assert X.dtype == torch.float32
        assert b.info.normalized and not raw.info.normalized
        X64 = X.double()
        mean = X64.mean(dim=(0, 2, 3))  # (3,)
        std = X64.std(dim=(0, 2, 3))
        torch.testing.assert_close(
            mean, torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-5
        )
        torch.testing.assert_close(
            std, torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-5
        )
        # 統計は標準化の前の (先頭 n_train 枚の) 訓練データのもの
        R = raw.train.tensors[0].double()
        raw_mean = R.mean(dim=(0, 2, 3))
        raw_std = R.std(dim=(0, 2, 3))
        info_mean = torch.tensor(b.info.mean, dtype=torch.float64)
        info_std = torch.tensor(b.info.std, dtype=torch.float64)
        torch.testing.assert_close(info_mean, raw_mean, rtol=1e-5, atol=0)
        torch.testing.assert_close(info_std, raw_std, rtol=1e-5, atol=0)
        assert b.info.mean == raw.info.mean and b.info.std == raw.info.std
        # チャネルごとに統計が違う (1 つの平均で済ませると上の検査で落ちる)
        assert float(raw_mean.max() - raw_mean.min()) > 0.01

    def test_test_set_uses_train_stats(self) -> None:
        kw = {"n_embedded": (120, 40)}
        b = load_cifar10("embedded", normalize=True, **kw)
        raw = load_cifar10("embedded", **kw)
        expected = normalize(
            raw.test.tensors[0].double(), b.info.mean, b.info.std
        )
        torch.testing.assert_close(
            b.test.tensors[0].double(), expected, rtol=1e-5, atol=1e-5
        )
        assert torch.equal(b.test.tensors[1], raw.test.tensors[1])
        # テストデータ自身の統計では標準化しない (平均はちょうど 0 ではない)
        test_mean = b.test.tensors[0].double().mean(dim=(0, 2, 3))
        assert float(test_mean.abs().max()) > 1e-3
        back = denormalize(b.test.tensors[0], b.info.mean, b.info.std)
        torch.testing.assert_close(
            back, raw.test.tensors[0], rtol=0, atol=1e-5
        )


class TestMakeLoaders:
    def test_same_seed_same_order(self) -> None:
        b = load_cifar10("embedded", n_embedded=(64, 16))

        def first_labels(seed: int) -> torch.Tensor:
            train_loader, _ = make_loaders(b, batch_size=8, seed=seed)
            return next(iter(train_loader))[1]

        first = [first_labels(5), first_labels(5)]
        other = first_labels(6)
        assert torch.equal(first[0], first[1])
        assert not torch.equal(first[0], other)

    def test_test_loader_keeps_order(self) -> None:
        b = load_cifar10("embedded", n_embedded=(64, 16))
        _, test_loader = make_loaders(b, batch_size=4, seed=0)
        ys = torch.cat([y for _, y in test_loader])
        assert torch.equal(ys, b.test.tensors[1])

    def test_bad_batch_size(self) -> None:
        b = load_cifar10("embedded", n_embedded=(10, 10))
        with pytest.raises(ValueError, match="batch_size"):
            make_loaders(b, batch_size=0, seed=0)


def test_image_size_zero_is_rejected_not_replaced_by_28() -> None:
    with pytest.raises(ValueError):
        load_mnist("embedded", image_size=0)
