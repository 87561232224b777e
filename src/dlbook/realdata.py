"""実データのファイルを読む: MNIST (idx 形式) と CIFAR-10 (python 版)。

torchvision の ``MNIST`` / ``CIFAR10`` で読み、読めないときはどのファイルが
ない・壊れているかを名前で示す ``DatasetUnavailableError`` を出す
(黙って代用データに切り替えはしない)。``dlbook.data`` の ``load_mnist`` と
``load_cifar10`` が ``source="real"`` のときに使う。
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import torch


class DatasetUnavailableError(RuntimeError):
    """実データを読めない (ファイルがない・壊れている・ダウンロード失敗)。"""


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


def read_mnist(
    root: Path, download: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``root/MNIST/raw`` の idx ファイル (gzip でもよい) を読む。

    Args:
        root: データのディレクトリ (``dlbook.config.data_dir()`` など)。
        download: ファイルがないとき torchvision でダウンロードするか。

    Returns:
        ``(X_train, y_train, X_test, y_test)``。画素は 0〜1 の float32。

    Shape:
        - X_train, X_test: ``(N, 1, 28, 28)`` (本物の MNIST では N = 60000, 10000)
        - y_train, y_test: ``(N,)`` int64

    Raises:
        DatasetUnavailableError: ファイルがなく ``download=False`` のとき、
            またはファイルが壊れているとき (名前を示す)。
    """
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


def read_cifar10(
    root: Path, download: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``root/cifar-10-batches-py`` の Python 形式のバッチを読む。

    Args:
        root: データのディレクトリ (``dlbook.config.data_dir()`` など)。
        download: ファイルがないとき torchvision でダウンロードするか。

    Returns:
        ``(X_train, y_train, X_test, y_test)``。画素は 0〜1 の float32。

    Shape:
        - X_train, X_test: ``(N, 3, 32, 32)`` (本物の CIFAR-10 では N = 50000, 10000)
        - y_train, y_test: ``(N,)`` int64

    Raises:
        DatasetUnavailableError: ファイルがなく ``download=False`` のとき、
            またはファイルが壊れているとき (名前を示す)。
    """
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
