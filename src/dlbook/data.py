"""データセットの読み込み: MNIST・CIFAR-10 と、その代わりの同梱・生成データ。

本書のコードセルは次の 1 行でデータを得る::

    bundle = load_mnist()            # または load_cifar10()
    print(bundle.info.describe())    # 何のデータで実行したかを日本語で

``source`` の意味:

- ``"real"``: torchvision の ``MNIST`` / ``CIFAR10`` で実データを読む
  (``download=True`` ならダウンロードし、``data_dir()`` の下に保存する)。
  読めなければ、足りない・壊れたファイルの名前を添えて
  ``DatasetUnavailableError`` を出す。黙って代用データに切り替えはしない。
- ``"embedded"``: ネットワークのいらない代用データ。MNIST の代わりは
  scikit-learn 同梱の手書き数字 (8×8 を 28×28 に拡大)、CIFAR-10 の代わりは
  乱数で生成する 32×32 のカラー図形 10 クラス (``make_shapes10``)。
- ``"auto"`` (既定): ``full`` プロファイルなら ``"real"``、
  ``quick`` プロファイルなら ``"embedded"``。

どちらの場合も、画像は ``(N, C, H, W)`` の float32 テンソル (値は [0, 1]、
``normalize=True`` なら訓練データの平均と標準偏差で標準化)、
ラベルは ``(N,)`` の int64 テンソルで返る。
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from dlbook.config import data_dir, profile
from dlbook.realdata import DatasetUnavailableError, read_cifar10, read_mnist
from dlbook.shapes10 import SHAPES10_CLASSES, make_shapes10

__all__ = [
    "CIFAR10_CLASSES",
    "MNIST_CLASSES",
    "SHAPES10_CLASSES",
    "DataBundle",
    "DatasetInfo",
    "DatasetUnavailableError",
    "channel_stats",
    "denormalize",
    "load_cifar10",
    "load_mnist",
    "make_loaders",
    "make_shapes10",
    "normalize",
]

Source = Literal["auto", "real", "embedded"]

MNIST_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
CIFAR10_CLASSES: tuple[str, ...] = (
    "飛行機", "自動車", "鳥", "猫", "鹿", "犬", "蛙", "馬", "船", "トラック",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetInfo:
    """データセットの説明。本文はこれを glue して「何で実行したか」を述べる。

    Attributes:
        name: 機械向けの名前 (``"MNIST"``, ``"digits"``, ``"CIFAR-10"``,
            ``"shapes10"``)。
        title: 人向けの名前 (日本語)。
        source: ``"real"`` (実データ) か ``"embedded"`` (代用データ)。
        n_train: 訓練画像の枚数。
        n_test: テスト画像の枚数。
        image_shape: 1 枚の画像の形 ``(C, H, W)``。
        classes: クラス名 (日本語)。
        mean: 訓練データのチャネルごとの平均 (標準化の前の値)。
        std: 訓練データのチャネルごとの標準偏差 (標準化の前の値)。
        normalized: 返した画像を ``(x - mean) / std`` で標準化したか。
        note: 画像についての補足 (例: ``"8×8 を 28×28 に拡大"``)。
    """

    name: str
    title: str
    source: Literal["real", "embedded"]
    n_train: int
    n_test: int
    image_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    normalized: bool
    note: str

    @property
    def n_classes(self) -> int:
        """クラス数。"""
        return len(self.classes)

    def describe(self) -> str:
        """本文に埋め込む日本語の説明を返す。

        例: ``"scikit-learn の手書き数字 (8×8 を 28×28 に拡大、
        訓練 1,437 枚・テスト 360 枚、10 クラス)"``
        """
        return (
            f"{self.title} ({self.note}、訓練 {self.n_train:,} 枚・"
            f"テスト {self.n_test:,} 枚、{self.n_classes} クラス)"
        )


@dataclass(frozen=True)
class DataBundle:
    """訓練・テストのデータセットと説明の組。

    Attributes:
        train: 訓練データ ``TensorDataset(X, y)``。
        test: テストデータ ``TensorDataset(X, y)``。
        classes: クラス名 (``info.classes`` と同じ、リスト)。
        info: データセットの説明。

    Shape:
        - ``train.tensors[0]``: :math:`(N, C, H, W)` float32
        - ``train.tensors[1]``: :math:`(N,)` int64
    """

    train: TensorDataset
    test: TensorDataset
    classes: list[str]
    info: DatasetInfo


# --------------------------------------------------------------------------
# 標準化とデータローダ
# --------------------------------------------------------------------------


def channel_stats(
    X: torch.Tensor,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """チャネルごとの平均と標準偏差を返す。

    Args:
        X: 画像。

    Returns:
        ``(mean, std)``。それぞれ長さ ``C`` のタプル。

    Shape:
        - X: :math:`(N, C, H, W)`
    """
    mean = X.mean(dim=(0, 2, 3))  # (C,)
    std = X.std(dim=(0, 2, 3))  # (C,)
    return tuple(mean.tolist()), tuple(std.tolist())


def normalize(
    X: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """チャネルごとに :math:`(x - \\mu_c) / \\sigma_c` で標準化する。

    Shape:
        - X: :math:`(N, C, H, W)` → 出力も同じ形
    """
    m = torch.tensor(mean, dtype=X.dtype).view(1, -1, 1, 1)  # (1, C, 1, 1)
    s = torch.tensor(std, dtype=X.dtype).view(1, -1, 1, 1)
    return (X - m) / s


def denormalize(
    X: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """``normalize`` の逆変換 (表示用に [0, 1] の画素値へ戻す)。

    Shape:
        - X: :math:`(N, C, H, W)` → 出力も同じ形
    """
    m = torch.tensor(mean, dtype=X.dtype).view(1, -1, 1, 1)  # (1, C, 1, 1)
    s = torch.tensor(std, dtype=X.dtype).view(1, -1, 1, 1)
    return X * s + m


def make_loaders(
    bundle: DataBundle,
    batch_size: int,
    seed: int,
    test_batch_size: int | None = None,
    num_workers: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """訓練用 (シャッフルあり) とテスト用 (シャッフルなし) のローダを作る。

    シャッフルの順序は ``seed`` で決まる (同じ ``seed`` なら同じ順序)。

    Args:
        bundle: ``load_mnist`` などの戻り値。
        batch_size: 訓練のミニバッチの大きさ。
        seed: シャッフル用の乱数シード。
        test_batch_size: テストのミニバッチの大きさ (既定は ``batch_size``
            の 4 倍。勾配を持たないので大きくてよい)。
        num_workers: 読み込みのプロセス数 (テンソルのデータなので 0 で十分)。

    Returns:
        ``(train_loader, test_loader)``。
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size は正の整数です: {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        bundle.train,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=num_workers,
    )
    test_loader = DataLoader(
        bundle.test,
        batch_size=test_batch_size or 4 * batch_size,
        shuffle=False,
        num_workers=num_workers,
    )
    return train_loader, test_loader


