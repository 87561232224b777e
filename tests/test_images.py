"""dlbook.images のテスト (scikit-image と比べる)。"""

import numpy as np
import pytest
import torch
from skimage.color import rgb2gray
from skimage.filters import threshold_otsu

from dlbook import images


class TestGrayscale:
    def test_matches_skimage(self) -> None:
        img = images.load_photo("astronaut")
        np.testing.assert_allclose(
            images.to_grayscale(img), rgb2gray(img), atol=1e-6
        )

    def test_rejects_gray_input(self) -> None:
        with pytest.raises(ValueError, match="RGB"):
            images.to_grayscale(np.zeros((4, 4)))


class TestBinary:
    def test_otsu_close_to_skimage(self) -> None:
        gray = images.to_float(images.load_photo("camera"))
        assert (
            abs(images.otsu_threshold(gray) - threshold_otsu(gray)) < 2 / 255
        )

    def test_values_are_zero_or_one(self) -> None:
        b = images.to_binary(
            np.linspace(0, 1, 100).reshape(10, 10), threshold=0.5
        )
        assert set(np.unique(b)) == {0, 1}
        assert b.sum() == 50


class TestLayout:
    @pytest.mark.parametrize("shape", [(5, 7, 3), (5, 7)])
    def test_round_trip(self, shape: tuple[int, ...]) -> None:
        img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        x = images.hwc_to_nchw(img)
        c = shape[2] if len(shape) == 3 else 1
        assert x.shape == (1, c, 5, 7)
        back = images.nchw_to_hwc(x)
        np.testing.assert_allclose(back.reshape(shape), img / 255.0, atol=1e-7)

    def test_normalize_per_channel(self) -> None:
        x = torch.rand(2, 3, 4, 4)
        y = images.normalize(x, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
        torch.testing.assert_close(y, (x - 0.5) / 0.25)

    def test_normalize_rejects_wrong_channels(self) -> None:
        with pytest.raises(ValueError, match="N, 3, H, W"):
            images.normalize(torch.rand(1, 1, 4, 4))

    def test_unknown_photo(self) -> None:
        with pytest.raises(ValueError, match="未知の写真"):
            images.load_photo("lena")
