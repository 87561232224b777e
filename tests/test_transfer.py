"""dlbook.transfer のテスト: 凍結・ヘッドの付け替え・digits の転移実験。"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from dlbook.models import count_parameters
from dlbook.transfer import (
    SmallCNN,
    accuracy,
    digits_split,
    digits_transfer_experiment,
    freeze_backbone,
    replace_head,
    resnet18_for_transfer,
    set_trainable,
    train_classifier,
)


class TestFreezeAndHead:
    def test_freeze_leaves_only_head_trainable(self):
        model = SmallCNN(n_classes=5, width=8)
        total = count_parameters(model, trainable_only=False)
        assert count_parameters(model, trainable_only=True) == total
        freeze_backbone(model)
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable == {"fc.weight", "fc.bias"}
        assert count_parameters(model, trainable_only=True) == 16 * 5 + 5
        set_trainable(model, True)
        assert count_parameters(model, trainable_only=True) == total

    def test_frozen_backbone_is_not_updated(self):
        torch.manual_seed(0)
        model = SmallCNN(n_classes=3, width=8)
        freeze_backbone(model)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        X, y = torch.rand(16, 1, 8, 8), torch.randint(0, 3, (16,))
        train_classifier(model, X, y, epochs=3, batch_size=8, seed=0)
        after = model.state_dict()
        for name, value in before.items():
            changed = not torch.equal(value, after[name])
            assert changed == name.startswith("fc."), name

    def test_replace_head(self):
        model = SmallCNN(n_classes=5, width=8)
        old_features = model.features
        assert replace_head(model, 7) is model
        assert model.features is old_features
        assert model.fc.out_features == 7 and model.fc.in_features == 16
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 7)

    def test_replace_head_needs_linear(self):
        with pytest.raises(ValueError, match=r"nn\.Linear"):
            replace_head(nn.Sequential(nn.ReLU()), 3)
        with pytest.raises(ValueError, match="ヘッド"):
            freeze_backbone(nn.Sequential(nn.ReLU()))

    @pytest.mark.parametrize("mode", ["feature_extraction", "fine_tuning"])
    def test_resnet18_constructs_without_download(self, mode: Any):
        model = resnet18_for_transfer(10, mode, pretrained=False)
        assert model.fc.out_features == 10
        trainable = count_parameters(model, trainable_only=True)
        if mode == "feature_extraction":
            assert trainable == 512 * 10 + 10
        else:
            assert trainable == count_parameters(model)
        model.eval()
        with torch.no_grad():
            assert model(torch.rand(1, 3, 64, 64)).shape == (1, 10)

    def test_resnet18_bad_mode(self):
        with pytest.raises(ValueError, match="mode"):
            bad_mode: Any = "linear_probe"
            resnet18_for_transfer(3, bad_mode, pretrained=False)


class TestDigitsTransfer:
    def test_split(self):
        data = digits_split(5, seed=0)
        X, y = data["target_train"]
        assert X.shape == (25, 1, 8, 8) and X.dtype == torch.float32
        assert torch.bincount(y).tolist() == [5] * 5  # 5〜9 → 0〜4
        assert 0.0 <= X.min() and X.max() <= 1.0
        Xp, yp = data["pretrain"]
        assert int(yp.min()) == 0 and int(yp.max()) == 4
        X_test, _ = data["target_test"]
        n_source = len(Xp) + len(data["pretrain_test"][0])
        assert len(X_test) + 25 == 1797 - n_source

    @pytest.mark.parametrize(("n_per_class", "seed"), [(5, 0), (3, 7)])
    def test_split_properties(self, n_per_class: int, seed: int):
        """4 つの分割は digits を重ならずに覆い、ラベルは元の数字と合う。"""
        digits = load_digits()
        images = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8)
        # digits に同じ画像はないので、画像から元の番号が分かる
        index = {img.tobytes(): i for i, img in enumerate(images)}
        assert len(index) == len(images)
        data = digits_split(n_per_class, seed=seed)
        found: dict[str, np.ndarray] = {}
        for name, (X, y) in data.items():
            assert X.shape[1:] == (1, 8, 8) and len(X) == len(y)
            idx = np.array([index[x[0].numpy().tobytes()] for x in X])
            found[name] = idx
            original = digits.target[idx]
            if name.startswith("pretrain"):
                # 事前学習は数字 0〜4、ラベルはそのまま
                assert set(original) <= set(range(5))
                np.testing.assert_array_equal(y.numpy(), original)
            else:
                # 転移先は数字 5〜9、ラベルは 0〜4 に付け直す
                assert set(original) <= set(range(5, 10))
                np.testing.assert_array_equal(y.numpy() + 5, original)
        # 重ならず、合わせると digits 全体
        all_idx = np.concatenate(list(found.values()))
        assert len(np.unique(all_idx)) == len(all_idx) == len(images)
        # 事前学習の件数は digits の 0〜4 の枚数 (901)、その 1/5 が評価用
        n_source = int(np.sum(digits.target < 5))
        n_pre = len(found["pretrain"]) + len(found["pretrain_test"])
        assert n_pre == n_source
        assert len(found["pretrain_test"]) == n_source // 5
        pre_counts = np.bincount(
            digits.target[np.concatenate(
                [found["pretrain"], found["pretrain_test"]])],
            minlength=5,
        )  # fmt: skip
        np.testing.assert_array_equal(
            pre_counts, np.bincount(digits.target)[:5]
        )
        # 転移先の学習用は 1 クラス n_per_class 枚、残りがすべて評価用
        target_counts = np.bincount(digits.target)[5:]
        np.testing.assert_array_equal(
            torch.bincount(data["target_train"][1], minlength=5).numpy(),
            [n_per_class] * 5,
        )
        np.testing.assert_array_equal(
            torch.bincount(data["target_test"][1], minlength=5).numpy(),
            target_counts - n_per_class,
        )

    def test_split_is_reproducible(self):
        a, b = digits_split(2, seed=4), digits_split(2, seed=4)
        c = digits_split(2, seed=5)
        for name in a:
            assert torch.equal(a[name][0], b[name][0])
            assert torch.equal(a[name][1], b[name][1])
        assert not torch.equal(a["pretrain"][0], c["pretrain"][0])

    def test_training_learns(self):
        data = digits_split(0, seed=0)
        torch.manual_seed(0)
        model = SmallCNN(n_classes=5, width=16)
        X, y = data["pretrain"]
        history = train_classifier(model, X, y, epochs=10, lr=1e-2, seed=0)
        assert history[-1] < 0.5 * history[0]
        assert accuracy(model, *data["pretrain_test"]) > 0.8

    def test_experiment_result_format(self):
        result = digits_transfer_experiment(
            n_per_class=(2,), repeats=1, epochs=10, pretrain_epochs=10
        )
        assert result["n_per_class"] == [2]
        accs = result["accuracy"]
        assert isinstance(accs, dict)
        assert set(accs) == {"scratch", "feature_extraction", "fine_tuning"}
        for values in accs.values():
            assert len(values) == 1 and 0.0 <= values[0] <= 1.0
        pretrain_accuracy: Any = result["pretrain_accuracy"]
        assert pretrain_accuracy > 0.9


# ------------------------------------------------ 生成したカラー画像での転移
from dlbook import transfer as _tr  # noqa: E402


def test_color_cnn_blocks_and_shape() -> None:
    m = _tr.ColorCNN(5)
    assert m(torch.zeros(2, 3, 16, 16)).shape == (2, 5)
    blocks = _tr.conv_blocks(m)
    assert len(blocks) == 3
    assert all(isinstance(b[0], torch.nn.Conv2d) for b in blocks)


def test_train_staged_never_touches_the_first_block() -> None:
    torch.manual_seed(0)
    m = _tr.ColorCNN(3)
    w0 = m.features[0].weight.detach().clone()
    w2 = m.features[8].weight.detach().clone()
    X, y = torch.rand(12, 3, 16, 16), torch.arange(12) % 3
    _tr.train_staged(m, X, y, steps=6, n_stages=3, lr=1e-2, seed=0)
    torch.testing.assert_close(m.features[0].weight, w0)  # 解凍されない
    assert not torch.equal(m.features[8].weight, w2)  # 最後のブロックは動く


def test_pick_per_class_and_split() -> None:
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
    idx = _tr.pick_per_class(y, 2, np.random.default_rng(0))
    assert torch.bincount(y[idx]).tolist() == [2, 2, 2]
    split = _tr.shapes_split(seed=0, n_train=60, n_test=40)
    for key in ("source", "target_pool"):
        X, lab = split[key]
        assert X.shape[1:] == (3, 16, 16)
        assert set(lab.tolist()) <= set(range(5))
