"""dlbook.schedule のテスト: 倍率の形、PyTorch のスケジューラとの一致。"""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch.optim import lr_scheduler as S

from dlbook.schedule import lr_trace, warmup_cosine


class TestWarmupCosine:
    def test_warmup_is_linear_and_reaches_one(self) -> None:
        f = warmup_cosine(4, 20)
        assert [f(t) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]

    def test_cosine_part_matches_formula(self) -> None:
        warmup, total = 5, 25
        f = warmup_cosine(warmup, total)
        for t in range(warmup, total + 1):
            u = (t - warmup) / (total - warmup)
            assert f(t) == pytest.approx(0.5 * (1 + math.cos(math.pi * u)))
        assert f(warmup) == pytest.approx(1.0)
        assert f(total) == pytest.approx(0.0)

    def test_stays_at_zero_after_total(self) -> None:
        f = warmup_cosine(2, 10)
        assert f(10) == pytest.approx(0.0)
        assert f(11) == pytest.approx(0.0)
        assert f(100) == pytest.approx(0.0)

    def test_no_warmup_is_plain_cosine_annealing(self) -> None:
        ours = lr_trace(lambda o: S.LambdaLR(o, warmup_cosine(0, 50)), 50)
        torch_cos = lr_trace(lambda o: S.CosineAnnealingLR(o, T_max=50), 50)
        np.testing.assert_allclose(ours, torch_cos, rtol=1e-10, atol=1e-12)

    @pytest.mark.parametrize(
        ("warmup", "total"), [(-1, 10), (10, 10), (11, 10), (0, 0)]
    )
    def test_bad_arguments(self, warmup: int, total: int) -> None:
        with pytest.raises(ValueError, match="warmup < total"):
            warmup_cosine(warmup, total)


class TestLrTrace:
    def test_step_lr(self) -> None:
        lrs = lr_trace(lambda o: S.StepLR(o, step_size=3, gamma=0.5), 7, 0.8)
        np.testing.assert_allclose(
            lrs, [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2], rtol=1e-12
        )

    def test_lambda_lr_follows_factor(self) -> None:
        f = warmup_cosine(3, 12)
        lrs = lr_trace(lambda o: S.LambdaLR(o, f), 12, lr=0.1)
        np.testing.assert_allclose(
            lrs, [0.1 * f(t) for t in range(12)], rtol=1e-12
        )

    def test_length(self) -> None:
        assert len(lr_trace(lambda o: S.StepLR(o, 1), steps=5)) == 5
