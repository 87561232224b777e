"""dlbook.windows のテスト: 窓の view による im2col を教科書版と比べる。"""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.conv import col2im, conv_output_size, im2col
from dlbook.windows import Windows

# (B, C, H, W, FH, FW, stride, pad)
CASES = [
    (2, 3, 7, 7, 3, 3, 1, 1),
    (3, 2, 8, 6, 3, 2, 1, 0),
    (2, 2, 9, 7, 3, 3, 2, 1),
    (1, 3, 5, 8, 1, 1, 1, 0),
    (2, 1, 6, 6, 4, 4, 3, 2),
]
IDS = ["B{}C{}H{}W{}FH{}FW{}S{}P{}".format(*c) for c in CASES]


def setup(case: tuple[int, ...], seed: int = 0):
    B, C, H, W, FH, FW, S, P = case
    x = np.random.default_rng(seed).standard_normal((B, C, H, W))
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    xp_c = np.ascontiguousarray(xp.transpose(1, 0, 2, 3))  # (C, B, Hp, Wp)
    windows = Windows(C, FH, FW, S, H + 2 * P, W + 2 * P)
    return x, xp_c, windows


def valid_columns(windows: Windows, col: np.ndarray, B: int) -> np.ndarray:
    """Windows の列からごみを除き、im2col と同じ (K, B*OH*OW) に並べる。"""
    K = col.shape[0]
    img = windows.to_image(col, B)  # (B, K, OH, OW)
    return img.transpose(1, 0, 2, 3).reshape(K, -1)


class TestWindows:
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_im2col_matches_textbook_version(self, case: tuple) -> None:
        B, C, H, W, FH, FW, S, P = case
        x, xp_c, windows = setup(case)
        assert windows.OH == conv_output_size(H, FH, S, P)
        assert windows.OW == conv_output_size(W, FW, S, P)
        col = np.empty((C * FH * FW, windows.size(B)))
        windows.im2col(xp_c, out=col)
        np.testing.assert_array_equal(
            valid_columns(windows, col, B), im2col(x, FH, FW, S, P)
        )

    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_col2im_matches_textbook_version(self, case: tuple) -> None:
        B, C, H, W, FH, FW, S, P = case
        _, xp_c, windows = setup(case)
        rng = np.random.default_rng(1)
        dcol = rng.standard_normal((C * FH * FW, windows.size(B)))
        # ごみの位置の勾配は 0 (Conv2d では from_image がそうする)
        dense = valid_columns(windows, dcol, B).copy()
        windows.from_image(
            dense.reshape(-1, B, windows.OH, windows.OW).transpose(1, 0, 2, 3),
            out=dcol,
        )
        dxp = np.zeros_like(xp_c)
        windows.col2im(dcol, dxp)
        expected = col2im(dense, (B, C, H + 2 * P, W + 2 * P), FH, FW, S)
        np.testing.assert_allclose(
            dxp.transpose(1, 0, 2, 3), expected, rtol=1e-12, atol=1e-12
        )

    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_from_image_round_trip_and_zero_garbage(self, case: tuple) -> None:
        B = case[0]
        _, _, windows = setup(case)
        rng = np.random.default_rng(2)
        img = rng.standard_normal((B, 4, windows.OH, windows.OW))
        buf = np.full((4, windows.size(B)), np.nan)
        windows.from_image(img, out=buf)
        np.testing.assert_array_equal(windows.to_image(buf, B), img)
        assert not np.isnan(buf).any()  # ごみの位置も 0 で埋まる
        n_valid = B * windows.OH * windows.OW
        assert np.count_nonzero(buf) == 4 * n_valid

    def test_to_image_of_transposed_view(self) -> None:
        _, _, windows = setup(CASES[0])
        y = np.random.default_rng(3).standard_normal((5, windows.size(2)))
        y_T = np.ascontiguousarray(y.T)  # (位置, F) の並び
        np.testing.assert_array_equal(
            windows.to_image(y_T.T, 2), windows.to_image(y, 2)
        )

    def test_stride1_rows_are_contiguous_runs(self) -> None:
        # ストライド 1 では窓の view の最後の軸 (位置) の刻みが 1 要素
        _, xp_c, windows = setup(CASES[0])
        view = windows._view(xp_c, writeable=False)
        assert view.strides[-1] == xp_c.itemsize
        assert view.ndim == 4  # (C, FH, FW, L)

    def test_bad_image(self) -> None:
        _, xp_c, windows = setup(CASES[0])
        col = np.empty((27, windows.size(2)))
        with pytest.raises(ValueError, match="形"):
            windows.im2col(xp_c[:2], out=col)
        with pytest.raises(ValueError, match="連続"):
            windows.im2col(xp_c[:, :, :, ::-1], out=col)
