"""dlbook.data のテスト (代用データ、標準化、データローダ)。

実データのファイルの読み込みは tests/test_realdata.py、生成データは
tests/test_shapes10.py で確かめる。
"""

from __future__ import annotations

import pytest
import torch

from dlbook.data import (
    SHAPES10_CLASSES,
    denormalize,
    load_cifar10,
    load_mnist,
    make_loaders,
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
