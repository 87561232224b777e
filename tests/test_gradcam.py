"""dlbook.gradcam: Grad-CAM を手計算と CAM で確かめる。"""

import torch
from torch import nn

from dlbook import gradcam, transfer


def test_gradcam_equals_relu_cam_over_hw_for_gap_models() -> None:
    torch.manual_seed(0)
    model = transfer.ColorCNN(5).eval()
    x = torch.rand(4, 3, 16, 16)
    cam_g, cls = gradcam.grad_cam(model, model.features[10], x)
    cam_c = gradcam.class_activation_map(model.features[:11], model.fc, x, cls)
    torch.testing.assert_close(
        cam_g, torch.relu(cam_c) / 16, atol=1e-6, rtol=0
    )
    torch.testing.assert_close(cls, model(x).argmax(dim=1))


def test_gradcam_by_hand_on_a_nonlinear_head() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(1, 3, 3, padding=1)
    head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    model = nn.Sequential(conv, nn.Tanh(), head)
    x = torch.randn(2, 1, 4, 4)
    classes = torch.tensor([0, 1])
    cam, _ = gradcam.grad_cam(model, model[1], x, classes)
    A = torch.tanh(conv(x)).detach().requires_grad_(True)
    head(A).gather(1, classes[:, None]).sum().backward()
    alpha = A.grad.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(cam, torch.relu((alpha * A).sum(1)).detach())


def test_upsample_range() -> None:
    up = gradcam.upsample(torch.rand(2, 4, 4), (16, 16))
    assert up.shape == (2, 16, 16)
    assert float(up.min()) == 0.0 and abs(float(up.max()) - 1.0) < 1e-6


def test_deletion_check_prefers_the_true_evidence() -> None:
    # スコアが左上の 4×4 の画素だけで決まるモデル
    class Corner(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = x[:, :, :4, :4].mean(dim=(1, 2, 3))
            return torch.stack([s, -s], dim=1)

    x = torch.rand(8, 3, 8, 8)
    x[:, :, :4, :4] += 2.0
    heat = torch.zeros(8, 8, 8)
    heat[:, :4, :4] = 1.0
    drop_heat, drop_rand = gradcam.deletion_check(
        Corner(), x, heat, torch.zeros(8, dtype=torch.long)
    )
    assert drop_heat > drop_rand
