"""dlbook.ddp: 2 プロセスの DDP (gloo, CPU) が勾配を平均し、重みをそろえること。"""

from __future__ import annotations

import pytest
import torch

from dlbook import ddp

ATOL = 1e-6  # float32 の all-reduce と 1 プロセスの計算の差 (足す順序の違い)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return ddp.run_ddp(world_size=2, steps=5, batch_size=16, seed=0)


class TestRunDDP:
    def test_one_record_per_rank(self, records: list[dict]) -> None:
        assert [r["rank"] for r in records] == [0, 1]
        assert all(len(r["losses"]) == 5 for r in records)

    def test_local_gradients_differ(self, records: list[dict]) -> None:
        # 担当するデータが違うので、平均する前の勾配は違う
        g0, g1 = (r["local_grad"] for r in records)
        assert not torch.allclose(g0, g1)

    def test_gradient_is_mean_of_local(self, records: list[dict]) -> None:
        mean = (records[0]["local_grad"] + records[1]["local_grad"]) / 2
        for r in records:
            torch.testing.assert_close(r["ddp_grad"], mean, atol=ATOL, rtol=0)

    def test_parameters_identical_across_ranks(
        self, records: list[dict]
    ) -> None:
        s0, s1 = records[0]["state"], records[1]["state"]
        for k in s0:
            assert torch.equal(s0[k], s1[k]), k

    def test_matches_single_process(self, records: list[dict]) -> None:
        # 半分ずつの勾配の平均 = 全体の勾配 (MSE の平均、等分なので)
        single = ddp.train_single(steps=5, batch_size=16, seed=0)
        for k, v in single.state_dict().items():
            torch.testing.assert_close(
                records[0]["state"][k], v, atol=1e-5, rtol=0
            )


def test_batch_not_divisible_raises() -> None:
    with pytest.raises(ValueError, match="割り切れ"):
        ddp.run_ddp(world_size=2, batch_size=15)


def test_make_batches_deterministic() -> None:
    a = ddp.make_batches(2, 4, seed=1)
    b = ddp.make_batches(2, 4, seed=1)
    for (Xa, ya), (Xb, yb) in zip(a, b, strict=True):
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb)
        assert Xa.shape == (4, 4) and ya.shape == (4, 1)
