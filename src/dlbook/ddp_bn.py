"""torchrun で起動する DDP の実習: サンプラー・同期バッチ正規化・no_sync。

このファイルは ``torchrun`` がランクごとに 1 回ずつ実行するスクリプトである::

    torchrun --standalone --nproc-per-node=2 -m dlbook.ddp_bn --out DIR

``torchrun`` は環境変数 ``RANK``・``WORLD_SIZE``・``MASTER_ADDR`` などを設定して
プロセスを立てるので、``init_process_group("gloo")`` は引数なしで仲間を見つける。
各ランクは ``DistributedSampler`` で自分の担当分 (シャード) だけを読み、
同じモデルを 3 通りに学習する。

1. 普通のバッチ正規化: 各ランクは自分の 16 件だけの平均と分散で正規化する。
2. 同期バッチ正規化: 統計量を all-reduce して、全ランク 32 件の平均と分散を使う。
   ``nn.SyncBatchNorm`` は GPU の入力しか受け付けないので、CPU の gloo で動かす
   ここでは同じ計算を ``SyncBatchNorm1d`` として書いた。
3. 勾配累積と ``no_sync``: 2 つのマイクロバッチの 1 つ目では all-reduce を省く。
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


class AllReduceSum(torch.autograd.Function):
    """全ランクの和を返す all-reduce。逆伝播でも勾配を全ランクで合計する。"""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        dist.all_reduce(y)  # 既定の演算は和
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)  # 和の出力は全ランクの損失に効いている
        return grad


class SyncBatchNorm1d(nn.BatchNorm1d):
    """全ランクのミニバッチの統計量で正規化するバッチ正規化 (CPU でも動く)。

    訓練モードでは、各ランクの件数・和・2 乗和を all-reduce で合計し、
    全体の平均 :math:`\\mu` と分散 :math:`\\sigma^2` を求める。all-reduce は
    ``AllReduceSum`` を通すので、逆伝播でも勾配が全ランクから集まる。
    分散ジョブの外では普通の ``BatchNorm1d``。

    Shape:
        - 入力: :math:`(N, C)`
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        N, C = x.shape
        n = torch.tensor([float(N)])
        stats = torch.cat([n, x.sum(dim=0), (x * x).sum(dim=0)])  # (1+2C,)
        stats = AllReduceSum.apply(stats)  # 全ランクの合計 (微分できる)
        n_all = stats[0]
        mean = stats[1 : C + 1] / n_all  # (C,)
        var = stats[C + 1 :] / n_all - mean**2  # (C,) 割る数 n の分散
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        with torch.no_grad():  # 移動平均は不偏分散で更新 (BatchNorm1d と同じ)
            m = self.momentum if self.momentum is not None else 0.1
            self.running_mean.mul_(1 - m).add_(m * mean)
            unbiased = var * n_all / (n_all - 1)
            self.running_var.mul_(1 - m).add_(m * unbiased)
            self.num_batches_tracked.add_(1)
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (N, C)
        return self.weight * x_hat + self.bias


def make_data(n: int = 64, seed: int = 0) -> TensorDataset:
    """3 クラスに分かれた 6 次元のデータ (全ランクで同じものを作る)。"""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.randn(3, 6, generator=g) * 2 + 1
    X = centers[y] + torch.randn(n, 6, generator=g)  # (n, 6)
    return TensorDataset(X, y)


def make_model(seed: int, sync_bn: bool = False, bn: bool = True) -> nn.Module:
    """6 → 16 → 3 の MLP。``bn`` なら隠れ層にバッチ正規化を入れる。"""
    torch.manual_seed(seed)
    norm: nn.Module = nn.Identity()
    if bn:
        norm = SyncBatchNorm1d(16) if sync_bn else nn.BatchNorm1d(16)
    return nn.Sequential(nn.Linear(6, 16), norm, nn.ReLU(), nn.Linear(16, 3))


