"""dlbook.diagrams.cnn: 図の数値が本文の計算例と同じ関数の値であること。"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook import architectures as arch
from dlbook import conv, pooling
from dlbook.diagrams import cnn as dc

X = np.array(
    [
        [1, 1, 5, 5, 5],
        [1, 2, 5, 6, 5],
        [0, 1, 4, 5, 6],
        [1, 1, 5, 5, 5],
        [1, 0, 4, 6, 5],
    ],
    dtype=float,
)
W = np.array([[-1, 0, 1]] * 3, dtype=float)


def _numbers(texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        try:
            out.append(float(t))
        except ValueError:
            pass
    return out


def test_conv_sliding_shows_the_padded_input_filter_and_output() -> None:
    y = conv.conv2d_naive(X[None, None], W[None, None], stride=2, pad=1)[0, 0]
    svg = dc.conv_sliding(X, W, y, stride=2, pad=1, pos=(0, 1))
    nums = _numbers(svg.texts)
    xp = np.pad(X, 1)
    n_in, n_w = xp.size, W.size
    assert nums[:n_in] == xp.ravel().tolist()
    assert nums[n_in : n_in + n_w] == W.ravel().tolist()
    assert nums[n_in + n_w :] == y.ravel().tolist()
    assert "出力 (3×3)" in svg.texts


def test_im2col_picture_columns_are_im2col() -> None:
    x16 = np.arange(1, 17, dtype=float).reshape(4, 4)
    col = conv.im2col(x16[None, None], 3, 3)
    svg = dc.im2col_picture(x16, col, 3, column=1)
    nums = _numbers(svg.texts)
    assert nums[:16] == x16.ravel().tolist()
    assert nums[16:] == col.ravel().tolist()


def test_pooling_picture_shows_the_pooled_values() -> None:
    x4 = np.array([[1, 3, 2, 4], [5, 6, 1, 0], [7, 2, 9, 8], [3, 4, 6, 5.0]])
    y_max = pooling.MaxPool2d(2).forward(x4[None, None])[0, 0]
    y_avg = pooling.AvgPool2d(2).forward(x4[None, None])[0, 0]
    nums = _numbers(dc.pooling_picture(x4, y_max, y_avg).texts)
    assert nums == [*x4.ravel(), *y_max.ravel(), *y_avg.ravel()]


def test_backward_picture_is_the_flipped_kernel_gradient() -> None:
    delta = np.array([[1, 2], [3, 4.0]])
    w = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1.0]])
    dx = conv.conv2d_input_grad_by_flip(
        delta[None, None], w[None, None], 1, 0, (4, 4)
    )
    ref = F.conv2d(
        torch.zeros(1, 1, 4, 4, dtype=torch.float64, requires_grad=True),
        torch.tensor(w)[None, None],
    )
    svg = dc.conv_backward_flip(delta, w, dx[0, 0])
    nums = _numbers(svg.texts)
    assert nums[:36] == np.pad(delta, 2).ravel().tolist()
    assert nums[36:45] == w[::-1, ::-1].ravel().tolist()
    assert nums[45:] == dx[0, 0].ravel().tolist()
    (gx,) = torch.autograd.grad(
        ref,
        ref.grad_fn.next_functions[0][0].variable,
        torch.tensor(delta)[None, None],
    )
    np.testing.assert_allclose(gx[0, 0].numpy(), dx[0, 0])


@pytest.mark.parametrize(
    "layers",
    [[(3, 1), (3, 1)], [(3, 1), (3, 2), (3, 1)], [(5, 2), (3, 2), (3, 1)]],
)
def test_receptive_field_labels_match_the_gradient_support(
    layers: list,
) -> None:
    svg = dc.receptive_field(layers, width=25)
    rf = [int(t.split()[1]) for t in svg.texts if t.startswith("受容野")]
    # 実際の畳み込みを重ね、中央の出力の入力に関する勾配が 0 でない幅と比べる
    x = torch.zeros(1, 1, 41, requires_grad=True)
    h = x
    for K, S in layers:
        h = F.conv1d(h, torch.ones(1, 1, K), stride=S)
    h[0, 0, h.shape[-1] // 2].backward()
    support = int((x.grad[0, 0] != 0).sum())
    assert rf[-1] == support


def test_block_graphs_come_from_the_real_modules() -> None:
    import torchvision

    bott = torchvision.models.resnet50(weights=None).layer2[0]
    texts = dc.block_graph(bott, (1, 256, 56, 56)).texts
    assert any(t.startswith("1×1 conv, 512, /2") for t in texts)  # 射影の近道
    assert any(t.startswith("3×3 conv, 128, /2") for t in texts)  # v1.5
    pre = dc.block_graph(arch.PreActBlock(8), (1, 8, 5, 5)).texts
    assert pre[1].startswith("BN")  # 足し算の前に BN → ReLU → conv


def test_chain_graph_merges_repeated_convs_and_reads_shapes() -> None:
    texts = dc.chain_graph(
        arch.build("vgg16").features, (1, 3, 224, 224), "VGG-16"
    ).texts
    assert "3×3 conv, 64 ×2\n64×224×224" in texts
    assert "最大プーリング 2×2\n512×7×7" in texts


def test_resnet_stage_labels_read_the_real_blocks() -> None:
    import torchvision
    from torchvision.models.resnet import BasicBlock

    stage = torchvision.models.resnet18(weights=None).layer2
    labels = {str(i): dc.resnet_block_label(b) for i, b in enumerate(stage)}
    assert "射影 (1×1 conv, 128, /2 + BN)" in labels["0"]
    assert labels["1"].endswith("近道: 恒等")
    texts = dc.block_graph(
        stage,
        (1, 64, 56, 56),
        max_depth=1,
        leaf_types=(BasicBlock,),
        extra_labels=labels,
    ).texts
    assert texts[1] == labels["0"] + "\n1×128×28×28"


@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_dilated_taps_are_where_a_dilated_conv_looks(dilation: int) -> None:
    mask = dc.dilated_taps(dilation)
    n = mask.shape[0]
    # 膨張畳み込み 1 回の出力 (1×1) の、入力に関する勾配が 0 でない画素
    x = torch.zeros(1, 1, n, n, requires_grad=True)
    w = torch.ones(1, 1, 3, 3)
    y = F.conv2d(x[..., 1:-1, 1:-1], w, dilation=dilation)
    assert y.shape[-2:] == (1, 1)
    y.sum().backward()
    assert np.array_equal(x.grad[0, 0].numpy() != 0, mask)


def test_dilated_and_transposed_numbers_are_the_worked_example() -> None:
    # 本文と同じ例: 2×2 の入力、すべて 1 の 3×3 フィルタ、ストライド 2
    x_t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])[None, None]
    w_t = torch.ones(1, 1, 3, 3)
    y_t = F.conv_transpose2d(x_t, w_t, stride=2)
    # 転置畳み込み = 同じフィルタの畳み込み (ストライド 2) の入力に関する勾配
    z = torch.zeros(1, 1, 5, 5, requires_grad=True)
    F.conv2d(z, w_t, stride=2).backward(x_t)
    assert torch.equal(z.grad, y_t)
    assert y_t[0, 0, 2, 2] == 1 + 2 + 3 + 4  # スライドのノート「10 = 1+2+3+4」
    svg = dc.dilated_and_transposed(
        x_t[0, 0].numpy(), w_t[0, 0].numpy(), y_t[0, 0].numpy(), dilation=2
    )
    nums = _numbers(svg.texts)
    assert nums == [
        *x_t.ravel().tolist(),
        *w_t.ravel().tolist(),
        *y_t.ravel().tolist(),
    ]
    # 見出しの受容野 (5×5) = 膨張畳み込みの勾配が 0 でない範囲の一辺
    cols = np.flatnonzero(dc.dilated_taps(2).any(axis=0))
    span = int(cols[-1] - cols[0]) + 1
    assert span == 5
    assert f"膨張率 2 の 3×3 (受容野 {span}×{span})" in svg.texts
    assert "転置畳み込み (S=2) 5×5" in svg.texts
