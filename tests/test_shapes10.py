"""dlbook.shapes10 のテスト: 生成した 10 クラスの画像。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.shapes10 import _sd_shape, _texture, make_shapes10


class TestShapes10:
    def test_shape_range_and_balance(self) -> None:
        X, y = make_shapes10(200, seed=0)
        assert X.shape == (200, 3, 32, 32) and X.dtype == torch.float32
        assert y.dtype == torch.int64
        assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
        assert torch.bincount(y, minlength=10).tolist() == [20] * 10

    def test_deterministic(self) -> None:
        X1, y1 = make_shapes10(50, seed=3)
        X2, y2 = make_shapes10(50, seed=3)
        X3, _ = make_shapes10(50, seed=4)
        assert torch.equal(X1, X2) and torch.equal(y1, y2)
        assert not torch.equal(X1, X3)

    def test_bad_n(self) -> None:
        with pytest.raises(ValueError, match="正の整数"):
            make_shapes10(0, seed=0)

    def test_bad_labels(self) -> None:
        u = v = np.zeros((1, 2, 2))
        with pytest.raises(ValueError, match="0〜5"):
            _sd_shape(6, u, v, np.ones((1, 1, 1)))
        with pytest.raises(ValueError, match="6〜9"):
            _texture(5, u, v, np.ones((1, 1, 1)))

    def test_classes_differ_in_shape_not_color(self) -> None:
        # 色はクラスと無関係: クラスごとの平均色は全体の平均色に近い
        X, y = make_shapes10(1000, seed=0)
        overall = X.mean(dim=(0, 2, 3))  # (3,)
        for label in range(10):
            per_class = X[y == label].mean(dim=(0, 2, 3))
            assert torch.allclose(per_class, overall, atol=0.08), label
