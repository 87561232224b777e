"""学習を途中から同じように再開するためのチェックポイント。

重みだけでは学習は再開できない。最適化器の状態 (Adam の m と v)、
学習率スケジューラの位置、``GradScaler`` の倍率、エポック数、そして
乱数の状態 (Python・NumPy・torch の CPU と CUDA、DataLoader の生成器) を
いっしょに保存する。v2 のデータ拡張やドロップアウトは torch の
グローバルな乱数を使うので、これも含める。
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


def rng_states(loader_generator: torch.Generator | None = None) -> dict:
    """いまの乱数の状態をすべて集める。"""
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (グローバルな乱数)
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all()
        if torch.cuda.is_available()
        else [],
    }
    if loader_generator is not None:
        states["loader"] = loader_generator.get_state()
    return states


def set_rng_states(
    states: dict, loader_generator: torch.Generator | None = None
) -> None:
    """``rng_states`` の逆。"""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if loader_generator is not None and "loader" in states:
        loader_generator.set_state(states["loader"])


def save_training_state(
    path: str | Path,
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    loader_generator: torch.Generator | None = None,
) -> Path:
    """再開に要るものを 1 つのファイルに保存する (``torch.save``)。"""
    state = {
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler else None,
        "scaler": scaler.state_dict() if scaler else None,
        "rng": rng_states(loader_generator),
    }
    path = Path(path)
    torch.save(state, path)
    return path


def load_training_state(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    loader_generator: torch.Generator | None = None,
    map_location: torch.device | str | None = "cpu",
    restore_rng: bool = True,
) -> int:
    """``save_training_state`` の逆。次に学習するエポックの番号を返す。

    Args:
        map_location: テンソルをいったん置くデバイス。GPU で保存したファイルを
            GPU のない計算機で読むときも ``"cpu"`` なら読める
            (``load_state_dict`` がモデルのデバイスへ写す)。
        restore_rng: 乱数の状態を戻すか (戻さない場合を比べるため)。
    """
    # NumPy と Python の乱数の状態を含むので weights_only=False で読む
    # (自分で保存したファイルに限る。他人のファイルは信用しない)
    state = torch.load(path, map_location=map_location, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state["scaler"] is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        set_rng_states(state["rng"], loader_generator)
    return state["epoch"] + 1


__all__ = [
    "load_training_state",
    "rng_states",
    "save_training_state",
    "set_rng_states",
]
