"""Fast test doubles (a tiny architecture and an exact-KL prior) and a tiny real Darcy dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn


class TinyArchitecture(nn.Module):
    """MLP encoder/decoder with BatchNorm, a (H, W) decoder log-variance and a fixed decoder-mean offset: the
    Architecture interface."""

    def __init__(self, config=None, *, input_shape, latent_dim, hidden=32):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        size = int(np.prod(input_shape))
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(size, hidden), nn.BatchNorm1d(hidden), nn.Tanh())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, size))
        self.decoder_logvar = nn.Parameter(torch.zeros(self.input_shape[1:]))
        self.register_buffer("decoder_offset", torch.zeros(self.input_shape))
        self.register_buffer("input_offset", torch.zeros(self.input_shape))
        self.register_buffer("data_scale", torch.ones(self.input_shape[0], 1, 1))

    def encode(self, x):
        # Flattened first, so a same-size input of the wrong shape reaches the VAE's own shape checks.
        scale = self.data_scale.expand(self.input_shape).flatten()
        h = self.body((x.flatten(1) - self.input_offset.flatten()) / scale)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        mean = self.dec(z).view(-1, *self.input_shape) * self.data_scale + self.decoder_offset
        return mean, self.decoder_logvar[None, None]

    def init_decoder_logvar(self, data_variance):
        with torch.no_grad():
            self.decoder_logvar.copy_(torch.log(data_variance.clamp_min(1e-8)))

    def init_decoder_mean(self, data_mean):
        with torch.no_grad():
            self.decoder_offset.copy_(data_mean)

    def init_standardization(self, data_mean, channel_scale):
        with torch.no_grad():
            self.input_offset.copy_(data_mean)
            self.data_scale.copy_(channel_scale.view(-1, 1, 1))


class ExactNormalPrior(nn.Module):
    """N(0, I) with the closed-form KL (the Prior interface)."""

    def __init__(self, config=None, *, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim

    def regularization(self, z, mu, logvar):
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return {"total": kl}

    def sample(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)

    def authors_normalizer(self):
        return float(self.latent_dim)


def make_vae(input_shape, latent_dim=2, seed=0, hidden=32):
    from vaetk.models.vae import VAE

    torch.manual_seed(seed)
    return VAE(TinyArchitecture(input_shape=input_shape, latent_dim=latent_dim, hidden=hidden),
               ExactNormalPrior(latent_dim=latent_dim))


@pytest.fixture(scope="session")
def darcy_data():
    """96 KLE2 Darcy samples on a 17 x 17 grid (64 train, 32 test), theta ~ N(0, I), paper scheme."""
    from vaetk.darcy import kle_basis, solve

    rng = np.random.default_rng(1234)
    basis = kle_basis(17, n_modes=2, cache=False)
    theta = rng.standard_normal((96, 2))
    fields = solve(basis.permeability(theta), scheme="paper")
    x = torch.as_tensor(fields, dtype=torch.float32)
    t = torch.as_tensor(theta, dtype=torch.float32)
    return x[:64], t[:64], x[64:], t[64:]


class _Doubles:
    """Namespace handed to tests (conftest is not importable under --import-mode=importlib)."""

    TinyArchitecture = TinyArchitecture
    ExactNormalPrior = ExactNormalPrior
    make_vae = staticmethod(make_vae)


@pytest.fixture(scope="session")
def doubles():
    return _Doubles
