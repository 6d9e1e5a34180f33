"""Independent oracles for the influence tests (tiny float64 conv nets, P ≈ 900): a dense J from
``jacrev``, per-example gradients from a plain autograd loop and dense solves with
(JᵀJ/D + λI).  Nothing here calls the code under test."""

from __future__ import annotations

import torch
from torch import nn

from symaudit import losses

NS_CHANNELS = [
    {"name": "velocity_x", "kind": "vector", "vector": "velocity", "axis": "x"},
    {"name": "velocity_y", "kind": "vector", "vector": "velocity", "axis": "y"},
]
REL = {"mode": "relative", "value": 1e-3}
EASY = {"mode": "relative", "value": 1e-2}  # κ ≤ 100: fewer iterations where κ is not the point


class TinyNet(nn.Module):
    """Three 3×3 circular convolutions with tanh, a residual connection and an output scale."""

    def __init__(self, channels: int = 2, hidden: int = 8, scale: float = 1.0):
        super().__init__()
        conv = dict(kernel_size=3, padding=1, padding_mode="circular")
        self.a = nn.Conv2d(channels, hidden, **conv)
        self.b = nn.Conv2d(hidden, hidden, **conv)
        self.c = nn.Conv2d(hidden, channels, **conv)
        self.register_buffer("scale", torch.tensor(scale))

    def forward(self, x):
        return self.scale * self.c(torch.tanh(self.b(torch.tanh(self.a(x))))) + x


def _net(seed: int = 0, dtype=torch.float64, **kw) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(**kw).to(dtype)


def _data(n: int = 6, seed: int = 1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 8, 8, generator=gen, dtype=torch.float64)
    y = x + 0.3 * torch.randn(n, 2, 8, 8, generator=gen, dtype=torch.float64)
    return x.to(dtype), y.to(dtype)


def _flat_params(model):
    return [p for p in model.parameters() if p.requires_grad]


def dense_metric(model, inputs, normalization="per_output") -> torch.Tensor:
    """Jᵀ J / D from a dense ``jacrev`` Jacobian (independent of the operator's closures)."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    consts = {
        **{n: p.detach() for n, p in model.named_parameters() if not p.requires_grad},
        **dict(model.named_buffers()),
    }
    jac = torch.func.jacrev(lambda ps: torch.func.functional_call(model, (ps, consts), (inputs,)))(
        params
    )
    J = torch.cat([j.reshape(inputs[0].numel() * inputs.shape[0], -1) for j in jac.values()], 1)
    scale = {"per_output": 1 / J.shape[0], "per_example": 1 / inputs.shape[0], "none": 1.0}
    return J.T @ J * scale[normalization], J


def loop_gradients(model, inputs, targets=None, loss="smse", channel=0) -> torch.Tensor:
    """Per-example gradients by a plain autograd loop (the oracle for the vmap version)."""
    rows = []
    for i in range(inputs.shape[0]):
        model.zero_grad()
        pred = model(inputs[i : i + 1])
        if loss == "smse":
            value = losses.smse(pred, targets[i : i + 1], reduction="sum")
        else:
            value = losses.conservation_loss(pred, inputs[i : i + 1], channel, reduction="sum")
        value.backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in _flat_params(model)]))
    return torch.stack(rows).detach()


def dense_influence(M, G_bra, G_ket, lam) -> torch.Tensor:
    A = M + lam * torch.eye(M.shape[0], dtype=M.dtype)
    return G_bra @ torch.linalg.solve(A, G_ket.T)


def rel_err(a, b) -> float:
    return float((a - b).norm() / b.norm())
