"""dlbook.memory: 数えたバイト数を手計算と比べる。"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlbook import memory

F32 = 4  # float32 のバイト数


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 3))


N_PARAMS = 10 * 20 + 20 + 20 * 3 + 3


def _data(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 10, generator=g), torch.randint(
        0, 3, (n,), generator=g
    )


@pytest.mark.parametrize(
    ("make", "k"),
    [
        (lambda p: torch.optim.SGD(p, lr=0.1), 0),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 1),
        (lambda p: torch.optim.Adam(p), 2),
    ],
)
def test_params_grads_optimizer(make, k: int) -> None:
    X, y = _data()
    m = memory.step_memory(_mlp(), X, y, nn.CrossEntropyLoss(), make)
    assert m.params == N_PARAMS * F32
    assert m.grads == N_PARAMS * F32
    assert m.optimizer == k * N_PARAMS * F32
    assert m.total == m.params + m.grads + m.optimizer + m.activations


def test_activations_scale_with_batch() -> None:
    loss_fn = nn.CrossEntropyLoss()
    a8 = memory.saved_activation_bytes(_mlp(), *_data(8), loss_fn)
    a16 = memory.saved_activation_bytes(_mlp(), *_data(16), loss_fn)
    assert a8 > 0
    # 保存されるのは入力 (N,10)、ReLU の出力 (N,20)、logits 関連 (N,3) など
    assert a16 == pytest.approx(2 * a8, rel=0.1)
    assert a8 >= 8 * (10 + 20) * F32


def test_model_not_modified() -> None:
    net = _mlp()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    memory.step_memory(
        net,
        *_data(),
        nn.CrossEntropyLoss(),
        lambda p: torch.optim.SGD(p, lr=1.0),
    )
    for k, v in net.state_dict().items():
        assert torch.equal(before[k], v)


def test_as_mib_and_cuda_peak_on_cpu() -> None:
    m = memory.StepMemory(
        params=2**20, grads=2**20, optimizer=0, activations=0
    )
    assert m.as_mib()["パラメータ"] == 1.0
    assert memory.cuda_peak_bytes(lambda: None, torch.device("cpu")) is None


def test_tensor_bytes() -> None:
    assert memory.tensor_bytes(torch.zeros(3, 4)) == 48
    assert memory.tensor_bytes(torch.zeros(3, 4, dtype=torch.bfloat16)) == 24
