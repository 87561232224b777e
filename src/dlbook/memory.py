"""学習 1 ステップのメモリ使用量の内訳 (パラメータ・勾配・最適化器の状態・活性)。

学習中のメモリはおおよそ次の 4 つの和である。

.. math::

    M \\approx \\underbrace{P}_{\\text{パラメータ}}
    + \\underbrace{P}_{\\text{勾配}}
    + \\underbrace{kP}_{\\text{最適化器の状態}}
    + \\underbrace{A}_{\\text{逆伝播のために保存した活性}}

ここで :math:`P` はパラメータのバイト数、:math:`k` は最適化器が
パラメータ 1 個あたりに持つ状態の数 (SGD は 0、Momentum は 1、Adam は 2)、
:math:`A` はバッチサイズに比例する。本モジュールは公式に頼らず、
実際に 1 ステップ実行してテンソルを数える。
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class StepMemory:
    """学習 1 ステップのメモリの内訳 (単位はバイト)。"""

    params: int  # パラメータ
    grads: int  # 勾配 (.grad)
    optimizer: int  # 最適化器の状態 (Adam の m と v など)
    activations: int  # 逆伝播のために保存されたテンソル (パラメータを除く)

    @property
    def total(self) -> int:
        """4 つの合計。"""
        return self.params + self.grads + self.optimizer + self.activations

    def as_mib(self) -> dict[str, float]:
        """項目名 → MiB の辞書 (表や図に使う)。"""
        items = {
            "パラメータ": self.params,
            "勾配": self.grads,
            "最適化器の状態": self.optimizer,
            "活性": self.activations,
        }
        return {k: v / 2**20 for k, v in items.items()}


def tensor_bytes(t: torch.Tensor) -> int:
    """テンソルが占めるバイト数 (要素数 × 要素のバイト数)。"""
    return t.numel() * t.element_size()


def saved_activation_bytes(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> int:
    """順伝播で autograd が逆伝播用に保存したテンソルのバイト数を数える。

    ``torch.autograd.graph.saved_tensors_hooks`` で保存のたびに呼ばれる
    フックを仕掛け、同じ記憶領域は 1 回だけ数える。パラメータ自身も
    保存されるが、それは :attr:`StepMemory.params` に数えるので除く。
    """
    param_ptrs = {p.data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in param_ptrs:
            seen[ptr] = max(seen.get(ptr, 0), t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn(model(X), y)
    return sum(seen.values())


def step_memory(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    make_optimizer: Callable[..., torch.optim.Optimizer],
) -> StepMemory:
    """モデルの複製で 1 ステップ学習し、メモリの内訳を数える。

    Args:
        model: 対象のモデル (変更しない。複製して使う)。
        X: 入力のミニバッチ。
        y: 正解。
        loss_fn: 損失関数。
        make_optimizer: パラメータを受け取り最適化器を返す関数
            (例: ``lambda p: torch.optim.Adam(p)``)。

    Returns:
        :class:`StepMemory`。
    """
    net = copy.deepcopy(model)
    opt = make_optimizer(net.parameters())
    activations = saved_activation_bytes(net, X, y, loss_fn)
    opt.zero_grad()
    loss_fn(net(X), y).backward()
    opt.step()
    params = list(net.parameters())
    state = [
        v
        for s in opt.state.values()
        for v in s.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0  # step 数などの数は除く
    ]
    return StepMemory(
        params=sum(tensor_bytes(p) for p in params),
        grads=sum(tensor_bytes(p.grad) for p in params if p.grad is not None),
        optimizer=sum(tensor_bytes(v) for v in state),
        activations=activations,
    )


def cuda_peak_bytes(
    step: Callable[[], object], dev: torch.device
) -> int | None:
    """``step()`` を GPU で実行したときのメモリ使用量の最大値 (バイト)。

    GPU でなければ測れないので ``None`` を返す。
    """
    if dev.type != "cuda":
        return None
    torch.cuda.synchronize(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    step()
    torch.cuda.synchronize(dev)
    return torch.cuda.max_memory_allocated(dev)


__all__ = [
    "StepMemory",
    "cuda_peak_bytes",
    "saved_activation_bytes",
    "step_memory",
    "tensor_bytes",
]
