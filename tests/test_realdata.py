"""dlbook.realdata のテスト: 実データのファイルの読み込み。

テストが本物の形式で書いた小さなファイルで確かめる (MNIST は idx 形式の
.gz、CIFAR-10 は Python の pickle)。ネットワークは使わない。
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10

from dlbook.data import CIFAR10_CLASSES, load_cifar10, load_mnist
from dlbook.realdata import DatasetUnavailableError

# --------------------------------------------------------------------------
# 本物の形式の小さなファイルを書く道具
# --------------------------------------------------------------------------


def _idx_bytes(arr: np.ndarray) -> bytes:
    """uint8 の配列を idx 形式 (ビッグエンディアン) のバイト列にする。"""
    magic = 0x0800 | arr.ndim  # 0x08 = unsigned byte
    header = struct.pack(">I", magic)
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _write_mnist(
    root: Path, n_train: int = 12, n_test: int = 5, gz: bool = True
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(
            0, 256, (n_train, 28, 28), dtype=np.uint8
        ),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(
            0, 256, (n_test, 28, 28), dtype=np.uint8
        ),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, np.uint8),
    }
    for name, arr in arrays.items():
        if gz:
            with gzip.open(raw / f"{name}.gz", "wb") as f:
                f.write(_idx_bytes(arr))
        else:
            (raw / name).write_bytes(_idx_bytes(arr))
    return arrays


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _write_cifar(
    root: Path, monkeypatch: pytest.MonkeyPatch, per_batch: int = 4
) -> tuple[np.ndarray, list[int]]:
    """cifar-10-batches-py/ を書き、torchvision の MD5 の表を差し替える。"""
    rng = np.random.default_rng(1)
    folder = root / CIFAR10.base_folder
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    all_data, all_labels = [], []
    for name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        entry = {"batch_label": name, "data": data, "labels": labels}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        all_data.append(data)
        all_labels += labels
    meta = {"label_names": ["airplane", "automobile", "bird", "cat",
                            "deer", "dog", "frog", "horse", "ship",
                            "truck"]}  # fmt: skip
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    # 本物の MD5 の代わりに、いま書いたファイルの MD5 を使わせる
    monkeypatch.setattr(
        CIFAR10, "train_list", [[n, _md5(folder / n)] for n in names[:5]]
    )
    test_list = [[names[5], _md5(folder / names[5])]]
    monkeypatch.setattr(CIFAR10, "test_list", test_list)
    monkeypatch.setattr(
        CIFAR10,
        "meta",
        {
            "filename": "batches.meta",
            "key": "label_names",
            "md5": _md5(folder / "batches.meta"),
        },
    )
    return np.concatenate(all_data), all_labels


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------


class TestLoadMnistReal:
    def test_reads_gz_in_torchvision_layout(self, tmp_path: Path) -> None:
        arrays = _write_mnist(tmp_path)
        b = load_mnist("real", root=tmp_path, download=False)
        X, y = b.train.tensors
        assert X.shape == (12, 1, 28, 28) and X.dtype == torch.float32
        assert y.dtype == torch.int64
        expected = arrays["train-images-idx3-ubyte"] / 255.0
        np.testing.assert_allclose(X[:, 0].numpy(), expected, atol=1e-6)
        np.testing.assert_array_equal(
            b.test.tensors[1].numpy(), arrays["t10k-labels-idx1-ubyte"]
        )
        assert b.info.source == "real" and b.info.name == "MNIST"
        assert b.info.describe() == (
            "MNIST (28×28 の手書き数字、訓練 12 枚・テスト 5 枚、10 クラス)"
        )

    def test_reads_uncompressed_files(self, tmp_path: Path) -> None:
        _write_mnist(tmp_path, gz=False)
        b = load_mnist("real", root=tmp_path, download=False, n_train=3)
        assert len(b.train) == 3 and len(b.test) == 5

    def test_missing_file_names_it(self, tmp_path: Path) -> None:
        _write_mnist(tmp_path)
        (tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(DatasetUnavailableError, match="t10k-labels"):
            load_mnist("real", root=tmp_path, download=False)

    def test_truncated_file_names_it(self, tmp_path: Path) -> None:
        _write_mnist(tmp_path, gz=False)
        path = tmp_path / "MNIST/raw/train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:500])
        with pytest.raises(
            DatasetUnavailableError,
            match="train-images-idx3-ubyte がない、または壊れています",
        ):
            load_mnist("real", root=tmp_path, download=False)

    def test_corrupt_gzip_names_it(self, tmp_path: Path) -> None:
        _write_mnist(tmp_path)
        path = tmp_path / "MNIST/raw/train-labels-idx1-ubyte.gz"
        path.write_bytes(b"not a gzip file")
        with pytest.raises(
            DatasetUnavailableError,
            match=r"train-labels-idx1-ubyte\.gz が壊れています",
        ):
            load_mnist("real", root=tmp_path, download=False)

    def test_auto_in_full_profile_never_falls_back(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DLBOOK_PROFILE", "full")
        with pytest.raises(DatasetUnavailableError, match="ありません"):
            load_mnist("auto", root=tmp_path, download=False)


class TestLoadCifar10Real:
    def test_reads_pickle_batches(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data, labels = _write_cifar(tmp_path, monkeypatch)
        b = load_cifar10("real", root=tmp_path, download=False)
        X, y = b.train.tensors
        assert X.shape == (20, 3, 32, 32) and X.dtype == torch.float32
        assert y.tolist() == labels[:20]
        expected = data[:20].reshape(20, 3, 32, 32) / 255.0
        np.testing.assert_allclose(X.numpy(), expected, atol=1e-6)
        assert len(b.test) == 4
        assert b.classes == list(CIFAR10_CLASSES)
        assert b.classes[0] == "飛行機" and b.classes[9] == "トラック"
        assert b.info.describe().startswith("CIFAR-10 (32×32 のカラー写真")

    def test_checksum_mismatch_names_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _write_cifar(tmp_path, monkeypatch)
        path = tmp_path / CIFAR10.base_folder / "data_batch_3"
        blob = bytearray(path.read_bytes())
        blob[-10] ^= 0xFF  # 1 バイト壊す
        path.write_bytes(bytes(blob))
        with pytest.raises(
            DatasetUnavailableError, match="data_batch_3 がない、または壊れ"
        ):
            load_cifar10("real", root=tmp_path, download=False)

    def test_missing_file_names_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _write_cifar(tmp_path, monkeypatch)
        (tmp_path / CIFAR10.base_folder / "test_batch").unlink()
        with pytest.raises(DatasetUnavailableError, match="test_batch"):
            load_cifar10("real", root=tmp_path, download=False)
