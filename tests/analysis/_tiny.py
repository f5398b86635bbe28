"""A tiny VAE (with BatchNorm, like DenseVAE) and data for the analysis tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from vaetk.models.architectures import Architecture
from vaetk.models.vae import VAE


class TinyArchitecture(Architecture):
    """Linear encoder/decoder with one BatchNorm layer each; for fast analysis tests."""

    name: ClassVar[str] = "tiny"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        hidden: int = 8

    def __init__(self, config: Config, *, input_shape, latent_dim):
        super().__init__(config, input_shape=input_shape, latent_dim=latent_dim)
        n = input_shape[0] * input_shape[1] * input_shape[2]
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(n, config.hidden), nn.BatchNorm1d(config.hidden), nn.Tanh())
        self.mu = nn.Linear(config.hidden, latent_dim)
        self.logvar = nn.Linear(config.hidden, latent_dim)
        self.dec = nn.Sequential(nn.Linear(latent_dim, config.hidden), nn.BatchNorm1d(config.hidden), nn.Tanh(),
                                 nn.Linear(config.hidden, n))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h) - 2.0

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        mean = self.dec(z).view(z.shape[0], *self.input_shape)
        return mean, self.decoder_logvar.view(1, 1, *self.input_shape[1:])


def tiny_vae(prior_cls, seed: int, *, latent_dim: int = 2, prior_config=None, shape=(3, 4, 4)) -> VAE:
    torch.manual_seed(seed)
    arch = TinyArchitecture(TinyArchitecture.Config(), input_shape=shape, latent_dim=latent_dim)
    prior = prior_cls(prior_config or prior_cls.Config(), latent_dim=latent_dim)
    return VAE(arch, prior)


def tiny_data(n: int = 40, seed: int = 0, shape=(3, 4, 4)) -> tuple[Tensor, Tensor]:
    """Data that depend smoothly on two factors theta, so a latent space can align with them."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(n, 2, generator=g)
    basis = torch.randn(2, *shape, generator=g)
    x = torch.tanh(torch.einsum("ns,schw->nchw", theta, basis)) + 0.05 * torch.randn(n, *shape, generator=g)
    return x, theta


def train_briefly(vae: VAE, x: Tensor, steps: int = 60, seed: int = 0) -> VAE:
    """A few Adam steps so the model is not at its initialisation (keeps BatchNorm statistics moving)."""
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    vae.train()
    for _ in range(steps):
        opt.zero_grad()
        vae.loss_terms(x, generator=g).objective(1.0, "elbo").backward()
        opt.step()
    return vae
