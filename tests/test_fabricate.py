"""dlbook_tools.fabricate のテスト: 偽の入力を本物の読み手 (torchvision) が読むか。

書いたファイルは dlbook.data と torchvision の ``MNIST``・``CIFAR10``・
``weights=...DEFAULT`` の本物のコードで読む。壊れた・足りないファイルは、
本物のときと同じく dlbook の明確なエラーになり、full プロファイルで代用
データに黙って切り替わらないことも確かめる。
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.datasets import CIFAR10, MNIST

from dlbook.data import load_cifar10, load_mnist
from dlbook.realdata import DatasetUnavailableError
from dlbook_tools import fabricate
from dlbook_tools.rehearsal import DEAD_PROXY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cifar_attrs(monkeypatch: pytest.MonkeyPatch) -> None:
    """register_cifar10_checksums が書き換える CIFAR10 のクラス属性を後で戻す。"""
    for name in ("train_list", "test_list", "meta"):
        monkeypatch.setattr(CIFAR10, name, getattr(CIFAR10, name))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """ダウンロードしようとすれば即座に失敗するようにする。"""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


class TestSizes:
    def test_scaled_sizes(self) -> None:
        assert fabricate.scaled_sizes((60_000, 10_000), 0.01) == (600, 100)
        assert fabricate.scaled_sizes((50_000, 10_000), 1e-4) == (20, 20)


class TestMnist:
    def test_torchvision_reads_it(self, tmp_path: Path) -> None:
        raw = fabricate.write_mnist(tmp_path, 60, 30, seed=1)
        assert raw == tmp_path / "MNIST" / "raw"
        train = MNIST(str(tmp_path), train=True, download=False)
        test = MNIST(str(tmp_path), train=False, download=False)
        assert tuple(train.data.shape) == (60, 28, 28)
        assert train.data.dtype == torch.uint8
        assert tuple(test.data.shape) == (30, 28, 28)
        assert sorted(set(train.targets.tolist())) == list(range(10))

    def test_load_mnist_real(self, tmp_path: Path) -> None:
        fabricate.write_mnist(tmp_path, 60, 30)
        bundle = load_mnist("real", tmp_path, download=False)
        assert bundle.info.name == "MNIST"
        assert (bundle.info.n_train, bundle.info.n_test) == (60, 30)
        assert "訓練 60 枚・テスト 30 枚" in bundle.info.describe()
        X = bundle.train.tensors[0]
        assert tuple(X.shape) == (60, 1, 28, 28)
        assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0

    def test_classes_are_learnable(self, tmp_path: Path) -> None:
        """クラスごとに帯の位置が違う (最も明るい行でクラスが決まる)。"""
        fabricate.write_mnist(tmp_path, 100, 20)
        X, y = load_mnist("real", tmp_path, download=False).train.tensors
        brightest = X[:, 0].mean(dim=2).argmax(dim=1)  # (N,)
        rows = torch.stack([brightest[y == c].median() for c in range(10)])
        assert len(set(rows.tolist())) == 10  # クラスごとに帯の行が違う

    def test_some_labels_disagree_with_images(self, tmp_path: Path) -> None:
        """ラベルの約 1 割は画像と合わない (正解率が 100% にならない)。"""
        fabricate.write_mnist(tmp_path, 1000, 20)
        X, y = load_mnist("real", tmp_path, download=False).train.tensors
        brightest = X[:, 0].mean(dim=2).argmax(dim=1)
        rows = {c: int(brightest[y == c].median()) for c in range(10)}
        agree = sum(
            abs(int(brightest[i]) - rows[int(y[i])]) <= 2
            for i in range(len(y))
        )  # 帯は 3 行あるので、最も明るい行は中央値から 2 行以内
        assert 0.8 < agree / len(y) < 0.97

    def test_same_seed_same_files(self, tmp_path: Path) -> None:
        a = fabricate.write_mnist(tmp_path / "a", 20, 20, seed=3)
        b = fabricate.write_mnist(tmp_path / "b", 20, 20, seed=3)
        for f in a.iterdir():
            assert f.read_bytes() == (b / f.name).read_bytes()

    def test_truncated_file_is_named(self, tmp_path: Path) -> None:
        raw = fabricate.write_mnist(tmp_path, 40, 20)
        bad = raw / "t10k-images-idx3-ubyte"
        bad.write_bytes(bad.read_bytes()[:500])
        with pytest.raises(
            DatasetUnavailableError, match="t10k-images-idx3-ubyte"
        ):
            load_mnist("real", tmp_path, download=False)

    def test_missing_file_is_named(self, tmp_path: Path) -> None:
        raw = fabricate.write_mnist(tmp_path, 40, 20)
        (raw / "train-labels-idx1-ubyte").unlink()
        with pytest.raises(
            DatasetUnavailableError, match="train-labels-idx1-ubyte"
        ):
            load_mnist("real", tmp_path, download=False)

    def test_full_profile_never_falls_back(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
    ) -> None:
        """full でデータがなければ、ダウンロードに失敗して止まる (digits にならない)。"""
        monkeypatch.setenv("DLBOOK_PROFILE", "full")
        monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
        with pytest.raises(DatasetUnavailableError, match="MNIST"):
            load_mnist()


class TestCifar10:
    def test_torchvision_reads_it(
        self, tmp_path: Path, cifar_attrs: None
    ) -> None:
        folder = fabricate.write_cifar10(tmp_path, 53, 20, seed=2)
        assert folder == tmp_path / "cifar-10-batches-py"
        names = {p.name for p in folder.iterdir()}
        assert {f for f, _ in CIFAR10.train_list + CIFAR10.test_list} <= names
        fabricate.register_cifar10_checksums(tmp_path)
        train = CIFAR10(str(tmp_path), train=True, download=False)
        test = CIFAR10(str(tmp_path), train=False, download=False)
        assert train.data.shape == (53, 32, 32, 3)
        assert test.data.shape == (20, 32, 32, 3)
        assert train.classes[0] == "airplane" and len(train.classes) == 10
        assert sorted(set(train.targets)) == list(range(10))

    def test_load_cifar10_real(
        self, tmp_path: Path, cifar_attrs: None
    ) -> None:
        fabricate.write_cifar10(tmp_path, 50, 20)
        fabricate.register_cifar10_checksums(tmp_path)
        bundle = load_cifar10("real", tmp_path, download=False, n_train=1000)
        assert bundle.info.name == "CIFAR-10"
        assert (bundle.info.n_train, bundle.info.n_test) == (50, 20)
        assert tuple(bundle.train.tensors[0].shape) == (50, 3, 32, 32)

    def test_unregistered_checksums_are_rejected(
        self, tmp_path: Path, cifar_attrs: None
    ) -> None:
        """登録しなければ、本物の MD5 の照合が偽のファイルを拒む。"""
        fabricate.write_cifar10(tmp_path, 50, 20)
        with pytest.raises(DatasetUnavailableError, match="MD5"):
            load_cifar10("real", tmp_path, download=False)

    def test_corrupt_batch_is_named(
        self, tmp_path: Path, cifar_attrs: None
    ) -> None:
        folder = fabricate.write_cifar10(tmp_path, 50, 20)
        fabricate.register_cifar10_checksums(tmp_path)
        bad = folder / "data_batch_3"
        bad.write_bytes(bad.read_bytes()[:-10])
        with pytest.raises(DatasetUnavailableError, match="data_batch_3"):
            load_cifar10("real", tmp_path, download=False)

    def test_missing_batch_is_named(
        self, tmp_path: Path, cifar_attrs: None
    ) -> None:
        folder = fabricate.write_cifar10(tmp_path, 50, 20)
        fabricate.register_cifar10_checksums(tmp_path)
        (folder / "test_batch").unlink()
        with pytest.raises(DatasetUnavailableError, match="test_batch"):
            load_cifar10("real", tmp_path, download=False)

    def test_register_needs_the_record(
        self, tmp_path: Path, cifar_attrs: None
    ) -> None:
        with pytest.raises(FileNotFoundError):
            fabricate.register_cifar10_checksums(tmp_path)


class TestWeights:
    def test_weights_used_by_the_book(self) -> None:
        sources = [
            *(ROOT / "book").glob("*.md"),
            *(ROOT / "src" / "dlbook").rglob("*.py"),
        ]
        used = fabricate.weights_used(sources)
        assert "ResNet18_Weights.DEFAULT" in used
        assert "FasterRCNN_ResNet50_FPN_Weights.DEFAULT" in used

    def test_checkpoint_name_is_the_url_name(self, tmp_path: Path) -> None:
        path = fabricate.checkpoint_path("ResNet18_Weights.DEFAULT", tmp_path)
        assert path.parent == tmp_path / "hub" / "checkpoints"
        assert path.name == "resnet18-f37072fd.pth"

    def test_resnet18_default_loads_them(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
    ) -> None:
        from torchvision.models import ResNet18_Weights, resnet18

        from dlbook.transfer import resnet18_for_transfer

        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        path = fabricate.write_weights(
            "ResNet18_Weights.DEFAULT", tmp_path, seed=5
        )
        saved = torch.load(path, weights_only=True)
        model = resnet18(weights=ResNet18_Weights.DEFAULT)  # strict に読む
        for name, value in model.state_dict().items():
            assert torch.equal(value, saved[name]), name
        net = resnet18_for_transfer(10, "feature_extraction")
        assert net.fc.out_features == 10
        assert torch.equal(net.conv1.weight, saved["conv1.weight"])

    def test_corrupt_checkpoint_fails_loud(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
    ) -> None:
        """壊れた重みで乱数の重みのまま進まない (読み込みが失敗する)。"""
        from torchvision.models import ResNet18_Weights, resnet18

        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        path = fabricate.write_weights("ResNet18_Weights.DEFAULT", tmp_path)
        path.write_bytes(path.read_bytes()[:1000])
        with pytest.raises(RuntimeError):
            resnet18(weights=ResNet18_Weights.DEFAULT)

    def test_missing_checkpoint_tries_download(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
    ) -> None:
        """重みがなければダウンロードしに行く (ここでは失敗する)。"""
        from torchvision.models import ResNet18_Weights, resnet18

        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        with pytest.raises(OSError):
            resnet18(weights=ResNet18_Weights.DEFAULT)

    @pytest.mark.slow
    def test_faster_rcnn_default_loads_them(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
    ) -> None:
        from dlbook.fasterrcnn import detect, load_faster_rcnn

        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        path = fabricate.write_weights(
            "FasterRCNN_ResNet50_FPN_Weights.DEFAULT", tmp_path
        )
        assert path.name == "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"
        model = load_faster_rcnn()
        saved = torch.load(path, weights_only=True)
        state = model.state_dict()
        for name in (
            "backbone.body.conv1.weight",
            "roi_heads.box_predictor.cls_score.weight",
        ):
            assert torch.equal(state[name], saved[name])
        (pred,) = detect(model, [torch.rand(3, 64, 80)], score_threshold=0.0)
        assert set(pred) == {"boxes", "scores", "labels"}