# --------------------------------------------------------------------------
# 共通の組み立て
# --------------------------------------------------------------------------


def _resolve_source(source: str) -> Literal["real", "embedded"]:
    if source == "auto":
        return "real" if profile() == "full" else "embedded"
    if source in ("real", "embedded"):
        return source  # type: ignore[return-value]
    raise ValueError(
        f"source={source!r} は不正です。"
        "'auto', 'real', 'embedded' のいずれかを指定してください。"
    )


def _resize(X: torch.Tensor, size: int) -> torch.Tensor:
    """正方形の画像を ``size``×``size`` に双線形補間で拡大・縮小する。"""
    if X.shape[-1] == size and X.shape[-2] == size:
        return X
    if size <= 0:
        raise ValueError(f"image_size は正の整数です: {size}")
    shrink = size < X.shape[-1]
    out = F.interpolate(
        X, size=(size, size), mode="bilinear", align_corners=False,
        antialias=shrink,
    )  # fmt: skip
    return out.clamp(0.0, 1.0)  # (N, C, size, size)


def _head(n: int | None, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """先頭の ``n`` 件だけにする (``None`` なら全件)。"""
    if n is None:
        return list(tensors)
    if n <= 0:
        raise ValueError(f"枚数の上限は正の整数です: {n}")
    return [t[:n] for t in tensors]


def _bundle(
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    name: str,
    title: str,
    source: Literal["real", "embedded"],
    classes: Sequence[str],
    note: str,
    normalize_images: bool,
) -> DataBundle:
    mean, std = channel_stats(X_train)
    if normalize_images:
        X_train = normalize(X_train, mean, std)
        X_test = normalize(X_test, mean, std)
    C, H, W = X_train.shape[1:]
    info = DatasetInfo(
        name=name,
        title=title,
        source=source,
        n_train=len(y_train),
        n_test=len(y_test),
        image_shape=(C, H, W),
        classes=tuple(classes),
        mean=mean,
        std=std,
        normalized=normalize_images,
        note=note,
    )
    return DataBundle(
        train=TensorDataset(X_train.contiguous(), y_train),
        test=TensorDataset(X_test.contiguous(), y_test),
        classes=list(classes),
        info=info,
    )


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------


def _load_digits(
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn の手書き数字 (1,797 枚、8×8、画素値 0〜16)。

    クラスの比率を保って 8:2 に分ける (訓練 1,437 枚・テスト 360 枚)。
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8), [0, 1]
    y = digits.target.astype(np.int64)  # (1797,)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y
    )
    return (
        torch.from_numpy(X_tr).unsqueeze(1),  # (1437, 1, 8, 8)
        torch.from_numpy(y_tr),
        torch.from_numpy(X_te).unsqueeze(1),  # (360, 1, 8, 8)
        torch.from_numpy(y_te),
    )


