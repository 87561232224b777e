"""CPU と GPU の実行時間を正しく測る小さな道具。

GPU の演算は非同期に投入されるので、関数が戻った時点では計算が
終わっていない。測る前後で ``torch.cuda.synchronize`` を呼ばないと、
投入にかかった時間しか測れない。また最初の呼び出しには初期化
(カーネルの読み込み、メモリの確保) が含まれるので、ウォームアップを捨てる。
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dlbook.conv import conv2d, conv2d_naive


def sync(dev: torch.device) -> None:
    """``dev`` が GPU なら、投入済みの計算が終わるまで待つ。"""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_fn(
    fn: Callable[[], object],
    dev: torch.device,
    repeat: int = 5,
    warmup: int = 1,
) -> float:
    """``fn()`` 1 回の実行時間 (秒) の中央値。

    Raises:
        ValueError: ``repeat`` が 1 未満のとき。
    """
    if repeat < 1:
        raise ValueError(f"repeat は 1 以上: {repeat}")
    for _ in range(warmup):
        fn()
    sync(dev)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(dev)  # GPU の計算が本当に終わるまでを測る
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_time(n: int, dev: torch.device, repeat: int = 5) -> float:
    """``(n, n) @ (n, n)`` の行列積 (float32) 1 回の時間 (秒)。"""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(n, n, generator=g).to(dev)
    B = torch.randn(n, n, generator=g).to(dev)
    return time_fn(lambda: A @ B, dev, repeat=repeat)


def train_step_time(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    dev: torch.device,
    repeat: int = 5,
) -> float:
    """SGD による学習 1 ステップ (順伝播・逆伝播・更新) の時間 (秒)。

    ``model`` は ``dev`` に移され、パラメータが更新される。
    """
    model = model.to(dev)
    X, y = X.to(dev), y.to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()

    return time_fn(step, dev, repeat=repeat)


def conv_times(
    x: np.ndarray, W: np.ndarray, pad: int = 0, repeat: int = 5
) -> dict[str, float]:
    """同じ入力で、畳み込み 1 回 (順伝播) の時間 (秒) を 3 通りに測る。

    ``"naive"`` は ``dlbook.conv.conv2d_naive`` (ループ版)、``"im2col"`` は
    ``dlbook.conv.conv2d`` (im2col + 行列積)、``"torch"`` は
    ``torch.nn.functional.conv2d`` (CPU)。ループ版は遅いので、測る回数を
    ``repeat`` の半分 (1 回以上) にする。スレッド数は呼ぶ側で決める。

    Shape:
        - x: ``(N, C, H, W)``
        - W: ``(FN, C, FH, FW)``
    """
    cpu = torch.device("cpu")
    x_t, W_t = torch.tensor(x), torch.tensor(W)
    naive_repeat = max(1, repeat // 2)
    return {
        "naive": time_fn(
            lambda: conv2d_naive(x, W, pad=pad), cpu, naive_repeat
        ),
        "im2col": time_fn(lambda: conv2d(x, W, pad=pad), cpu, repeat),
        "torch": time_fn(
            lambda: torch.nn.functional.conv2d(x_t, W_t, padding=pad),
            cpu,
            repeat,
        ),
    }


def matmul_gflops(n: int, seconds: float) -> float:
    """``n`` 次正方行列の積 (乗算と加算で :math:`2n^3` 回) の GFLOP/s。"""
    return 2 * n**3 / seconds / 1e9


__all__ = [
    "conv_times",
    "matmul_gflops",
    "matmul_time",
    "sync",
    "time_fn",
    "train_step_time",
]
