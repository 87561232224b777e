"""dlbook.amp: autocast の中の型を実際に調べる関数。"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlbook.amp import module_output_dtypes, op_dtypes

CPU = torch.device("cpu")


class TestOpDtypes:
    def test_cpu_bf16_lists(self) -> None:
        ops = op_dtypes(CPU, torch.bfloat16)
        # 低精度の一覧: 行列積。一覧にない ReLU は受け取った 16 ビットのまま
        assert ops["matmul"] == torch.bfloat16
        assert ops["relu"] == torch.bfloat16
        assert ops["max_pool"] == torch.bfloat16
        # float32 の一覧: 損失
        assert ops["cross_entropy"] == torch.float32
        assert ops["mse_loss"] == torch.float32
        # 型の昇格: 16 ビット + float32 = float32
        assert ops["h + x (float32)"] == torch.float32

    def test_leaves_autocast_off(self) -> None:
        op_dtypes(CPU, torch.bfloat16)
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


class TestModuleOutputDtypes:
    def test_records_leaf_modules_in_order(self) -> None:
        model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
        rec = module_output_dtypes(
            model, torch.randn(3, 4), "cpu", torch.bfloat16
        )
        assert [(n, k) for n, k, _ in rec] == [
            ("0", "Linear"),
            ("1", "ReLU"),
            ("2", "Linear"),
        ]
        assert all(dt == torch.bfloat16 for *_, dt in rec)

    def test_hooks_removed(self) -> None:
        model = nn.Sequential(nn.Linear(4, 4))
        module_output_dtypes(model, torch.randn(3, 4), "cpu", torch.bfloat16)
        assert not model[0]._forward_hooks

    def test_hooks_removed_on_error(self) -> None:
        model = nn.Sequential(nn.Linear(4, 4))
        with pytest.raises(RuntimeError):
            module_output_dtypes(
                model, torch.randn(3, 5), "cpu", torch.bfloat16
            )
        assert not model[0]._forward_hooks
