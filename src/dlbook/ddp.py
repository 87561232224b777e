"""分散データ並列 (DistributedDataParallel, DDP) の最小の実演。

CPU だけで動く ``gloo`` バックエンドで 2 つのプロセスを立ち上げ、
各プロセス (ランク) がミニバッチの半分ずつを受け持って学習する。
DDP は逆伝播の途中で各ランクの勾配を all-reduce して平均するので、

.. math::

    \\bar{g} = \\frac{1}{R} \\sum_{r=0}^{R-1} g_r

がすべてのランクで同じになり、パラメータは常に一致したまま更新される。
``torch.multiprocessing.spawn`` は関数を pickle して子プロセスに渡すので、
ワーカー関数はノートブックではなく、このように import できるモジュールに置く。
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def first_weight_grad(model: nn.Sequential) -> torch.Tensor:
    """最初の全結合層の重みの勾配 (のコピー) を返す。"""
    layer = model[0]
    assert isinstance(layer, nn.Linear) and layer.weight.grad is not None
    return layer.weight.grad.clone()


def make_model(seed: int) -> nn.Sequential:
    """実演用の小さな MLP (4 → 8 → 1)。同じ ``seed`` なら同じ初期値になる。"""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def make_batches(
    steps: int, batch_size: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """全ランク共通の回帰データ (ミニバッチのリスト) を作る。

    Returns:
        ``(X, y)`` の組のリスト。``X`` は ``(batch_size, 4)``、``y`` は
        ``(batch_size, 1)``。
    """
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    batches = []
    for _ in range(steps):
        X = torch.randn(batch_size, 4, generator=g)
        y = X @ w + 0.1 * torch.randn(batch_size, 1, generator=g)
        batches.append((X, y))
    return batches


def ddp_worker(
    rank: int,
    world_size: int,
    port: int,
    out_dir: str,
    steps: int,
    batch_size: int,
    seed: int,
) -> None:
    """1 つのランクの学習。``mp.spawn`` が ``rank`` を先頭の引数に渡す。

    各ランクはミニバッチを ``world_size`` 等分したうちの自分の分だけを使う。
    最初の 1 ステップで、DDP を通さない局所勾配 ``g_r`` と DDP が平均した
    勾配を記録し、学習後のパラメータとともに ``out_dir`` に保存する。
    """
    torch.set_num_threads(1)  # 2 コアの計算機で 2 プロセスが奪い合わないように
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
    )
    model = make_model(seed)
    local = make_model(seed)  # 比較用: DDP を通さない同じモデル
    ddp = DistributedDataParallel(model)  # 作成時に rank 0 の重みを全員へ配る
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    shard = batch_size // world_size
    losses: list[float] = []
    record: dict[str, object] = {"rank": rank, "losses": losses}
    for step, (X, y) in enumerate(make_batches(steps, batch_size, seed)):
        Xr = X[rank * shard : (rank + 1) * shard]  # 自分の担当分 (shard, 4)
        yr = y[rank * shard : (rank + 1) * shard]
        if step == 0:
            loss_fn(local(Xr), yr).backward()
            record["local_grad"] = first_weight_grad(local)
        opt.zero_grad()
        loss = loss_fn(ddp(Xr), yr)
        loss.backward()  # ここで勾配の all-reduce (平均) が起きる
        if step == 0:
            record["ddp_grad"] = first_weight_grad(model)
        opt.step()
        losses.append(loss.item())
    record["state"] = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(record, Path(out_dir) / f"rank{rank}.pt")
    dist.destroy_process_group()


def free_port() -> int:
    """空いている TCP ポート番号を OS に選ばせる。"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ddp(
    world_size: int = 2, steps: int = 20, batch_size: int = 32, seed: int = 0
) -> list[dict]:
    """``world_size`` 個のプロセスで DDP 学習を実行し、各ランクの記録を返す。

    Returns:
        ランク順の辞書のリスト。キーは ``rank``, ``losses``, ``local_grad``
        (DDP を通さない勾配), ``ddp_grad`` (平均された勾配), ``state``
        (学習後の ``state_dict``)。

    Raises:
        ValueError: ``batch_size`` が ``world_size`` で割り切れないとき。
    """
    if world_size < 1 or batch_size % world_size != 0:
        raise ValueError(
            f"batch_size={batch_size} は world_size={world_size} で"
            "割り切れなければならない"
        )
    with tempfile.TemporaryDirectory() as out_dir:
        args = (world_size, free_port(), out_dir, steps, batch_size, seed)
        mp.spawn(ddp_worker, args=args, nprocs=world_size, join=True)
        return [
            torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=True)
            for r in range(world_size)
        ]


def train_single(
    steps: int = 20, batch_size: int = 32, seed: int = 0
) -> nn.Module:
    """同じデータを 1 プロセスでミニバッチ全体に対して学習する (比較の基準)。"""
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    for X, y in make_batches(steps, batch_size, seed):
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()
    return model


__all__ = [
    "ddp_worker",
    "make_batches",
    "make_model",
    "run_ddp",
    "train_single",
]
