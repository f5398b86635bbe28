"""Built-in architectures: parameter counts of the dense_vae presets against an independent count of the
documented layer list, any input size, bad configs, and a short real training run of `small`."""

from __future__ import annotations

import math

import pytest
import torch

from vaetk.config import parse_config
from vaetk.errors import ConfigError
from vaetk.models.gaussian import diag_gaussian_log_prob, kl_to_standard_normal
from vaetk.registry import registry

DenseVAE = registry.architectures.get("dense_vae")
Small = registry.architectures.get("small")


def _count_dense_vae(c: int, height: int, width: int, latent: int, *, f0: int, growth: int, enc: tuple[int, ...],
                     dec: tuple[int, ...], bottleneck: int, hidden: tuple[int, ...], compression: float) -> int:
    """Parameters of the layer list in dense_vae's docstring, counted by hand (BatchNorm: weight and bias)."""

    def dense_block(f: int, n: int) -> tuple[int, int]:
        total = sum(2 * (f + i * growth) + 9 * (f + i * growth) * growth for i in range(n))
        return total, f + n * growth

    def linear(sizes: list[int]) -> int:
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    h, w = math.ceil(height / 2), math.ceil(width / 2)
    encoder, f = c * f0 * 49, f0
    for i, n in enumerate(enc):
        block, f_in = dense_block(f, n)
        out = bottleneck if i == len(enc) - 1 else math.floor(compression * f_in)
        encoder += block + 2 * f_in + f_in * out + 2 * out + 9 * out * out
        f = out
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    flat = bottleneck * h * w
    encoder += linear([flat, *hidden, latent])
    decoder, f = linear([latent, *hidden[::-1], flat]), bottleneck
    for n in dec:
        block, f_in = dense_block(f, n)
        out = math.floor(compression * f_in)
        decoder += block + 2 * f_in + f_in * out + 2 * out + 9 * out * out
        f = out
    decoder += 2 * f + 25 * f * c
    return 2 * encoder + decoder + height * width  # + the decoder log-variance


@pytest.mark.parametrize(("preset", "bottleneck", "low", "high"), [
    ("paper", 3, 0.80e6, 0.95e6), ("authors_default", 35, 7.9e6, 8.1e6)])
def test_dense_vae_preset_parameter_counts(preset: str, bottleneck: int, low: float, high: float) -> None:
    model = DenseVAE(DenseVAE.Config(preset=preset), input_shape=(3, 65, 65), latent_dim=2)
    count = model.n_parameters()
    assert low <= count <= high, count
    expected = _count_dense_vae(3, 65, 65, 2, f0=48, growth=16, enc=(4,), dec=(4, 4), bottleneck=bottleneck,
                                hidden=(256,), compression=0.5)
    assert count == expected
    assert model.sizes.bottleneck_features == bottleneck


def test_dense_vae_overrides_and_counts_at_other_sizes() -> None:
    config = parse_config(DenseVAE.Config, {"preset": "paper", "growth_rate": 8, "encoder_blocks": [2, 3],
                                            "decoder_blocks": [2, 2, 2], "hidden": [64, 32]}, path="architecture")
    model = DenseVAE(config, input_shape=(2, 40, 27), latent_dim=3)
    expected = _count_dense_vae(2, 40, 27, 3, f0=48, growth=8, enc=(2, 3), dec=(2, 2, 2), bottleneck=3,
                                hidden=(64, 32), compression=0.5)
    assert model.n_parameters() == expected
    assert model._bottom == (3, 5, 4)  # 40 -> 20 -> 10 -> 5 and 27 -> 14 -> 7 -> 4


