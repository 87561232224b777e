"""自動混合精度 (autocast) で、各演算が実際にどの型で計算されたかを調べる。

``torch.autocast`` は「行列積と畳み込みだけを 16 ビットにする」のではない。
低精度の一覧 (lower-precision list) にある演算の入力を 16 ビットに
キャストし、float32 の一覧にある演算の入力を float32 に戻す。どちらの一覧にも
ない演算 (ReLU、プーリング、加算など) は、受け取った型のまま計算する。
一覧はデバイスごとに違うので、本書はビルドした計算機で実際に型を調べて示す。
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

_N = 4  # 調べるときのミニバッチの大きさ


def module_output_dtypes(
    model: nn.Module,
    x: torch.Tensor,
    device_type: str,
    dtype: torch.dtype,
) -> list[tuple[str, str, torch.dtype]]:
    """autocast の中で ``model(x)`` を実行し、葉のモジュールの出力の型を返す。

    Args:
        model: 調べるモデル (``x`` と同じデバイスに置く)。
        x: 入力。
        device_type: ``"cpu"`` または ``"cuda"``。
        dtype: autocast の低精度の型 (``torch.bfloat16`` など)。

    Returns:
        ``(名前, クラス名, 出力の型)`` のリスト (実行した順)。
    """
    records: list[tuple[str, str, torch.dtype]] = []
    handles = []
    for name, mod in model.named_modules():
        if next(mod.children(), None) is not None:
            continue  # 子を持つモジュールは中身を見れば足りる

        def hook(m: nn.Module, args: tuple, out: torch.Tensor, name=name):
            records.append((name, type(m).__name__, out.dtype))

        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad(), torch.autocast(device_type, dtype=dtype):
            model(x)
    finally:
        for h in handles:
            h.remove()
    return records


def _ops() -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """調べる演算。``h`` は 16 ビットの活性、``x`` は float32 の入力。"""
    labels = torch.zeros(_N, dtype=torch.int64)
    return {
        "matmul": lambda h, x: x @ x.T,
        "relu": lambda h, x: F.relu(h),
        "max_pool": lambda h, x: F.max_pool1d(h[None], 2),
        "h + h": lambda h, x: h + h,
        "h + x (float32)": lambda h, x: h + x,
        "exp": lambda h, x: h.exp(),
        "sum": lambda h, x: h.sum(),
        "softmax": lambda h, x: h.softmax(dim=1),
        "log_softmax": lambda h, x: h.log_softmax(dim=1),
        "layer_norm": lambda h, x: F.layer_norm(h, h.shape[1:]),
        "cross_entropy": lambda h, x: F.cross_entropy(h, labels.to(h.device)),
        "mse_loss": lambda h, x: F.mse_loss(h, x),
    }


def op_dtypes(
    device: torch.device, dtype: torch.dtype
) -> dict[str, torch.dtype]:
    """autocast の中で代表的な演算の出力の型を調べる。

    各演算には、16 ビットになった活性 ``h`` (行列積の出力) と、float32 の
    ``x`` を渡す。ReLU のように一覧にない演算は ``h`` の型をそのまま使い、
    float32 の一覧にある演算は float32 を返す。

    Returns:
        演算の名前 → 出力の型。
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(_N, 8, generator=g).to(device)
    w = torch.randn(8, 8, generator=g).to(device)
    out = {}
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype):
        h = x @ w  # 低精度の一覧にある演算: 出力は 16 ビット
        for name, op in _ops().items():
            out[name] = op(h, x).dtype
    return out


__all__ = ["module_output_dtypes", "op_dtypes"]
