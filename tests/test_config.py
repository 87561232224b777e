"""dlbook.config のテスト: シード・プロファイル・データの置き場所・デバイス。"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from dlbook import config


@pytest.fixture(autouse=True)
def _restore_global_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """乱数の状態と cuDNN の設定を、テストの後で元に戻す。"""
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002
    torch_state = torch.random.get_rng_state()
    cudnn = torch.backends.cudnn
    monkeypatch.setattr(cudnn, "deterministic", cudnn.deterministic)
    monkeypatch.setattr(cudnn, "benchmark", cudnn.benchmark)
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)  # noqa: NPY002
    torch.random.set_rng_state(torch_state)


def _draws(seed: int) -> tuple[float, np.ndarray, torch.Tensor, np.ndarray]:
    """シードを固定して、Python・NumPy・PyTorch と返り値の乱数を引く。"""
    rng = config.seed_everything(seed)
    return (
        random.random(),
        np.random.rand(3),  # noqa: NPY002 (古い API も固定されること)
        torch.rand(3),
        rng.random(3),
    )


class TestSeedEverything:
    def test_same_seed_same_draws(self) -> None:
        a, b = _draws(3), _draws(3)
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])
        assert torch.equal(a[2], b[2])
        np.testing.assert_array_equal(a[3], b[3])

    def test_other_seed_other_draws(self) -> None:
        a, c = _draws(3), _draws(4)
        assert a[0] != c[0]
        assert not np.array_equal(a[1], c[1])
        assert not torch.equal(a[2], c[2])
        assert not np.array_equal(a[3], c[3])

    def test_matches_each_library_seeded_directly(self) -> None:
        py, np_old, tr, gen = _draws(11)
        random.seed(11)
        assert py == random.random()
        np.random.seed(11)  # noqa: NPY002
        np.testing.assert_array_equal(np_old, np.random.rand(3))  # noqa: NPY002
        torch.manual_seed(11)
        assert torch.equal(tr, torch.rand(3))
        # 返り値はそのシードの np.random.Generator
        np.testing.assert_array_equal(gen, np.random.default_rng(11).random(3))

    def test_selects_deterministic_cudnn(self) -> None:
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = True
        config.seed_everything(0)
        assert torch.backends.cudnn.deterministic is True
        assert torch.backends.cudnn.benchmark is False


class TestProfile:
    def test_default_is_quick(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(config.PROFILE_ENV, raising=False)
        assert config.profile() == "quick"
        assert config.is_full() is False

    @pytest.mark.parametrize("value", ["quick", "full"])
    def test_known_values(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("DLBOOK_PROFILE", value)
        assert config.profile() == value
        assert config.is_full() is (value == "full")

    @pytest.mark.parametrize("value", ["fast", "ful", "debug"])
    def test_unknown_value_raises(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("DLBOOK_PROFILE", value)
        with pytest.raises(
            ValueError, match=rf"DLBOOK_PROFILE='{value}' は不正です"
        ):
            config.profile()
        with pytest.raises(ValueError, match="'quick' か 'full'"):
            config.is_full()


class TestDataDir:
    def test_honours_env_and_creates_it(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        target = tmp_path / "a" / "b" / "data"
        assert not target.exists()
        monkeypatch.setenv("DLBOOK_DATA", str(target))
        path = config.data_dir()
        assert path == target
        assert path.is_dir()
        # 既にあっても失敗しない
        assert config.data_dir() == target

    def test_expands_user(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("DLBOOK_DATA", "~/dl-data")
        assert config.data_dir() == tmp_path / "dl-data"
        assert (tmp_path / "dl-data").is_dir()

    def test_default_under_home_cache(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("DLBOOK_DATA", raising=False)
        path = config.data_dir()
        assert path == tmp_path / ".cache" / "dlbook"
        assert path.is_dir()


class TestDevice:
    def test_device_name_consistent_with_device(self) -> None:
        dev = config.device()
        assert isinstance(dev, torch.device)
        assert dev.type in ("cuda", "mps", "cpu")
        name = config.device_name()
        assert isinstance(name, str) and name.strip()
        assert name == config.device_name(dev)
        if dev.type == "cpu":
            assert name == "CPU"
            assert not torch.cuda.is_available()
        elif dev.type == "cuda":
            assert name == torch.cuda.get_device_name(dev)
        else:
            assert name == "Apple MPS"

    def test_cpu_name(self) -> None:
        assert config.device_name(torch.device("cpu")) == "CPU"

    def test_tensor_can_be_placed_on_device(self) -> None:
        x = torch.ones(2, device=config.device())
        assert x.device.type == config.device().type


class TestRehearsalScale:
    """リハーサルの大きさのつまみ (DLBOOK_REHEARSAL_SCALE)。"""

    def test_unset_means_no_shrinking(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(config.REHEARSAL_ENV, raising=False)
        monkeypatch.setenv(config.PROFILE_ENV, "full")
        assert config.rehearsal_scale() == 1.0
        assert config.by_profile(quick=5, full=30) == 30

    @pytest.mark.parametrize("raw", ["0", "-0.1", "1.5", "nan", "abc"])
    def test_bad_values_are_rejected(
        self, raw: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(config.REHEARSAL_ENV, raw)
        with pytest.raises(ValueError, match=config.REHEARSAL_ENV):
            config.rehearsal_scale()

    @pytest.mark.parametrize(
        ("scale", "full", "expected"),
        [
            ("0.01", 30, 2),
            ("0.1", 30, 3),
            ("0.5", 15, 8),
            ("1", 30, 30),
            ("0.5", 1, 1),
        ],
    )
    def test_full_values_shrink(
        self,
        scale: str,
        full: int,
        expected: int,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv(config.PROFILE_ENV, "full")
        monkeypatch.setenv(config.REHEARSAL_ENV, scale)
        assert config.by_profile(quick=5, full=full) == expected

    def test_quick_ignores_the_knob(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(config.PROFILE_ENV, "quick")
        monkeypatch.setenv(config.REHEARSAL_ENV, "0.01")
        assert config.by_profile(quick=5, full=30) == 5
