"""リハーサル用の偽の入力を、本物と同じ置き場所・同じ形式で書く。

``full`` プロファイルの章は、MNIST・CIFAR-10 のファイルと torchvision の
学習済み重みを読む。ここでは、それらを小さな生成データと乱数の重みで作り、
本物が置かれる場所にそのまま置く。読む側 (torchvision の ``MNIST``・
``CIFAR10``・``weights=...DEFAULT``) は本物のときと同じコードを通る。

- MNIST: ``<root>/MNIST/raw/`` の idx 形式 4 ファイル (torchvision の
  ダウンロードが展開した後と同じ)。
- CIFAR-10: ``<root>/cifar-10-batches-py/`` の pickle 7 ファイル
  (``data_batch_1``〜``5``・``test_batch``・``batches.meta``)。
- 重み: ``$TORCH_HOME/hub/checkpoints/`` に、重みの列挙型の URL の
  ファイル名 (``resnet18-f37072fd.pth`` など) で、同じ構成のモデルの
  乱数の ``state_dict`` を ``torch.save`` したもの。

本物と違う点が 1 つある。torchvision の ``CIFAR10`` は、各ファイルの MD5 を
クラスに書かれた本物の値と照合する。偽のファイルはこれに一致しえないので、
:func:`register_cifar10_checksums` が、書いたファイルの MD5 をそのプロセスの
``CIFAR10`` に登録する (リハーサルのカーネルだけ。照合そのものは残る)。
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import re
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: 本物の枚数 (訓練, テスト)。偽のデータはこれに倍率を掛けた枚数で作る。
MNIST_SIZES = (60_000, 10_000)
CIFAR10_SIZES = (50_000, 10_000)
CIFAR10_META = "batches.meta"
CHECKSUMS = "rehearsal-md5.json"
#: 画像と合わないラベルの割合 (正解率が 100% にならないように)
LABEL_NOISE = 0.1
CIFAR10_LABELS = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def scaled_sizes(sizes: tuple[int, int], scale: float) -> tuple[int, int]:
    """本物の (訓練, テスト) の枚数に倍率を掛ける (どちらも 10 クラス × 2 以上)。"""
    return tuple(max(20, round(n * scale)) for n in sizes)  # type: ignore[return-value]


def _class_images(
    labels: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """クラスごとに位置の違う明るい帯 + 雑音の uint8 画像 (学習で区別できる)。

    Shape:
        - labels: ``(N,)`` → 戻り値: ``(N, *shape)``、最後の 2 軸が (H, W)。
    """
    N = len(labels)
    H = shape[-2]
    img = rng.integers(0, 60, size=(N, *shape), dtype=np.int64)
    rows = (2 + labels * (H - 4) // 10).astype(np.int64)  # クラスごとの帯の行
    for k in range(3):
        img[np.arange(N), ..., np.minimum(rows + k, H - 1), :] += 180
    return np.clip(img, 0, 255).astype(np.uint8)


def _labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """10 クラスがほぼ同数ずつのラベル (順番はばらばら)。"""
    return rng.permutation(np.arange(n) % 10).astype(np.uint8)


def _relabel(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ラベルの 1 割を別のクラスに付け替える (画像とは合わない)。

    完全に分けられるデータでは誤分類が 0 件になり、誤りを数えたり並べたり
    するセルが本物のデータでは通らない道を通ってしまう。
    """
    flip = rng.random(len(y)) < LABEL_NOISE
    shift = rng.integers(1, 10, size=len(y))
    return np.where(flip, (y + shift) % 10, y).astype(np.uint8)


