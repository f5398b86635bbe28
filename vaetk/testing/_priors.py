"""Contract checks for priors plugins (see :mod:`vaetk.testing`).

The idiom checks (:mod:`vaetk.testing._idiom`) come first: a prior's construction context is ``latent_dim``, and
two priors are equal when their parameters, buffers and regularisation terms are. Every other check builds the
prior from ``example_config()`` with ``LATENT_DIM`` latents (the paper's 2) and feeds it
a small batch of encoder outputs; randomness is seeded, so a failure reproduces.
"""

from __future__ import annotations

import io

import torch

from vaetk.errors import ConfigError, DataError
from vaetk.testing import Check
from vaetk.testing._idiom import assert_same_state, idiom_checks

LATENT_DIM = 2
BATCH = 5


def _build(plugin: type, seed: int = 0, latent_dim: int = LATENT_DIM):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    return plugin(plugin.example_config(), latent_dim=latent_dim)


def _latents(seed: int = 1, batch: int = BATCH, latent_dim: int = LATENT_DIM, requires_grad: bool = False):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    mu = (torch.randn(batch, latent_dim, generator=g) * 1.5).requires_grad_(requires_grad)
    logvar = (torch.randn(batch, latent_dim, generator=g) * 0.5 - 0.5).requires_grad_(requires_grad)
    eps = torch.randn(batch, latent_dim, generator=g)
    z = mu + torch.exp(0.5 * logvar) * eps
    return z, mu, logvar


def _regularization(prior, z, mu, logvar, seed: int = 2):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)  # priors that estimate by sampling use the global RNG
    return prior.regularization(z, mu, logvar)


def _build_from(plugin: type, config: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return plugin(config, latent_dim=LATENT_DIM)


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert_same_state(a, b)
    z, mu, logvar = _latents()
    ta, tb = _regularization(a, z, mu, logvar), _regularization(b, z, mu, logvar)
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta), "regularization differs"


def check_bad_latent_dim_is_config_error(plugin: type) -> None:
    for bad in (0, -1):
        try:
            plugin(plugin.example_config(), latent_dim=bad)
        except ConfigError as exc:
            assert "latent_dim" in str(exc), f"the ConfigError for latent_dim={bad} must name 'latent_dim': {exc}"
        else:
            raise AssertionError(f"latent_dim={bad} must raise ConfigError")


def check_regularization_keys_shapes(plugin: type) -> None:
    prior = _build(plugin)
    z, mu, logvar = _latents()
    terms = _regularization(prior, z, mu, logvar)
    assert isinstance(terms, dict) and "total" in terms, (
        f"regularization must return a dict with 'total', got {terms!r}")
    for key, value in terms.items():
        assert isinstance(key, str), f"term names must be strings, got {key!r}"
        assert isinstance(value, torch.Tensor) and tuple(value.shape) == (BATCH,), (
            f"term {key!r} must be a tensor of shape ({BATCH},), got "
            f"{tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}")
        assert value.dtype == mu.dtype, f"term {key!r} has dtype {value.dtype}, expected {mu.dtype}"
        assert bool(torch.isfinite(value).all()), f"term {key!r} is not finite: {value}"
    if plugin.exact_kl:
        assert bool((terms["total"] >= -1e-6).all()), f"an exact KL must be >= 0, got {terms['total']}"


def check_exact_kl_per_sample(plugin: type) -> None:
    """An exact KL is per sample (a batch gives the same values as its samples one by one)."""
    if not plugin.exact_kl:
        return
    prior = _build(plugin)
    z, mu, logvar = _latents()
    batch = _regularization(prior, z, mu, logvar)["total"]
    single = torch.cat([_regularization(prior, z[i:i + 1], mu[i:i + 1], logvar[i:i + 1])["total"]
                        for i in range(BATCH)])
    torch.testing.assert_close(batch, single, rtol=1e-5, atol=1e-6, msg="exact KL must be computed per sample")


