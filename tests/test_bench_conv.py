"""benchmarks/bench_conv.py の表: 行列積 3 回との比と、その目標 (1.5 倍)。"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_conv


def _rows(im2col_to_gemm: float) -> list[dict[str, float | str | int]]:
    return [
        {"method": "torch", "ms": 4.0, "best_ms": 4.0, "ratio": 1.0,
         "gemm_ratio": 0.8, "repeats": 3},
        {"method": "im2col", "ms": 8.0, "best_ms": 7.5, "ratio": 2.0,
         "gemm_ratio": im2col_to_gemm, "repeats": 3},
        {"method": "gemm", "ms": 5.0, "best_ms": 5.0, "ratio": 1.25,
         "gemm_ratio": 1.0, "repeats": 3},
    ]  # fmt: skip


def test_table_reports_both_ratios_and_the_gemm_target() -> None:
    text = bench_conv.to_markdown(_rows(1.6), "t")
    assert "| 行列積 3 回との比 | PyTorch との比 |" in text
    assert (
        "| NumPy im2col (`dlbook.conv.Conv2d`) | 8.0 | 7.5 | 1.60× | 2.00× |"
        in text
    )
    assert "行列積 3 回の 1.5× → 1.60× ❌ (PyTorch との比 2.00×)" in text
    assert "→ 1.40× ✅" in bench_conv.to_markdown(_rows(1.4), "t")


def test_compare_conv_measures_the_ratio_to_the_gemms() -> None:
    case = bench_conv.ConvCase(N=2, C=2, FN=2, size=6)
    rows = bench_conv.compare_conv(
        case, repeats=2, naive_repeats=0, threads=1, warmup=0, burst=1
    )
    by = {r["method"]: r for r in rows}
    assert by["gemm"]["gemm_ratio"] == 1.0
    assert float(by["im2col"]["gemm_ratio"]) > 0
