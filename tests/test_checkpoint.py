"""dlbook.checkpoint: 保存して読み込むと、中断しない学習と同じ結果になること。"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dlbook.checkpoint import (
    load_training_state,
    rng_states,
    save_training_state,
    set_rng_states,
)


def _setup(seed: int):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def _train(model, opt, sched, steps: int) -> None:
    for _ in range(steps):
        X = torch.randn(8, 4)  # グローバルな乱数を使う
        opt.zero_grad()
        model(X).pow(2).mean().backward()  # ドロップアウトも乱数を使う
        opt.step()
        sched.step()


def test_resume_matches_straight_run(tmp_path: Path) -> None:
    model, opt, sched = _setup(0)
    _train(model, opt, sched, 6)
    straight = model.state_dict()

    model, opt, sched = _setup(0)
    _train(model, opt, sched, 3)
    save_training_state(tmp_path / "c.pt", 3, model, opt, sched)
    model, opt, sched = _setup(1)
    torch.manual_seed(99)  # 別のプロセスのつもり
    assert load_training_state(tmp_path / "c.pt", model, opt, sched) == 4
    assert sched.last_epoch == 3
    _train(model, opt, sched, 3)
    for k, v in model.state_dict().items():
        assert torch.equal(v, straight[k]), k


def test_without_rng_differs(tmp_path: Path) -> None:
    model, opt, sched = _setup(0)
    _train(model, opt, sched, 6)
    straight = model.state_dict()
    model, opt, sched = _setup(0)
    _train(model, opt, sched, 3)
    save_training_state(tmp_path / "c.pt", 3, model, opt, sched)
    torch.manual_seed(99)
    load_training_state(
        tmp_path / "c.pt", model, opt, sched, restore_rng=False
    )
    _train(model, opt, sched, 3)
    assert any(
        not torch.equal(v, straight[k]) for k, v in model.state_dict().items()
    )


def test_rng_states_round_trip() -> None:
    g = torch.Generator().manual_seed(3)
    states = rng_states(g)
    a = (
        random.random(),
        np.random.rand(),  # noqa: NPY002
        torch.rand(1).item(),
        torch.rand(1, generator=g).item(),
    )
    set_rng_states(states, g)
    b = (
        random.random(),
        np.random.rand(),  # noqa: NPY002
        torch.rand(1).item(),
        torch.rand(1, generator=g).item(),
    )
    assert a == b


def test_scaler_state_saved(tmp_path: Path) -> None:
    model, opt, _ = _setup(0)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    save_training_state(tmp_path / "c.pt", 0, model, opt, scaler=scaler)
    other = torch.amp.GradScaler("cpu", init_scale=2.0)
    load_training_state(tmp_path / "c.pt", model, opt, scaler=other)
    assert other.get_scale() == 1024.0
