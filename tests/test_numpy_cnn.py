"""dlbook.numpy_cnn: NumPy の CNN と PyTorch の双子が同じ計算をするか。"""

import numpy as np
import pytest
import torch

from dlbook import numpy_cnn
from dlbook.layers import Affine, ReLU, SoftmaxCrossEntropy
from dlbook.network import Sequential


def _data(n: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 10, n)


class TestBuild:
    def test_shapes(self) -> None:
        net = numpy_cnn.build_numpy_cnn(np.random.default_rng(0))
        X, _ = _data(3)
        shapes = numpy_cnn.layer_shapes(net, X)
        assert shapes[0] == ("入力", (3, 1, 8, 8))
        assert shapes[3] == ("MaxPool2d", (3, 8, 4, 4))
        assert shapes[-2] == ("Flatten", (3, 64))
        assert shapes[-1] == ("Affine", (3, 10))

    def test_size_must_divide_by_4(self) -> None:
        with pytest.raises(ValueError, match="4 の倍数"):
            numpy_cnn.build_numpy_cnn(np.random.default_rng(0), size=10)


class TestToTorch:
    def test_same_forward_and_gradients(self) -> None:
        net = numpy_cnn.build_numpy_cnn(np.random.default_rng(1))
        twin = numpy_cnn.to_torch(net)
        X, t = _data()
        loss = net.loss(X, t)
        dx = net.backward()
        xt = torch.tensor(X, requires_grad=True)
        loss_t = torch.nn.functional.cross_entropy(twin(xt), torch.tensor(t))
        loss_t.backward()
        assert loss == pytest.approx(loss_t.item(), rel=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-13)
        # 最初の畳み込みと全結合の重みの勾配 (全結合は転置で写す)
        np.testing.assert_allclose(
            net.grads()["0.W"], twin[0].weight.grad.numpy(), atol=1e-12
        )
        np.testing.assert_allclose(
            net.grads()["7.W"], twin[7].weight.grad.numpy().T, atol=1e-12
        )

    def test_unknown_layer(self) -> None:
        class Odd(ReLU):
            pass

        net = Sequential(
            [Affine(np.ones((2, 2)), np.zeros(2)), Odd()],
            SoftmaxCrossEntropy(),
        )
        # Odd は ReLU の派生なので写せる。Layer そのものは写せない
        numpy_cnn.to_torch(net)
        from dlbook.layers import Layer

        bad = Sequential([Layer()], SoftmaxCrossEntropy())
        with pytest.raises(TypeError, match="知らない層"):
            numpy_cnn.to_torch(bad)


class TestTrainTwins:
    def test_same_loss_curve(self) -> None:
        net = numpy_cnn.build_numpy_cnn(np.random.default_rng(2))
        X, t = _data(40)
        r = numpy_cnn.train_twins(
            net,
            X,
            t,
            epochs=3,
            batch_size=16,
            lr=0.1,
            rng=np.random.default_rng(3),
        )
        assert r["numpy"].shape == (9,)  # 3 エポック × 3 バッチ
        np.testing.assert_allclose(r["numpy"], r["torch"], atol=1e-12)
        # 学習は進む (最初のバッチより最後のエポックの平均が小さい)
        assert r["numpy"][-3:].mean() < r["numpy"][0]
        # 学習後の重みも一致する
        np.testing.assert_allclose(
            net.params()["0.W"],
            r["torch_net"][0].weight.detach().numpy(),
            atol=1e-12,
        )

    def test_different_batches_give_different_curves(self) -> None:
        # 比較が意味を持つことの確認: 順番が違えば曲線は一致しない
        X, t = _data(40)
        a = numpy_cnn.train_twins(
            numpy_cnn.build_numpy_cnn(np.random.default_rng(2)),
            X,
            t,
            epochs=2,
            batch_size=16,
            lr=0.1,
            rng=np.random.default_rng(3),
        )
        b = numpy_cnn.train_twins(
            numpy_cnn.build_numpy_cnn(np.random.default_rng(2)),
            X,
            t,
            epochs=2,
            batch_size=16,
            lr=0.1,
            rng=np.random.default_rng(4),
        )
        assert np.max(np.abs(a["numpy"] - b["numpy"])) > 1e-3
