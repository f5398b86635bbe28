"""Small building blocks shared by the built-in architectures."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU, "tanh": nn.Tanh}


def mlp(sizes: list[int], activation: str, *, final_activation: bool = False) -> nn.Sequential:
    """Linear layers sizes[0] -> sizes[1] -> ... with ``activation`` between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)
