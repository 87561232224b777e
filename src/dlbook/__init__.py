"""dlbook: 『深層学習』第4〜6章の参照実装。

NumPy によるスクラッチ実装 (``dlbook.layers``, ``dlbook.conv`` など) と
PyTorch のモデル・学習ループ (``dlbook.models``, ``dlbook.train``) からなる。
各モジュールは本書の 1 つの考え方に対応する。
"""

from dlbook.config import (
    data_dir,
    device,
    device_name,
    profile,
    seed_everything,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "data_dir",
    "device",
    "device_name",
    "profile",
    "seed_everything",
]
