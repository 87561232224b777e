"""学習したネットワークの中を見る: 第 1 層のフィルタと中間層の特徴マップ。

フォワードフック (forward hook) で、指定した層の出力を横取りして保存する。
写真の小片で学習した 1 層の RICA (:func:`sparse_filters`) は、
自然画像から向きのあるエッジのフィルタが育つことを短い計算で示す。
"""

from __future__ import annotations

import time

import numpy as np
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


def show_filters(w: torch.Tensor) -> torch.Tensor:
    """フィルタを 0.5 を中心に、符号を保って 0〜1 に縮める (表示用)。

    :math:`0.5 + w / (2 \\max |w|)` をフィルタごとにとる。0 は灰色、正は明るく、
    負は暗くなり、チャネルの間の比 (色) も保たれる。

    Shape:
        w: ``(C_out, C_in, K, K)`` → 同じ形。
    """
    w = w.detach()
    peak = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    return 0.5 + w / (2 * peak)


def orientation_coherence(w: torch.Tensor) -> torch.Tensor:
    """フィルタごとの「向きのそろい方」(構造テンソルのコヒーレンス)。

    平均を引いたフィルタの勾配 :math:`(g_x, g_y)` から
    :math:`J = \\sum (g_x^2, g_x g_y; g_x g_y, g_y^2)` (チャネルと画素で和) を作り、
    固有値 :math:`\\lambda_1 \\ge \\lambda_2` で :math:`(\\lambda_1 - \\lambda_2)
    / (\\lambda_1 + \\lambda_2)` を返す。1 に近いほど、明暗が 1 つの向きにだけ
    変わる (エッジや棒)。独立な乱数のフィルタは 0 に近い。

    Shape:
        w: ``(C_out, C_in, K, K)`` → ``(C_out,)``
    """
    jxx, jyy, jxy = _structure_tensor(w)
    spread = torch.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)
    return (spread / (jxx + jyy).clamp_min(1e-12)).float()


def dominant_orientation(w: torch.Tensor) -> torch.Tensor:
    """フィルタごとの、明暗が最も大きく変わる向き (0〜π、構造テンソルの主軸)。

    :math:`\\theta = \\tfrac12 \\operatorname{atan2}(2 J_{xy}, J_{xx} - J_{yy})`
    (:func:`orientation_coherence` と同じ :math:`J`)。

    Shape:
        w: ``(C_out, C_in, K, K)`` → ``(C_out,)``
    """
    jxx, jyy, jxy = _structure_tensor(w)
    return (0.5 * torch.atan2(2 * jxy, jxx - jyy) % np.pi).float()


def _structure_tensor(
    w: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """平均を引いたフィルタの勾配の積和 :math:`(J_{xx}, J_{yy}, J_{xy})` (各 ``(C_out,)``)。"""
    w = w.detach().double()
    w = w - w.mean(dim=(1, 2, 3), keepdim=True)
    gy, gx = torch.gradient(w, dim=(2, 3))
    return (
        (gx * gx).sum(dim=(1, 2, 3)),
        (gy * gy).sum(dim=(1, 2, 3)),
        (gx * gy).sum(dim=(1, 2, 3)),
    )


#: スパース自己符号化器の小片を切り出す写真 (scikit-image に同梱)
PATCH_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def photo_patches(
    size: int = 8, n: int = 10000, *, seed: int = 0
) -> torch.Tensor:
    """同梱の写真 (半分に縮小) から無作為に小片を切り出す。

    Returns:
        小片 (Tensor[n, 3, size, size])。値は 0〜1。
    """
    from dlbook.images import load_photo

    rng = np.random.default_rng(seed)
    out = []
    per_photo = n // len(PATCH_PHOTOS)
    for name in PATCH_PHOTOS:
        img = load_photo(name).astype(np.float32)[::2, ::2] / 255  # (H, W, 3)
        ys = rng.integers(0, img.shape[0] - size + 1, per_photo)
        xs = rng.integers(0, img.shape[1] - size + 1, per_photo)
        out += [
            img[y : y + size, x : x + size]
            for y, x in zip(ys, xs, strict=True)
        ]
    patches = np.stack(out).transpose(0, 3, 1, 2)  # (n, 3, size, size)
    return torch.from_numpy(np.ascontiguousarray(patches))


def sparse_filters(
    n_filters: int = 32,
    size: int = 8,
    *,
    n_patches: int = 10000,
    sparsity: float = 0.5,
    max_iter: int = 300,
    seed: int = 0,
) -> dict[str, object]:
    """写真の小片で 1 層の RICA を学習し、そのフィルタを返す。

    小片 :math:`\\mathbf{x}` から明るさの平均を引き、ZCA で白色化する
    (:math:`\\tilde{\\mathbf{x}} = Z \\mathbf{x}`、画素の相関をほぼ消す。
    :math:`Z = U (\\Lambda + \\epsilon I)^{-1/2} U^\\top`、:math:`\\epsilon` は固有値の
    平均の 0.1 倍なので、分散の小さい成分は 1 までは持ち上げない)。長さ 1 の
    フィルタを並べた :math:`W` で符号 :math:`\\mathbf{h} = W \\tilde{\\mathbf{x}}`
    を作り、:math:`W^\\top \\mathbf{h}` で元に戻す誤差と、符号の大きさ
    :math:`\\sum_k |h_k|` (なめらかにした絶対値) の和を L-BFGS で小さくする。
    ICA の直交制約を再構成誤差の罰則に置き換えた RICA (reconstruction ICA:
    Le et al. 2011) で、重みを符号化と復号で共有した線形のスパース自己符号化器と
    みなせる。スパース符号化 (Olshausen & Field 1996) と同じ考えである。

    Returns:
        ``filters`` (生の画素にかかるフィルタ :math:`W Z`、
        Tensor[n_filters, 3, size, size])、``loss`` (学習の前と後)、``seconds``。
    """
    start = time.perf_counter()
    x = photo_patches(size, n_patches, seed=seed).reshape(n_patches, -1)
    x = x - x.mean(dim=1, keepdim=True)  # 小片ごとに平均の明るさを引く
    cov = x.T @ x / len(x)  # (D, D)
    ev, U = torch.linalg.eigh(cov)
    # ZCA。小さな固有値 (雑音) を大きく増幅しないよう、平均の 0.1 倍を足す
    Z = U @ torch.diag((ev + 0.1 * ev.mean()).rsqrt()) @ U.T  # (D, D) 対称
    xw = x @ Z  # (N, D)
    g = torch.Generator().manual_seed(seed)
    W = nn.Parameter(0.1 * torch.randn(n_filters, x.shape[1], generator=g))
    opt = torch.optim.LBFGS(
        [W], max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def objective() -> torch.Tensor:
        Wn = W / W.norm(dim=1, keepdim=True)  # (F, D) 長さ 1 のフィルタ
        h = xw @ Wn.T  # (N, F) 符号
        recon = ((h @ Wn - xw) ** 2).sum(dim=1).mean()
        return recon + sparsity * torch.sqrt(h**2 + 1e-2).sum(dim=1).mean()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    with torch.no_grad():
        before = float(objective())
    opt.step(closure)
    with torch.no_grad():
        after = float(objective())
        filters = (W / W.norm(dim=1, keepdim=True)) @ Z  # 生の画素にかかる形
    return {
        "filters": filters.reshape(n_filters, 3, size, size),
        "loss": (before, after),
        "seconds": time.perf_counter() - start,
    }
