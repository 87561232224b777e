"""学習したネットワークの中を見る: 第 1 層のフィルタと中間層の特徴マップ。

フォワードフック (forward hook) で、指定した層の出力を横取りして保存する。
"""

from __future__ import annotations

import torch
from torch import nn


def capture_activations(
    model: nn.Module, x: torch.Tensor, layer_names: list[str]
) -> dict[str, torch.Tensor]:
    """``model(x)`` を 1 回計算し、名前で指定した層の出力を集める。

    Args:
        model: 調べるモデル (``eval()`` にしておく)。
        x: 入力 ``(N, C, H, W)``。
        layer_names: ``model.named_modules()`` の名前 (例: ``"features.0"``)。

    Returns:
        名前 → 出力テンソル (``(N, C', H', W')``、勾配なし、CPU)。

    Raises:
        ValueError: 名前が見つからないとき。
    """
    modules = dict(model.named_modules())
    missing = [n for n in layer_names if n not in modules]
    if missing:
        raise ValueError(
            f"層 {missing} がありません: {list(modules)[:20]} ..."
        )
    acts: dict[str, torch.Tensor] = {}
    handles = []
    for name in layer_names:

        def hook(
            m: nn.Module, inp: tuple, out: torch.Tensor, name: str = name
        ) -> None:
            # clone: 次の層が in-place (ReLU(inplace=True) など) でも値を保つ
            acts[name] = out.detach().cpu().clone()

        handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return acts


def first_conv(model: nn.Module) -> nn.Conv2d:
    """モデルの最初の ``nn.Conv2d`` を返す。"""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ValueError("モデルに nn.Conv2d がありません")


def conv_layer_names(model: nn.Module) -> list[str]:
    """``nn.Conv2d`` の層の名前を、順伝播で現れる順 (定義順) に並べる。"""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def normalize_filters(w: torch.Tensor) -> torch.Tensor:
    """フィルタを 1 枚ずつ 0〜1 に伸ばす (表示用)。

    Shape:
        w: ``(C_out, C_in, K, K)`` → 同じ形。
    """
    flat = w.detach().reshape(w.shape[0], -1)  # (C_out, C_in*K*K)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).reshape(w.shape)
