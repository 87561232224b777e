"""dlbook.train のテスト: 学習で正解率が上がる、保存と再開、混同行列。"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from dlbook.models import MLP
from dlbook.train import (
    History,
    accuracy_per_class,
    confusion_matrix,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    save_checkpoint,
    train_epoch,
)

CPU = torch.device("cpu")


def _toy_loaders(seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """2 次元の 3 クラス (よく分かれたガウス分布の塊)。"""
    g = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[2.0, 0.0], [-2.0, 2.0], [-2.0, -2.0]])
    y = torch.arange(300) % 3  # (300,)
    X = centers[y] + 0.5 * torch.randn(300, 2, generator=g)  # (300, 2)
    train = TensorDataset(X[:240], y[:240])
    test = TensorDataset(X[240:], y[240:])
    loader_g = torch.Generator().manual_seed(seed)
    return (
        DataLoader(train, batch_size=32, shuffle=True, generator=loader_g),
        DataLoader(test, batch_size=64),
    )


class TestFit:
    def test_accuracy_improves(self) -> None:
        torch.manual_seed(0)
        train_loader, test_loader = _toy_loaders()
        net = MLP(2, 16, 3)
        _, acc0 = evaluate(net, test_loader, CPU)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        lines: list[str] = []
        h = fit(net, train_loader, test_loader, opt, 5, CPU, log=lines.append)
        assert len(h) == 5 and len(h.val_acc) == 5
        assert h.val_acc[-1] > 0.95 > acc0
        assert h.train_loss[-1] < h.train_loss[0]
        assert h.best_epoch() in range(1, 6)
        # 1 エポック 1 行、復帰文字なし
        assert len(lines) == 5
        assert lines[0].startswith("epoch 1/5  train loss")
        assert all("\r" not in line for line in lines)

    def test_scheduler_and_lr_record(self) -> None:
        train_loader, _ = _toy_loaders()
        net = MLP(2, 4, 3)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        h = fit(net, train_loader, None, opt, 3, CPU, scheduler=sched,
                log=None)  # fmt: skip
        assert h.lr == pytest.approx([0.1, 0.05, 0.025])
        assert h.val_loss == []

    def test_predict(self) -> None:
        _, test_loader = _toy_loaders()
        torch.manual_seed(0)
        net = MLP(2, 4, 3)
        y_true, y_pred = predict(net, test_loader, CPU)
        assert y_true.shape == y_pred.shape == (60,)
        assert y_true.dtype == y_pred.dtype == np.int64
        X = torch.cat([X for X, _ in test_loader])  # (60, 2)
        y = torch.cat([y for _, y in test_loader])  # (60,)
        np.testing.assert_array_equal(y_true, y.numpy())
        with torch.no_grad():
            expected = net(X).argmax(dim=1).numpy()
        np.testing.assert_array_equal(y_pred, expected)


class TestEvaluate:
    def test_loss_and_acc_over_uneven_batches(self) -> None:
        """最後のミニバッチが小さくても、全データの平均損失と正解率になる。"""
        g = torch.Generator().manual_seed(3)
        X = torch.randn(45, 2, generator=g, dtype=torch.float64)  # (45, 2)
        y = torch.randint(0, 3, (45,), generator=g)  # (45,)
        torch.manual_seed(3)
        net = MLP(2, 8, 3).double()
        # 45 = 7 × 6 + 3: 最後のバッチは 3 件
        loader = DataLoader(TensorDataset(X, y), batch_size=7)
        loss, acc = evaluate(net, loader, CPU)
        with torch.no_grad():
            y_hat = net(X)  # (45, 3)
        expected_loss = F.cross_entropy(y_hat, y).item()
        expected_acc = int((y_hat.argmax(dim=1) == y).sum()) / 45
        assert 0 < expected_acc < 1  # 正解率が自明な値でない
        assert loss == pytest.approx(expected_loss, rel=1e-6)
        assert acc == expected_acc
        assert not net.training  # 呼び出し後は eval モード

    def test_custom_loss_fn(self) -> None:
        g = torch.Generator().manual_seed(4)
        X = torch.randn(10, 2, generator=g, dtype=torch.float64)
        y = torch.randint(0, 3, (10,), generator=g)
        net = MLP(2, 4, 3).double()
        loader = DataLoader(TensorDataset(X, y), batch_size=3)
        loss_fn = torch.nn.CrossEntropyLoss(reduction="mean",
                                            label_smoothing=0.2)  # fmt: skip
        loss, _ = evaluate(net, loader, CPU, loss_fn)
        with torch.no_grad():
            expected = loss_fn(net(X), y).item()
        assert loss == pytest.approx(expected, rel=1e-6)

    def test_empty_loader(self) -> None:
        empty = TensorDataset(torch.zeros(0, 2), torch.zeros(0).long())
        with pytest.raises(ValueError, match="空"):
            evaluate(MLP(2, 4, 3), DataLoader(empty, batch_size=4), CPU)


class TestCheckpoint:
    def test_resume_gives_identical_training(self, tmp_path: Path) -> None:
        def make() -> tuple[MLP, torch.optim.Optimizer]:
            torch.manual_seed(1)
            net = MLP(2, 8, 3)
            return net, torch.optim.Adam(net.parameters(), lr=0.01)

        # 続けて 4 エポック
        net_a, opt_a = make()
        fit(net_a, _toy_loaders(2)[0], None, opt_a, 4, CPU, log=None)

        # 2 エポック → 保存 → 新しいモデルに読み込み → 2 エポック
        net_b, opt_b = make()
        loader_b = _toy_loaders(2)[0]
        h = fit(net_b, loader_b, None, opt_b, 2, CPU, log=None)
        path = save_checkpoint(tmp_path / "ck" / "b.pt", net_b, opt_b, 2, h)
        net_c, opt_c = make()
        epoch, h_c = load_checkpoint(path, net_c, opt_c)
        assert epoch == 2 and h_c.train_loss == h.train_loss
        x = torch.randn(5, 2)
        torch.testing.assert_close(net_c(x), net_b(x), rtol=0, atol=0)
        state_b = opt_b.state_dict()["state"][0]["exp_avg"]
        state_c = opt_c.state_dict()["state"][0]["exp_avg"]
        torch.testing.assert_close(state_c, state_b, rtol=0, atol=0)

        # ローダの乱数の状態も同じところから続ける
        loader_c = _toy_loaders(2)[0]
        loader_c.generator.set_state(loader_b.generator.get_state())
        lines: list[str] = []
        fit(net_c, loader_c, None, opt_c, 2, CPU, history=h_c,
            log=lines.append)  # fmt: skip
        assert lines[0].startswith("epoch 3/4")
        assert len(h_c) == 4
        torch.testing.assert_close(net_c(x), net_a(x), rtol=0, atol=1e-6)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="チェックポイント"):
            load_checkpoint(tmp_path / "none.pt", MLP(2, 2, 2))

    def test_history_round_trip(self) -> None:
        h = History(train_loss=[1.0, 0.5], train_acc=[0.1, 0.2])
        assert History.from_dict(h.to_dict()) == h


class TestConfusion:
    def test_counts(self) -> None:
        y_true = np.array([0, 0, 1, 1, 2, 2])
        y_pred = np.array([0, 1, 1, 1, 0, 2])
        cm = confusion_matrix(y_true, y_pred, 3)
        expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
        np.testing.assert_array_equal(cm, expected)
        np.testing.assert_allclose(accuracy_per_class(cm), [0.5, 1.0, 0.5])

    def test_absent_class_is_nan(self) -> None:
        cm = confusion_matrix(np.array([0, 0]), np.array([0, 1]), 3)
        acc = accuracy_per_class(cm)
        assert acc[0] == 0.5 and np.isnan(acc[2])

    def test_bad_labels(self) -> None:
        with pytest.raises(ValueError, match="範囲"):
            confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
        with pytest.raises(ValueError, match="形が違います"):
            confusion_matrix(np.array([0]), np.array([0, 1]), 3)


def test_train_epoch_on_an_empty_loader_is_a_clear_error() -> None:
    empty = TensorDataset(torch.zeros(0, 2), torch.zeros(0).long())
    net = MLP(2, 4, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="空"):
        train_epoch(
            net, DataLoader(empty, batch_size=4), opt,
            torch.nn.CrossEntropyLoss(), CPU,
        )  # fmt: skip
