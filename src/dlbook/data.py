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

import gzip
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from dlbook.config import data_dir, profile

Source = Literal["auto", "real", "embedded"]

MNIST_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
CIFAR10_CLASSES: tuple[str, ...] = (
    "飛行機", "自動車", "鳥", "猫", "鹿", "犬", "蛙", "馬", "船", "トラック",
)  # fmt: skip
SHAPES10_CLASSES: tuple[str, ...] = (
    "円", "リング", "正方形", "三角形", "十字",
    "バツ印", "横縞", "縦縞", "市松模様", "水玉",
)  # fmt: skip


class DatasetUnavailableError(RuntimeError):
    """実データを読めない (ファイルがない・壊れている・ダウンロード失敗)。"""


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

MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _gunzip_missing(raw: Path) -> None:
    """``.gz`` だけがあるファイルを展開する (torchvision は展開済みを読む)。"""
    for name in MNIST_FILES:
        target, packed = raw / name, raw / f"{name}.gz"
        if target.is_file() or not packed.is_file():
            continue
        tmp = target.with_suffix(".part")
        try:
            with gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except (OSError, EOFError) as err:
            tmp.unlink(missing_ok=True)
            raise DatasetUnavailableError(
                f"MNIST のファイル {packed} が壊れています (gzip を展開"
                "できません)。削除してダウンロードし直してください。"
            ) from err
        tmp.replace(target)


