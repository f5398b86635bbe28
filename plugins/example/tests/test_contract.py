"""The plugin passes vaetk's prior contract, and its density is right."""

from __future__ import annotations

import math

import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal
from vaetk_example_mog import MixtureOfGaussiansPrior

from vaetk.plugin import parametrize_with_checks


@parametrize_with_checks([MixtureOfGaussiansPrior])
def test_vaetk_contract(plugin, check):  # type: ignore[no-untyped-def]
    check(plugin)


def test_log_prob_matches_torch_mixture() -> None:
    torch.manual_seed(0)
    prior = MixtureOfGaussiansPrior(MixtureOfGaussiansPrior.Config(n_components=3), latent_dim=2).double()
    with torch.no_grad():
        prior.logits.copy_(torch.tensor([0.2, -1.0, 0.5]))
    reference = MixtureSameFamily(Categorical(logits=prior.logits.detach()),
                                  Independent(Normal(prior.means.detach(),
                                                     torch.exp(0.5 * prior.logvars.detach())), 1))
    z = torch.randn(50, 2, dtype=torch.float64)
    torch.testing.assert_close(prior.log_prob(z), reference.log_prob(z), rtol=1e-12, atol=1e-12)


def test_samples_follow_the_mixture() -> None:
    torch.manual_seed(0)
    prior = MixtureOfGaussiansPrior(MixtureOfGaussiansPrior.Config(n_components=2, init_std=0.1), latent_dim=1)
    with torch.no_grad():
        prior.means.copy_(torch.tensor([[-2.0], [3.0]]))
        prior.logits.copy_(torch.tensor([0.0, math.log(3.0)]))  # weights 1/4, 3/4
        samples = prior.sample(40_000, torch.Generator().manual_seed(1))
    assert abs(float((samples > 0.5).double().mean()) - 0.75) < 0.015  # 3.5 standard errors
