"""実行プロファイル・デバイス・乱数シードの設定 (本書全体で 1 か所)。

プロファイルは環境変数 ``DLBOOK_PROFILE`` だけで決まる。

- ``quick`` (既定): パッケージ同梱または生成データ、短い学習 (CPU だけで数分)。
- ``full``: 実データセットと学習済み重み、長い学習。

デバイス (``device()``) はプロファイルによらず、GPU があれば GPU を選ぶ。
torch はデバイスとシードの関数の中で読み込む。NumPy だけの章 (``dlbook.layers``
など) は ``import dlbook`` しても torch を読まない (読み込みに約 1 秒かかるため)。
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

Profile = Literal["quick", "full"]
PROFILE_ENV = "DLBOOK_PROFILE"
DATA_ENV = "DLBOOK_DATA"
REHEARSAL_ENV = "DLBOOK_REHEARSAL_SCALE"


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


def rehearsal_scale() -> float:
    """リハーサル (``make rehearse-full``) でデータと学習を縮める倍率。

    環境変数 ``DLBOOK_REHEARSAL_SCALE`` (0 より大きく 1 以下) で決まり、
    未設定なら 1 (縮めない)。公開ビルドはこれを設定しない。この CPU の
    計算機で ``full`` プロファイルを最後まで通すための、唯一の大きさのつまみ。

    Raises:
        ValueError: 値が数でない、または (0, 1] の外のとき。
    """
    raw = os.environ.get(REHEARSAL_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = float("nan")
    if not 0.0 < scale <= 1.0:  # nan もここで弾く
        raise ValueError(
            f"{REHEARSAL_ENV}={raw!r} は不正です。0 より大きく 1 以下の数を"
            "指定してください (公開ビルドでは設定しない)。"
        )
    return scale


def by_profile(quick: int, full: int) -> int:
    """プロファイルに応じた回数 (エポック数など) を選ぶ。

    ``quick`` なら ``quick``、``full`` なら ``full``。リハーサル
    (:func:`rehearsal_scale` が 1 未満) のときだけ、``full`` の値を
    ``ceil(full * scale)`` に縮める (ただし 2 以上、元の値以下。
    エポックをまたぐ処理も 1 回は通るように)。
    """
    if profile() == "quick":
        return quick
    return min(full, max(2, math.ceil(full * rehearsal_scale())))


def data_dir() -> Path:
    """データセットと重みを置くディレクトリ (``DLBOOK_DATA``、既定 ``~/.cache/dlbook``)。"""
    root = os.environ.get(DATA_ENV) or Path.home() / ".cache" / "dlbook"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def device() -> torch.device:
    """使えるデバイスを cuda → mps → cpu の順に選ぶ。"""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(dev: torch.device | None = None) -> str:
    """人が読むためのデバイス名 (GPU 名または ``"CPU"``)。"""
    import torch

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
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (古い API を使うライブラリのため)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)
