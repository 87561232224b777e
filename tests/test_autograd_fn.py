"""dlbook.autograd_fn: 自分で書いた逆伝播が数値微分と PyTorch に一致すること。"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.gradcheck import GradcheckError

from dlbook.autograd_fn import silu


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_gradcheck(shape: tuple[int, ...]) -> None:
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(silu, (x,))


def test_matches_torch_silu() -> None:
    x = torch.linspace(-6, 6, 25, dtype=torch.float64, requires_grad=True)
    y = silu(x)
    torch.testing.assert_close(y, F.silu(x))
    (g,) = torch.autograd.grad(y.sum(), x)
    (g_ref,) = torch.autograd.grad(F.silu(x).sum(), x)
    torch.testing.assert_close(g, g_ref)


def test_wrong_backward_is_caught() -> None:
    # gradcheck が誤った逆伝播を本当に見つけること (このテストの前提の確認)
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * torch.sigmoid(x)

        @staticmethod
        def backward(ctx, dout):
            (x,) = ctx.saved_tensors
            return dout * torch.sigmoid(x)  # (1 + x(1-σ)) を忘れた

    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(Bad.apply, (x,))