@pytest.mark.parametrize("shape", [(3, 65, 65), (3, 64, 64), (1, 33, 17), (3, 129, 65), (2, 5, 7)])
def test_dense_vae_any_input_size(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = DenseVAE(DenseVAE.Config(), input_shape=shape, latent_dim=2)
    x = torch.randn(2, *shape)
    mu, logvar = model.encode(x)
    mean, dec_logvar = model.decode(mu)
    assert mu.shape == logvar.shape == (2, 2)
    assert mean.shape == x.shape and dec_logvar.shape == (1, 1, *shape[1:])


def test_dense_vae_mean_and_logvar_encoders_are_separate_networks() -> None:
    torch.manual_seed(0)
    model = DenseVAE(DenseVAE.Config(), input_shape=(3, 17, 17), latent_dim=2)
    mu_params = {id(p) for p in model.mu_encoder.parameters()}
    assert mu_params.isdisjoint(id(p) for p in model.logvar_encoder.parameters())
    mu, logvar = model.encode(torch.randn(3, 3, 17, 17))
    mu.sum().backward()
    assert all(p.grad is None for p in model.logvar_encoder.parameters())


def test_dense_vae_convolutions_are_bias_free() -> None:
    model = DenseVAE(DenseVAE.Config(), input_shape=(3, 17, 17), latent_dim=2)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs and all(m.bias is None for m in convs)


@pytest.mark.parametrize(("table", "match"), [
    ({"growth_rate": -1}, r"'growth_rate' parameter of architecture 'dense_vae' must be an int in the range"),
    ({"encoder_blocks": [4, 0]}, r"'encoder_blocks'.*positive ints. Got \(4, 0\)"),
    ({"decoder_blocks": [4]}, r"'decoder_blocks'.*len\(encoder_blocks\) \+ 1 = 2"),
    ({"compression": 0.0}, r"'compression'.*\(0, 1\]"),
    ({"preset": "paperr"}, r"architecture\.preset: expected one of 'paper', 'authors_default'.*Did you mean 'paper'"),
    ({"growth": 4}, r"architecture\.growth: unknown key; did you mean 'growth_rate'\?"),
    ({"hidden": [256, "wide"]}, r"architecture\.hidden\[1\]: expected an integer"),
])
def test_dense_vae_bad_config_is_config_error(table: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DenseVAE(parse_config(DenseVAE.Config, table, path="architecture"), input_shape=(3, 17, 17), latent_dim=2)


@pytest.mark.parametrize(("table", "match"), [
    ({"channels": []}, "'channels'"), ({"channels": [8, -2]}, "'channels'"), ({"hidden": 0}, "'hidden'")])
def test_small_bad_config_is_config_error(table: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Small(parse_config(Small.Config, table, path="architecture"), input_shape=(3, 17, 17), latent_dim=2)


def _toy_fields(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """3-channel smooth fields driven by 2 standard-normal parameters, offset and small spread like Darcy data."""
    theta = torch.randn(n, 2, 1, 1, generator=generator)
    x = torch.linspace(0, 1, size)[None, None, :]
    y = torch.linspace(0, 1, size)[None, :, None]
    c0 = 0.5 + 0.05 * theta[:, 0] * torch.sin(math.pi * x) * torch.cos(math.pi * y) + 0.03 * theta[:, 1] * x * y
    c1 = 0.04 * theta[:, 1] * torch.sin(2 * math.pi * y) + 0.02 * theta[:, 0] * x
    c2 = -0.1 + 0.03 * (theta[:, 0] + theta[:, 1]) * torch.cos(math.pi * x) * (1 + y)
    return torch.stack([c0, c1, c2], dim=1)


@pytest.fixture
def one_thread():  # type: ignore[no-untyped-def]
    """Small convolutions run fastest on one thread (and the CI machine is shared); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("one_thread")
def test_small_trains_in_seconds_and_beats_the_constant_predictor() -> None:
    """A real short run on unnormalised toy fields (spread small against the mean, like the Darcy data), the
    decoder started from the data mean and variance: the per-pixel reconstruction NLL at the encoder mean ends
    well below the constant predictor's (Theorem 1: per-pixel data mean and variance)."""
    g = torch.Generator().manual_seed(0)
    train, test = _toy_fields(256, 17, g), _toy_fields(128, 17, g)
    torch.manual_seed(0)
    model = Small(Small.Config(), input_shape=(3, 17, 17), latent_dim=2)
    model.init_decoder_logvar(train.var(0, unbiased=False).mean(0))
    model.init_decoder_mean(train.mean(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(150):
        x = train[torch.randint(0, 256, (64,), generator=g)]
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
        mean, dec_logvar = model.decode(z)
        nll = -diag_gaussian_log_prob(x.flatten(1), mean.flatten(1), dec_logvar.expand_as(mean).flatten(1))
        loss = (nll + min(1.0, step / 100) * kl_to_standard_normal(mu, logvar)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    pixels = 17 * 17
    with torch.no_grad():
        mean, dec_logvar = model.decode(model.encode(test)[0])
        rec = -diag_gaussian_log_prob(test.flatten(1), mean.flatten(1),
                                      dec_logvar.expand_as(mean).flatten(1)).mean() / pixels
        var_c = train.var(0, unbiased=False).clamp(min=1e-8)
        const = -diag_gaussian_log_prob(test.flatten(1), train.mean(0).flatten()[None],
                                        torch.log(var_c).flatten()[None]).mean() / pixels
    assert float(rec) < float(const) - 0.2, (float(rec), float(const))
    # The mean alone explains most of the variance (the log-variance lags behind: Adam moves it by ~lr a step).
    explained = 1 - float(((test - mean) ** 2).mean() / ((test - train.mean(0)) ** 2).mean())
    assert explained > 0.8, (explained, float(rec), float(const))


@pytest.mark.usefixtures("one_thread")
def test_standardized_training_does_not_depend_on_the_data_units() -> None:
    """With init_standardization the network works in standardised units: data 3 + x / 20 (smaller spread,
    larger mean) trains exactly like x itself: twenty Adam steps from the same seed give the same encoder means
    (in float64, so that the affine map itself loses no digits; b is kept large enough that no pixel's variance
    reaches init_decoder_logvar's floor). The contract check `standardization` covers every architecture's
    wiring; this is the end-to-end consequence, on `small`."""
    plugin, config = Small, Small.example_config()
    g = torch.Generator().manual_seed(0)
    data = _toy_fields(64, 17, g).double()
    means = []
    for x in (data, 3.0 + data / 20):
        torch.manual_seed(0)
        model = plugin(config, input_shape=(3, 17, 17), latent_dim=2).double()
        std = x.var(0, unbiased=False).mean((1, 2)).sqrt()
        model.init_standardization(x.mean(0), std)
        model.init_decoder_mean(x.mean(0))
        model.init_decoder_logvar(x.var(0, unbiased=False).mean(0))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        noise = torch.Generator().manual_seed(1)
        for _ in range(20):
            mu, logvar = model.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=noise, dtype=mu.dtype)
            mean, dec_logvar = model.decode(z)
            nll = -diag_gaussian_log_prob(x.flatten(1), mean.flatten(1), dec_logvar.expand_as(mean).flatten(1))
            loss = (nll / x[0].numel() + kl_to_standard_normal(mu, logvar)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            means.append(model.encode(x)[0])
    torch.testing.assert_close(means[1], means[0], rtol=1e-6, atol=1e-8)


def test_weights_saved_before_standardization_load_unstandardized() -> None:
    """A state_dict without the standardisation buffers (written by an earlier vaetk) loads, and the model
    then computes what it computed before: identity standardisation."""
    torch.manual_seed(0)
    model = Small(Small.Config(), input_shape=(3, 9, 9), latent_dim=2)
    old = {k: v for k, v in model.state_dict().items() if k not in ("input_offset", "data_scale")}
    other = Small(Small.Config(), input_shape=(3, 9, 9), latent_dim=2)
    other.init_standardization(torch.ones(3, 9, 9), torch.full((3,), 2.0))
    other.load_state_dict(old)
    x = torch.randn(4, 3, 9, 9)
    assert torch.equal(other.encode(x)[0], model.encode(x)[0])
    assert torch.equal(other.data_scale, torch.ones(3, 1, 1)) and not other.input_offset.any()
