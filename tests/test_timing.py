"""dlbook.timing: 時間の測り方の基本的な性質。"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

from dlbook import timing

CPU = torch.device("cpu")


def test_time_fn_measures_sleep() -> None:
    t = timing.time_fn(lambda: time.sleep(0.01), CPU, repeat=3, warmup=0)
    assert 0.009 < t < 0.2


def test_time_fn_warmup_not_counted() -> None:
    calls = []
    timing.time_fn(lambda: calls.append(1), CPU, repeat=4, warmup=2)
    assert len(calls) == 6


def test_repeat_must_be_positive() -> None:
    with pytest.raises(ValueError, match="repeat"):
        timing.time_fn(lambda: None, CPU, repeat=0)


def test_matmul_and_train_step_positive() -> None:
    assert timing.matmul_time(64, CPU, repeat=2) > 0
    model = nn.Linear(8, 3)
    X, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    before = model.weight.detach().clone()
    assert timing.train_step_time(model, X, y, CPU, repeat=2) > 0
    assert not torch.equal(before, model.weight)  # 更新された


def test_gflops() -> None:
    assert timing.matmul_gflops(1000, 2.0) == pytest.approx(1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU がない")
def test_cuda_timing() -> None:
    assert timing.matmul_time(256, torch.device("cuda"), repeat=2) > 0


def test_conv_times_measures_all_three_versions() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 6))
    W = rng.standard_normal((3, 2, 3, 3))
    t = timing.conv_times(x, W, pad=1, repeat=2)
    assert set(t) == {"naive", "im2col", "torch"}
    assert all(v > 0 for v in t.values())


def test_conv_times_rejects_mismatched_channels() -> None:
    with pytest.raises(ValueError, match="C が等しい"):
        timing.conv_times(np.zeros((1, 2, 6, 6)), np.zeros((3, 4, 3, 3)))
