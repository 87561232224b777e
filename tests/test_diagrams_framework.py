"""dlbook.diagrams.framework: 第 5 章の概念図が、計算例の数値から描かれること。"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dlbook.checkpoint import save_training_state
from dlbook.ddp_bn import make_data, shard_batches
from dlbook.diagrams import framework as figs


def _numbers(texts: list[str]) -> list[str]:
    return [t for t in texts if t.lstrip("-").replace(".", "").isdigit()]


class TestStorage:
    def test_shows_storage_and_strides(self) -> None:
        A = torch.arange(6).reshape(2, 3)
        A[0, 0] = 100
        T = A.t()
        svg = figs.storage_diagram(A, T, T.contiguous())
        assert svg.data.startswith("<svg")
        # 記憶領域 (100 1 2 3 4 5) と並べ直したコピー (100 3 1 4 2 5) が描かれる
        assert "ストライド (3, 1)" in "".join(svg.texts)
        assert "ストライド (1, 3)" in "".join(svg.texts)
        nums = _numbers(svg.texts)
        assert nums[:6] == ["100", "1", "2", "3", "4", "5"]
        assert nums[-6:] == ["100", "3", "1", "4", "2", "5"]

    def test_rejects_copy_as_view(self) -> None:
        A = torch.arange(6).reshape(2, 3)
        with pytest.raises(ValueError, match="共有"):
            figs.storage_diagram(A, A.t().contiguous(), A.t().contiguous())


class TestVJP:
    def test_numbers_are_the_example(self) -> None:
        J = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
        v = torch.tensor([1.0, 0.5])
        svg = figs.vjp_diagram(v, J, J.T @ v)
        assert _numbers(svg.texts) == [
            "1", "0.5",  # v
            "1", "2", "0", "0", "-1", "3",  # J
            "1", "1.5", "1.5",  # J^T v
        ]  # fmt: skip

    def test_shape_mismatch(self) -> None:
        with pytest.raises(ValueError, match="形"):
            figs.vjp_diagram(torch.ones(3), torch.ones(2, 3), torch.ones(3))


def test_param_groups_from_optimizer() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = torch.optim.SGD(
        [
            {"params": [model[0].weight], "weight_decay": 0.01},
            {"params": [model[0].bias, model[1].weight, model[1].bias]},
        ],
        lr=0.1,
    )
    svg = figs.param_groups_diagram(model, opt)
    assert "グループ 0\nlr=0.1\nweight_decay=0.01" in svg.texts
    assert "グループ 1\nlr=0.1\nweight_decay=0" in svg.texts
    assert "0.weight (4, 3)" in svg.texts and "1.bias (4,)" in svg.texts


def test_early_stopping_boxes_are_the_losses() -> None:
    losses = [1.0, 0.5, 0.4, 0.45, 0.47]
    svg = figs.early_stopping_diagram(losses, best_epoch=3, patience=2)
    for v in losses:
        assert f"{v:.2f}" in svg.texts
    assert any("エポック 3" in t for t in svg.texts)


def test_autocast_diagram_splits_by_dtype() -> None:
    ops = {"matmul": torch.bfloat16, "cross_entropy": torch.float32}
    svg = figs.autocast_diagram(ops, torch.bfloat16, "CPU")
    assert {"matmul", "cross_entropy", "出力が bfloat16"} <= set(svg.texts)


def test_sampler_diagram_shows_sampler_indices() -> None:
    ds = make_data(n=8)
    e0, e1 = shard_batches(ds, 2, 2, 0, 0), shard_batches(ds, 2, 2, 1, 0)
    svg = figs.sampler_diagram(e0, e1)
    drawn = [int(t) for t in _numbers(svg.texts)]
    expected = [i for e in (e0, e1) for r in e for b in r for i in b]
    assert sorted(drawn) == sorted(expected)


def test_checkpoint_diagram_lists_saved_keys(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters())
    path = save_training_state(tmp_path / "c.pt", 5, model, opt)
    ckpt = torch.load(path, weights_only=False)
    svg = figs.checkpoint_diagram(ckpt)
    heads = {t.split("\n")[0] for t in svg.texts}
    assert set(ckpt) <= heads
    assert "epoch\n5" in svg.texts


@pytest.mark.parametrize(
    "make",
    [
        figs.training_loop_diagram,
        lambda: figs.dataloader_diagram(100, 32, (32, 3, 32, 32)),
        lambda: figs.data_parallel_diagram(2, 32),
    ],
)
def test_flow_diagrams_render(make) -> None:
    svg = make()
    assert svg.data.startswith("<svg") and svg.texts