def load_mnist(
    source: Source = "auto",
    root: str | Path | None = None,
    *,
    download: bool = True,
    image_size: int | None = None,
    normalize: bool = False,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
) -> DataBundle:
    """手書き数字のデータを読み込む (MNIST、またはその代用)。

    代用データ (``source="embedded"``) は scikit-learn 同梱の手書き数字
    (8×8、1,797 枚) を双線形補間で 28×28 に拡大したもので、MNIST と同じ形
    ``(N, 1, 28, 28)`` になる。同じモデル (``MLP(784, 128, 10)``、
    ``LeNet5``) がどちらでもそのまま動く。元の 8×8 が欲しければ
    ``image_size=8`` (このとき ``MLP(64, ...)``)。

    Args:
        source: ``"auto"``, ``"real"``, ``"embedded"`` (モジュールの説明)。
        root: 実データの置き場所 (既定 ``dlbook.data_dir()``)。
            torchvision の約束どおり ``<root>/MNIST/raw/`` に置く。
        download: 実データがなければダウンロードするか。
        image_size: 画像の一辺 (既定は MNIST が 28、代用データも 28)。
        normalize: 訓練データの平均・標準偏差で標準化するか。
        n_train: 訓練データの枚数の上限 (先頭から取る。``None`` なら全部)。
        n_test: テストデータの枚数の上限。
        seed: 代用データの訓練・テストの分け方を決める乱数シード。

    Returns:
        ``DataBundle``。クラス名は ``"0"``〜``"9"``。

    Raises:
        DatasetUnavailableError: 実データを読めないとき
            (``source="real"``、または ``full`` プロファイルの ``"auto"``)。
        ValueError: ``source`` が不正なとき。

    Shape:
        - 画像: :math:`(N, 1, H, W)` float32、ラベル: :math:`(N,)` int64
    """
    kind = _resolve_source(source)
    if kind == "real":
        base = Path(root) if root is not None else data_dir()
        X_tr, y_tr, X_te, y_te = read_mnist(base, download)
        name, title = "MNIST", "MNIST"
        side = 28 if image_size is None else image_size
        note = "28×28 の手書き数字"
        if side != 28:
            note = f"28×28 を {side}×{side} に変換した手書き数字"
    else:
        X_tr, y_tr, X_te, y_te = _load_digits(seed)
        name, title = "digits", "scikit-learn の手書き数字"
        side = 28 if image_size is None else image_size
        note = f"8×8 を {side}×{side} に拡大" if side != 8 else "8×8"
    X_tr, y_tr = _head(n_train, X_tr, y_tr)
    X_te, y_te = _head(n_test, X_te, y_te)
    return _bundle(
        _resize(X_tr, side),
        y_tr,
        _resize(X_te, side),
        y_te,
        name=name,
        title=title,
        source=kind,
        classes=MNIST_CLASSES,
        note=note,
        normalize_images=normalize,
    )


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------


def load_cifar10(
    source: Source = "auto",
    root: str | Path | None = None,
    *,
    download: bool = True,
    normalize: bool = False,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    n_embedded: tuple[int, int] = (5000, 1000),
    noise: float = 0.10,
) -> DataBundle:
    """32×32 のカラー画像 10 クラスを読み込む (CIFAR-10、またはその代用)。

    実データのクラス名は日本語 (飛行機, 自動車, …, トラック)。
    代用データ (``source="embedded"``) は ``make_shapes10`` が生成する
    図形と模様の 10 クラスで、クラス名もそれに合わせる
    (円, リング, …, 水玉)。形はどちらも ``(N, 3, 32, 32)``。

    Args:
        source: ``"auto"``, ``"real"``, ``"embedded"``。
        root: 実データの置き場所 (既定 ``dlbook.data_dir()``)。
            ``<root>/cifar-10-batches-py/`` に置く。
        download: 実データがなければダウンロードするか。
        normalize: 訓練データの平均・標準偏差で標準化するか。
        n_train: 訓練データの枚数の上限 (先頭から)。
        n_test: テストデータの枚数の上限。
        seed: 代用データの乱数シード (テストは ``seed + 1`` で生成)。
        n_embedded: 代用データの (訓練, テスト) の枚数。
        noise: 代用データのガウス雑音の標準偏差。

    Returns:
        ``DataBundle``。

    Raises:
        DatasetUnavailableError: 実データを読めないとき。
        ValueError: ``source`` が不正なとき。

    Shape:
        - 画像: :math:`(N, 3, 32, 32)` float32、ラベル: :math:`(N,)` int64
    """
    kind = _resolve_source(source)
    if kind == "real":
        base = Path(root) if root is not None else data_dir()
        X_tr, y_tr, X_te, y_te = read_cifar10(base, download)
        name, title, classes = "CIFAR-10", "CIFAR-10", CIFAR10_CLASSES
        note = "32×32 のカラー写真"
    else:
        X_tr, y_tr = make_shapes10(n_embedded[0], seed=seed, noise=noise)
        X_te, y_te = make_shapes10(n_embedded[1], seed=seed + 1, noise=noise)
        name, classes = "shapes10", SHAPES10_CLASSES
        title = "生成した図形と模様の画像"
        note = "32×32 のカラー、雑音入り"
    X_tr, y_tr = _head(n_train, X_tr, y_tr)
    X_te, y_te = _head(n_test, X_te, y_te)
    return _bundle(
        X_tr,
        y_tr,
        X_te,
        y_te,
        name=name,
        title=title,
        source=kind,
        classes=classes,
        note=note,
        normalize_images=normalize,
    )
