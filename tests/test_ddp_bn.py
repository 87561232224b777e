"""dlbook.ddp_bn: torchrun の 2 プロセスで、同期 BN が 1 プロセスと一致すること。"""

from __future__ import annotations

import pytest
import torch

from dlbook.ddp_bn import (
    SyncBatchNorm1d,
    make_data,
    max_diff,
    run_torchrun,
    shard_batches,
    train_single,
)


def test_shards_partition_the_data() -> None:
    shards = shard_batches(make_data(n=16), 2, 4, epoch=0, seed=0)
    flat = [i for r in shards for b in r for i in b]
    assert sorted(flat) == list(range(16))


def test_set_epoch_changes_order() -> None:
    ds = make_data(n=16)
    assert shard_batches(ds, 2, 4, 0, 0) != shard_batches(ds, 2, 4, 1, 0)


def test_sync_bn_is_plain_bn_outside_distributed() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 3)
    ours, ref = SyncBatchNorm1d(3), torch.nn.BatchNorm1d(3)
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.slow
def test_torchrun_bn_vs_sync_bn() -> None:
    records, files = run_torchrun(nproc=2, epochs=2, batch_size=16, seed=0)
    assert files == ["model.pt", "rank0.pt", "rank1.pt"]
    ref = train_single(
        epochs=2, batch_size=16, world_size=2, seed=0
    ).state_dict()
    # 普通の BN は各ランク 16 件の統計量 → 1 プロセス (32 件) と違う
    assert max_diff(records[0]["bn"], ref) > 1e-2
    # 同期 BN は 32 件の統計量 → 丸め誤差で一致、ランク間は完全に一致
    assert max_diff(records[0]["sync_bn"], ref) < 1e-5
    assert max_diff(records[0]["sync_bn"], records[1]["sync_bn"]) == 0
    a, b = records[0]["accum_no_sync"], records[0]["accum_sync"]
    assert 2 * a["allreduce_calls"] == b["allreduce_calls"]
    assert max_diff(a["state"], b["state"]) < 1e-5