def check_gradients_flow(plugin: type) -> None:
    prior = _build(plugin)
    z0, mu, logvar = _latents(requires_grad=True)
    eps = torch.randn(BATCH, LATENT_DIM, generator=torch.Generator().manual_seed(3))
    z = mu + torch.exp(0.5 * logvar) * eps
    total = _regularization(prior, z, mu, logvar)["total"].sum()
    total.backward()
    for label, t in (("mu", mu), ("logvar", logvar)):
        assert t.grad is not None and bool(torch.isfinite(t.grad).all()), f"no finite gradient reaches {label}"
        assert bool((t.grad != 0).any()), f"the gradient reaching {label} is identically zero"
    for name, p in prior.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and bool(torch.isfinite(p.grad).all()), (
                f"prior parameter {name!r} gets no finite gradient from 'total'")


def check_bad_latent_shape_is_data_error(plugin: type) -> None:
    prior = _build(plugin)
    z, mu, logvar = _latents(latent_dim=LATENT_DIM + 1)
    try:
        prior.regularization(z, mu, logvar)
    except DataError:
        return
    raise AssertionError(f"regularization on latents of width {LATENT_DIM + 1} (prior built with latent_dim="
                         f"{LATENT_DIM}) must raise vaetk.errors.DataError")


def check_sample_shape_and_generator(plugin: type) -> None:
    prior = _build(plugin)
    s1 = prior.sample(7, torch.Generator().manual_seed(4))
    s2 = prior.sample(7, torch.Generator().manual_seed(4))
    assert isinstance(s1, torch.Tensor) and tuple(s1.shape) == (7, LATENT_DIM), (
        f"sample(7) must have shape (7, {LATENT_DIM}), got {getattr(s1, 'shape', None)}")
    assert bool(torch.isfinite(s1).all()), "samples must be finite"
    assert torch.equal(s1, s2), "sample() with equally seeded generators must give equal samples"
    s3 = prior.sample(7, torch.Generator().manual_seed(5))
    assert not torch.equal(s1, s3), "sample() ignores its generator (different seeds gave equal samples)"
    assert tuple(prior.sample(0).shape) == (0, LATENT_DIM), "sample(0) must have shape (0, latent_dim)"


def check_deterministic_under_manual_seed(plugin: type) -> None:
    a, b = _build(plugin, seed=11), _build(plugin, seed=11)
    z, mu, logvar = _latents()
    ta, tb = _regularization(a, z, mu, logvar), _regularization(b, z, mu, logvar)
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), f"term {key!r} differs between equally seeded runs"


def check_state_dict_round_trip(plugin: type) -> None:
    a, b = _build(plugin, seed=11), _build(plugin, seed=12)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b.load_state_dict(torch.load(buffer, weights_only=True))
    z, mu, logvar = _latents()
    ta, tb = _regularization(a, z, mu, logvar), _regularization(b, z, mu, logvar)
    for key in ta:
        assert torch.equal(ta[key], tb[key]), f"term {key!r} differs after a state_dict round trip"
    ga, gb = a.sample(4, torch.Generator().manual_seed(0)), b.sample(4, torch.Generator().manual_seed(0))
    assert torch.equal(ga, gb), "samples differ after a state_dict round trip"


def check_authors_normalizer(plugin: type) -> None:
    value = _build(plugin).authors_normalizer()
    assert isinstance(value, float) and value > 0, f"authors_normalizer() must be a positive float, got {value!r}"


CHECKS: list[Check] = [
    *idiom_checks(_build_from, _assert_same, context=("latent_dim",)),
    Check("bad_latent_dim_is_config_error", check_bad_latent_dim_is_config_error),
    Check("regularization_keys_shapes", check_regularization_keys_shapes),
    Check("exact_kl_per_sample", check_exact_kl_per_sample),
    Check("gradients_flow", check_gradients_flow),
    Check("bad_latent_shape_is_data_error", check_bad_latent_shape_is_data_error),
    Check("sample_shape_and_generator", check_sample_shape_and_generator),
    Check("deterministic_under_manual_seed", check_deterministic_under_manual_seed),
    Check("state_dict_round_trip", check_state_dict_round_trip),
    Check("authors_normalizer", check_authors_normalizer),
]