def _load_mnist_real(
    root: Path, download: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = root / "MNIST" / "raw"
    if raw.is_dir():
        _gunzip_missing(raw)
    missing = [n for n in MNIST_FILES if not (raw / n).is_file()]
    if missing and not download:
        raise DatasetUnavailableError(
            f"MNIST のファイルがありません: {raw / missing[0]} "
            f"(ほか {len(missing) - 1} 個)。download=True にするか、"
            f"{raw} に {', '.join(missing)} (.gz でも可) を置いてください。"
        )
    try:
        train = MNIST(str(root), train=True, download=download)
        test = MNIST(str(root), train=False, download=download)
    except Exception as err:
        # どのファイルが読めないかを突き止めて名前を出す
        for n in MNIST_FILES:
            path = raw / n
            reader = read_image_file if "images" in n else read_label_file
            try:
                reader(str(path))
            except Exception:
                msg = f"MNIST のファイル {path} がない、または壊れています"
                raise DatasetUnavailableError(f"{msg}: {err}") from err
        raise DatasetUnavailableError(
            f"MNIST を {raw} から読み込めません: {err}"
        ) from err
    for ds, split in ((train, "train"), (test, "t10k")):
        if ds.data.ndim != 3 or len(ds.data) != len(ds.targets):
            raise DatasetUnavailableError(
                f"MNIST のファイル {raw / f'{split}-images-idx3-ubyte'} と "
                f"{raw / f'{split}-labels-idx1-ubyte'} の枚数が合いません "
                f"({len(ds.data)} 枚と {len(ds.targets)} 個)。"
            )
    X_train = train.data.float().div(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    X_test = test.data.float().div(255.0).unsqueeze(1)
    return X_train, train.targets.long(), X_test, test.targets.long()


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
        X_tr, y_tr, X_te, y_te = _load_mnist_real(base, download)
        name, title = "MNIST", "MNIST"
        side = image_size or 28
        note = "28×28 の手書き数字"
        if side != 28:
            note = f"28×28 を {side}×{side} に変換した手書き数字"
    else:
        X_tr, y_tr, X_te, y_te = _load_digits(seed)
        name, title = "digits", "scikit-learn の手書き数字"
        side = image_size or 28
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


def _load_cifar10_real(
    root: Path, download: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity as md5_ok

    folder = root / CIFAR10.base_folder
    files = [
        *CIFAR10.train_list,
        *CIFAR10.test_list,
        [CIFAR10.meta["filename"], CIFAR10.meta["md5"]],
    ]
    missing = [f for f, _ in files if not (folder / f).is_file()]
    if missing and not download:
        raise DatasetUnavailableError(
            f"CIFAR-10 のファイルがありません: {folder / missing[0]} "
            f"(ほか {len(missing) - 1} 個)。download=True にするか、"
            f"cifar-10-python.tar.gz を {root} に展開してください。"
        )
    try:
        train = CIFAR10(str(root), train=True, download=download)
        test = CIFAR10(str(root), train=False, download=False)
    except Exception as err:
        bad = [f for f, md5 in files if not md5_ok(str(folder / f), md5)]
        if bad:
            raise DatasetUnavailableError(
                f"CIFAR-10 のファイル {folder / bad[0]} がない、または壊れて"
                f"います (MD5 が一致しません。該当 {len(bad)} 個: "
                f"{', '.join(bad)})。削除してダウンロードし直してください。"
            ) from err
        raise DatasetUnavailableError(
            f"CIFAR-10 を {folder} から読み込めません: {err}"
        ) from err
    # torchvision は (N, 32, 32, 3) の uint8 で持つ → (N, 3, 32, 32) の float
    X_train = torch.from_numpy(train.data).permute(0, 3, 1, 2).float() / 255.0
    X_test = torch.from_numpy(test.data).permute(0, 3, 1, 2).float() / 255.0
    y_train = torch.tensor(train.targets, dtype=torch.int64)
    y_test = torch.tensor(test.targets, dtype=torch.int64)
    return X_train, y_train, X_test, y_test


def _sd_shape(
    label: int,
    u: np.ndarray,
    v: np.ndarray,
    R: np.ndarray,
) -> np.ndarray:
    """図形 ``label`` の符号付き距離 (内側が負)。

    Shape:
        - u, v: :math:`(n, H, W)` 図形の中心を原点とし回転させた座標
        - R: :math:`(n, 1, 1)` 図形の大きさ
    """
    r = np.sqrt(u**2 + v**2)
    w = 0.28 * R  # 線の太さ
    if label == 0:  # 円
        return r - R
    if label == 1:  # リング
        return np.abs(r - 0.8 * R) - 0.5 * w
    if label == 2:  # 正方形
        return np.maximum(np.abs(u), np.abs(v)) - 0.8 * R
    if label == 3:  # 三角形 (正三角形、3 つの半平面の共通部分)
        angles = np.pi / 2 + 2 * np.pi / 3 * np.arange(3)
        d = [u * np.cos(a) + v * np.sin(a) - 0.55 * R for a in angles]
        return np.maximum(np.maximum(d[0], d[1]), d[2])
    if label in (4, 5):  # 十字とバツ印 (45 度回したもの)
        if label == 5:
            u, v = (u - v) / np.sqrt(2), (u + v) / np.sqrt(2)
        bar1 = np.maximum(np.abs(u) - 0.5 * w, np.abs(v) - R)
        bar2 = np.maximum(np.abs(v) - 0.5 * w, np.abs(u) - R)
        return np.minimum(bar1, bar2)
    raise ValueError(f"図形のラベルは 0〜5 です: {label}")


def _texture(
    label: int, u: np.ndarray, v: np.ndarray, period: np.ndarray
) -> np.ndarray:
    """模様 ``label`` (6〜9) の濃さ [-1, 1] (正が前景)。

    Shape:
        - u, v: :math:`(n, H, W)`、period: :math:`(n, 1, 1)`
    """
    k = 2 * np.pi / period
    if label == 6:  # 横縞
        return np.sin(k * v)
    if label == 7:  # 縦縞
        return np.sin(k * u)
    if label == 8:  # 市松模様
        return np.sin(k * u) * np.sin(k * v) * 2.0
    if label == 9:  # 水玉
        return (np.cos(k * u) * np.cos(k * v) - 0.35) * 2.0
    raise ValueError(f"模様のラベルは 6〜9 です: {label}")


def make_shapes10(
    n: int, seed: int, size: int = 32, noise: float = 0.10
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 の代わりに使う、生成したカラー画像 10 クラス。

    クラス 0〜5 は図形 (円・リング・正方形・三角形・十字・バツ印)、
    6〜9 は正方形の領域に描いた模様 (横縞・縦縞・市松模様・水玉)。
    位置・大きさ・回転 (±20°)・前景と背景の色・背景の濃淡は画像ごとに
    ランダムで、色はクラスと無関係である (形を見ないと当たらない)。
    さらにガウス雑音と小さな斑点 (邪魔もの) を加える。

    Args:
        n: 枚数 (クラスごとにほぼ同数)。
        seed: 乱数シード (同じ値なら同じテンソル)。
        size: 画像の一辺。
        noise: ガウス雑音の標準偏差 (大きいほど難しい)。

    Returns:
        ``(X, y)``。並びはシャッフル済み。

    Shape:
        - X: :math:`(n, 3, size, size)` float32、値は [0, 1]
        - y: :math:`(n,)` int64
    """
    if n <= 0:
        raise ValueError(f"枚数 n は正の整数です: {n}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 10)  # (n,)
    X = np.empty((n, 3, size, size), dtype=np.float32)
    axis = (np.arange(size) + 0.5) / size * 2 - 1  # 画素の中心, [-1, 1]
    yy, xx = np.meshgrid(axis, axis, indexing="ij")  # (H, W)
    pixel = 2.0 / size  # 1 画素の幅 (座標の単位で)
    for label in range(10):
        idx = np.flatnonzero(y == label)
        m = len(idx)
        if m == 0:
            continue

        def col(lo: float, hi: float, k: int = m) -> np.ndarray:
            return rng.uniform(lo, hi, size=(k, 1, 1))

        cx, cy = col(-0.3, 0.3), col(-0.3, 0.3)
        R = col(0.35, 0.7)
        theta = col(-np.pi / 9, np.pi / 9)
        dx, dy = xx - cx, yy - cy  # (m, H, W)
        u = np.cos(theta) * dx + np.sin(theta) * dy
        v = -np.sin(theta) * dx + np.cos(theta) * dy
        if label < 6:
            sd = _sd_shape(label, u, v, R)  # (m, H, W)
        else:
            region = np.maximum(np.abs(u), np.abs(v)) - 0.9 * R
            pattern = _texture(label, u, v, col(0.22, 0.4))
            sd = np.maximum(region, -pattern * pixel)
        # 符号付き距離 → 0〜1 の被覆率 (境界を 1 画素ほどぼかす)
        mask = 1.0 / (1.0 + np.exp(np.clip(sd / (0.5 * pixel), -30, 30)))
        bg = rng.uniform(0.0, 1.0, size=(m, 3, 1, 1))
        fg = rng.uniform(0.0, 1.0, size=(m, 3, 1, 1))
        # 前景と背景が近すぎるときは前景を反対側へ押しやる
        diff = fg - bg
        close = np.abs(diff).max(axis=1, keepdims=True) < 0.35
        pushed = np.clip(bg + np.sign(diff + 1e-6) * 0.45, 0, 1)
        fg = np.where(close, pushed, fg)
        # 背景の濃淡 (ランダムな向きの傾き)
        phi = rng.uniform(0, 2 * np.pi, size=(m, 1, 1))
        ramp = 0.15 * (np.cos(phi) * xx + np.sin(phi) * yy)  # (m, H, W)
        img = bg + ramp[:, None] + (fg - bg) * mask[:, None]  # (m, 3, H, W)
        # 邪魔ものの斑点 (クラスと無関係な小さな円) を 0〜2 個
        for _ in range(2):
            present = rng.random((m, 1, 1, 1)) < 0.5
            bx, by = col(-1, 1), col(-1, 1)
            br = col(0.08, 0.18)
            blob = ((xx - bx) ** 2 + (yy - by) ** 2 < br**2)[:, None]
            color = rng.uniform(0, 1, size=(m, 3, 1, 1))
            img = np.where(present & blob, color, img)
        img = img + noise * rng.standard_normal(img.shape)
        X[idx] = np.clip(img, 0.0, 1.0)
    return torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))


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
        X_tr, y_tr, X_te, y_te = _load_cifar10_real(base, download)
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