# ---------------------------------------------------------------- MNIST
def _write_idx(path: Path, array: np.ndarray) -> None:
    """idx 形式 (LeCun の MNIST の形式) で uint8 の配列を書く。

    先頭は 0, 0, 型 (0x08 = uint8), 次元数 の 4 バイト、次に各次元の大きさを
    ビッグエンディアンの int32 で、その後に中身。
    """
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_mnist(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """``root/MNIST/raw`` に偽の MNIST (28×28、10 クラス) を書き、その場所を返す。"""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = _labels(n, rng)
        X = _class_images(y, (28, 28), rng)  # (N, 28, 28)
        _write_idx(raw / f"{split}-images-idx3-ubyte", X)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", _relabel(y, rng))
    return raw


# ---------------------------------------------------------------- CIFAR-10
def write_cifar10(
    root: Path, n_train: int, n_test: int, seed: int = 0
) -> Path:
    """``root/cifar-10-batches-py`` に偽の CIFAR-10 (32×32 カラー) を書く。

    本物と同じく訓練を 5 つのバッチに分け、各 pickle は ``data``
    (``(N, 3072)`` の uint8、R・G・B の順に 32×32 ずつ)・``labels``・
    ``batch_label``・``filenames`` を持つ。書いたファイルの MD5 を
    ``rehearsal-md5.json`` に記録する (:func:`register_cifar10_checksums`)。

    Returns:
        書いたディレクトリ。
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    parts = np.array_split(np.arange(n_train), 5)
    batches = [(f"data_batch_{i + 1}", len(p)) for i, p in enumerate(parts)]
    md5: dict[str, str] = {}
    for name, n in [*batches, ("test_batch", n_test)]:
        y = _labels(n, rng)
        X = _class_images(y, (3, 32, 32), rng)  # (N, 3, 32, 32)
        entry = {
            "batch_label": f"rehearsal {name}",
            "labels": [int(c) for c in _relabel(y, rng)],
            "data": X.reshape(n, 3 * 32 * 32),  # (N, 3072)
            "filenames": [f"fake_{name}_{i:05d}.png" for i in range(n)],
        }
        md5[name] = _dump(folder / name, entry)
    meta = {
        "label_names": list(CIFAR10_LABELS),
        "num_cases_per_batch": len(parts[0]),
        "num_vis": 3072,
    }
    md5[CIFAR10_META] = _dump(folder / CIFAR10_META, meta)
    (folder / CHECKSUMS).write_text(json.dumps(md5, indent=1) + "\n")
    return folder


def _dump(path: Path, obj: object) -> str:
    """``obj`` を pickle で書き、その MD5 を返す。"""
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return hashlib.md5(path.read_bytes()).hexdigest()


def register_cifar10_checksums(root: Path) -> dict[str, str]:
    """``write_cifar10`` が記録した MD5 を torchvision の ``CIFAR10`` に登録する。

    このプロセスの ``CIFAR10.train_list``・``test_list``・``meta["md5"]``
    だけを書き換える。ファイル名は本物と同じなので、偽のファイルが
    ない・壊れているときは、本物のときと同じく照合で見つかる。

    Raises:
        FileNotFoundError: ``rehearsal-md5.json`` がないとき。
    """
    from torchvision.datasets import CIFAR10

    record = root / "cifar-10-batches-py" / CHECKSUMS
    md5: dict[str, str] = json.loads(record.read_text())
    CIFAR10.train_list = [[f, md5[f]] for f, _ in CIFAR10.train_list]
    CIFAR10.test_list = [[f, md5[f]] for f, _ in CIFAR10.test_list]
    CIFAR10.meta = {**CIFAR10.meta, "md5": md5[CIFAR10_META]}
    return md5


# ---------------------------------------------------------------- 重み
WEIGHTS_PATTERN = re.compile(
    r"\b([A-Z]\w*_Weights)\.(DEFAULT|IMAGENET1K_V\d|COCO_V\d)\b"
)


def weights_used(paths: Iterable[Path]) -> list[str]:
    """ファイルの中の ``ResNet18_Weights.DEFAULT`` のような重みの指定を集める。"""
    found: set[str] = set()
    for path in paths:
        for m in WEIGHTS_PATTERN.finditer(path.read_text(encoding="utf-8")):
            found.add(f"{m.group(1)}.{m.group(2)}")
    return sorted(found)


def _builder_for(weights_enum: type) -> str:
    """重みの列挙型に対応する torchvision のモデル名 (``resnet18`` など)。"""
    from torchvision import models

    for name in models.list_models():
        if models.get_model_weights(name) is weights_enum:
            return name
    raise LookupError(f"{weights_enum.__name__} のモデルが見つかりません")


def checkpoint_path(weight: str, torch_home: Path) -> Path:
    """``weights=...`` が読むチェックポイントのパス (torch hub の約束どおり)。"""
    from torchvision.models import get_weight

    url = get_weight(weight).url
    return torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]


def write_weights(weight: str, torch_home: Path, seed: int = 0) -> Path:
    """``weight`` (例: ``"ResNet18_Weights.DEFAULT"``) の乱数の重みを書く。

    同じモデルを ``weights=None`` (検出モデルは ``weights_backbone=None``
    も) で作り、その ``state_dict`` を ``torch.save`` する。

    Returns:
        書いたファイル。
    """
    import torch
    from torchvision import models

    w = models.get_weight(weight)
    name = _builder_for(type(w))
    builder = models.get_model_builder(name)
    kwargs: dict[str, object] = {"weights": None}
    if "weights_backbone" in inspect.signature(builder).parameters:
        kwargs["weights_backbone"] = None
    if "categories" in w.meta:
        kwargs["num_classes"] = len(w.meta["categories"])
    torch.manual_seed(seed)
    model = builder(**kwargs)
    path = checkpoint_path(weight, torch_home)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


__all__ = [
    "CIFAR10_SIZES",
    "MNIST_SIZES",
    "checkpoint_path",
    "register_cifar10_checksums",
    "scaled_sizes",
    "weights_used",
    "write_cifar10",
    "write_mnist",
    "write_weights",
]