def shard_batches(
    ds: TensorDataset, world_size: int, batch_size: int, epoch: int, seed: int
) -> list[list[list[int]]]:
    """各ランクが ``DistributedSampler`` から受け取るミニバッチの番号。

    Returns:
        ``[rank][step]`` → そのミニバッチのデータ番号のリスト。
    """
    out = []
    for rank in range(world_size):
        sampler: DistributedSampler = DistributedSampler(
            ds, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
        sampler.set_epoch(epoch)
        idx = list(sampler)
        out.append(
            [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
        )
    return out


def train_single(
    epochs: int, batch_size: int, world_size: int, seed: int
) -> nn.Module:
    """1 プロセスで、全ランクのシャードを合わせたミニバッチで学習する (基準)。"""
    ds = make_data(seed=seed)
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        shards = shard_batches(ds, world_size, batch_size, epoch, seed)
        for step in range(len(shards[0])):
            idx = [i for r in range(world_size) for i in shards[r][step]]
            X, y = ds[idx]  # (world_size * batch_size, 6)
            opt.zero_grad()
            loss_fn(model(X), y).backward()
            opt.step()
    return model


def _train_ddp(
    rank: int, world: int, sync_bn: bool, args: argparse.Namespace
) -> nn.Module:
    ds = make_data(seed=args.seed)
    sampler: DistributedSampler = DistributedSampler(
        ds, shuffle=True, seed=args.seed
    )
    loader = DataLoader(ds, batch_size=args.batch_size, sampler=sampler)
    model = DistributedDataParallel(make_model(args.seed, sync_bn=sync_bn))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # エポックごとに違う順序 (全ランクで共通)
        for X, y in loader:  # 自分のシャードだけ (batch_size, 6)
            opt.zero_grad()
            loss_fn(model(X), y).backward()  # 勾配の all-reduce (平均)
            opt.step()
    return model.module


def _train_accum(use_no_sync: bool, args: argparse.Namespace) -> dict:
    """勾配累積 (マイクロバッチ 2 つで 1 ステップ)。all-reduce の回数を数える。"""
    ds = make_data(seed=args.seed)
    sampler: DistributedSampler = DistributedSampler(
        ds, shuffle=True, seed=args.seed
    )
    loader = DataLoader(ds, batch_size=args.batch_size // 2, sampler=sampler)
    model = DistributedDataParallel(make_model(args.seed, bn=False))
    calls = [0]

    def counting_allreduce(state, bucket):  # 勾配のバケット 1 つを平均する
        calls[0] += 1
        grad = bucket.buffer() / dist.get_world_size()
        fut = dist.all_reduce(grad, async_op=True).get_future()
        return fut.then(lambda f: f.value()[0])

    model.register_comm_hook(None, counting_allreduce)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        batches = list(loader)
        for (X1, y1), (X2, y2) in zip(
            batches[0::2], batches[1::2], strict=True
        ):
            opt.zero_grad()
            if use_no_sync:
                with model.no_sync():  # 勾配は手元にためるだけ
                    (loss_fn(model(X1), y1) / 2).backward()
            else:
                (loss_fn(model(X1), y1) / 2).backward()
            (loss_fn(model(X2), y2) / 2).backward()  # ここで all-reduce
            opt.step()
    return {"allreduce_calls": calls[0], "state": _state(model.module)}


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def main(argv: list[str] | None = None) -> None:
    """1 つのランクの処理 (torchrun がランクの数だけ呼ぶ)。"""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="結果を書くフォルダ")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # 2 コアを 2 プロセスで分け合う
    dist.init_process_group("gloo")  # RANK などは torchrun が環境変数で渡す
    rank, world = dist.get_rank(), dist.get_world_size()
    record: dict[str, object] = {"rank": rank, "world_size": world}
    record["bn"] = _state(_train_ddp(rank, world, False, args))
    sync_model = _train_ddp(rank, world, True, args)
    record["sync_bn"] = _state(sync_model)
    record["accum_sync"] = _train_accum(False, args)
    record["accum_no_sync"] = _train_accum(True, args)
    out = Path(args.out)
    if rank == 0:  # 保存はランク 0 だけ (重みは全ランクで同じ)
        torch.save(sync_model.state_dict(), out / "model.pt")
    torch.save(record, out / f"rank{rank}.pt")
    dist.barrier()  # ランク 0 が書き終わるまで、ほかのランクも待つ
    dist.destroy_process_group()


def run_torchrun(
    nproc: int = 2, epochs: int = 2, batch_size: int = 16, seed: int = 0
) -> tuple[list[dict], list[str]]:
    """``torchrun`` でこのスクリプトを起動し、各ランクの記録を返す。

    Returns:
        ``(records, files)``。``records`` はランク順の記録、``files`` は
        出力フォルダにできたファイル名 (ソート済み)。

    Raises:
        RuntimeError: torchrun が失敗したとき (標準エラーの末尾を添える)。
    """
    torchrun = Path(sys.executable).with_name("torchrun")
    with tempfile.TemporaryDirectory() as out:
        cmd = [str(torchrun), "--standalone", f"--nproc-per-node={nproc}"]
        cmd += ["-m", "dlbook.ddp_bn", "--out", out, "--epochs", str(epochs)]
        cmd += ["--batch-size", str(batch_size), "--seed", str(seed)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun が失敗した:\n{proc.stderr[-2000:]}")
        records = [
            torch.load(Path(out) / f"rank{r}.pt", weights_only=True)
            for r in range(nproc)
        ]
        files = sorted(p.name for p in Path(out).iterdir())
    return records, files


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """2 つの ``state_dict`` の浮動小数点の要素の最大の差。"""
    return max(
        (a[k].double() - b[k].double()).abs().max().item()
        for k in a
        if a[k].is_floating_point()
    )


__all__ = [
    "AllReduceSum",
    "SyncBatchNorm1d",
    "make_data",
    "make_model",
    "max_diff",
    "run_torchrun",
    "shard_batches",
    "train_single",
]

if __name__ == "__main__":
    main()
