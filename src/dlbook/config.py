"""実行プロファイル・デバイス・乱数シードの設定 (本書全体で 1 か所)。

プロファイルは環境変数 ``DLBOOK_PROFILE`` だけで決まる。

- ``quick`` (既定): パッケージ同梱または生成データ、短い学習 (CPU だけで数分)。
- ``full``: 実データセットと学習済み重み、長い学習。

デバイス (``device()``) はプロファイルによらず、GPU があれば GPU を選ぶ。
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Literal

import numpy as np
import torch

Profile = Literal["quick", "full"]
PROFILE_ENV = "DLBOOK_PROFILE"
DATA_ENV = "DLBOOK_DATA"


def profile() -> Profile:
    """現在のプロファイル (``"quick"`` または ``"full"``) を返す。

    Raises:
        ValueError: ``DLBOOK_PROFILE`` が未知の値のとき。
    """
    value = os.environ.get(PROFILE_ENV, "quick").strip().lower() or "quick"
    if value not in ("quick", "full"):
        raise ValueError(
            f"{PROFILE_ENV}={value!r} は不正です。'quick' か 'full' を指定してください。"
        )
    return value  # type: ignore[return-value]


def is_full() -> bool:
    """``full`` プロファイルなら ``True``。"""
    return profile() == "full"


def data_dir() -> Path:
    """データセットと重みを置くディレクトリ (``DLBOOK_DATA``、既定 ``~/.cache/dlbook``)。"""
    root = os.environ.get(DATA_ENV) or Path.home() / ".cache" / "dlbook"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def device() -> torch.device:
    """使えるデバイスを cuda → mps → cpu の順に選ぶ。"""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(dev: torch.device | None = None) -> str:
    """人が読むためのデバイス名 (GPU 名または ``"CPU"``)。"""
    dev = dev or device()
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple MPS"
    return "CPU"


def seed_everything(seed: int) -> np.random.Generator:
    """Python・NumPy・PyTorch の乱数を固定し、決定的な演算を選ぶ。

    CPU では、同じ計算機で 2 回実行すれば同じ数値が出る (本書の再現性の
    前提。``make determinism`` で確かめる)。GPU では cuDNN に決定的な
    アルゴリズムを選ばせるが、``AdaptiveAvgPool2d`` の逆伝播のように決定的な
    実装のない演算があるので、最後の桁まで同じになるとは限らない。

    Returns:
        そのシードで初期化した ``np.random.Generator``。
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (古い API を使うライブラリのため)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)
