"""Contract checks for architectures plugins (see :mod:`vaetk.testing`).

The idiom checks (:mod:`vaetk.testing._idiom`) come first: an architecture's construction context is
``input_shape`` and ``latent_dim``, and two architectures are equal when their parameters, buffers and outputs
are. The other checks build architectures from ``example_config()`` for small, deliberately odd input shapes
(nothing may be hard-coded to 65x65), with the paper's 2 latents; randomness is seeded, so a failure reproduces.
"""

from __future__ import annotations

import io

import torch

from vaetk.errors import ConfigError, DataError
from vaetk.testing import Check
from vaetk.testing._idiom import assert_same_state, idiom_checks

LATENT_DIM = 2
BATCH = 4
SHAPE = (3, 17, 23)
ODD_SHAPES = ((3, 17, 23), (1, 16, 16), (2, 9, 33), (3, 33, 33))


def _build(plugin: type, seed: int = 0, shape: tuple[int, int, int] = SHAPE):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    return plugin(plugin.example_config(), input_shape=shape, latent_dim=LATENT_DIM)


def _data(shape: tuple[int, int, int] = SHAPE, batch: int = BATCH, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, *shape, generator=torch.Generator().manual_seed(seed))


def _latent(batch: int = BATCH, seed: int = 2) -> torch.Tensor:
    return torch.randn(batch, LATENT_DIM, generator=torch.Generator().manual_seed(seed))


def _assert_outputs(model, x: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
    shape = tuple(x.shape[1:])
    mu, logvar = model.encode(x)
    for label, t in (("mu", mu), ("logvar", logvar)):
        assert isinstance(t, torch.Tensor) and tuple(t.shape) == (x.shape[0], LATENT_DIM), (
            f"encode({tuple(x.shape)}) {label} must have shape ({x.shape[0]}, {LATENT_DIM}), got "
            f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
        assert t.dtype == x.dtype, f"encode {label} has dtype {t.dtype}, expected {x.dtype}"
        assert bool(torch.isfinite(t).all()), f"encode {label} is not finite"
    mean, dec_logvar = model.decode(mu)
    assert tuple(mean.shape) == tuple(x.shape), (
        f"decode mean must have the data's shape {tuple(x.shape)}, got {tuple(mean.shape)} (input_shape={shape})")
    assert tuple(dec_logvar.shape) == (1, 1, *shape[1:]), (
        f"decode logvar must have shape (1, 1, H, W) = (1, 1, {shape[1]}, {shape[2]}), got "
        f"{tuple(dec_logvar.shape)}")
    assert mean.dtype == x.dtype and dec_logvar.dtype == x.dtype, "decode outputs must have the data's dtype"
    assert bool(torch.isfinite(mean).all()) and bool(torch.isfinite(dec_logvar).all()), "decode is not finite"


def _build_from(plugin: type, config: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return plugin(config, input_shape=SHAPE, latent_dim=LATENT_DIM)


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert_same_state(a, b)
    a.eval()
    b.eval()
    x = _data()
    with torch.no_grad():
        for ya, yb in zip((*a.encode(x), *a.decode(_latent())), (*b.encode(x), *b.decode(_latent())), strict=True):
            assert torch.equal(ya, yb), "outputs differ"


def check_bad_arguments_are_config_errors(plugin: type) -> None:
    cases = [({"input_shape": SHAPE, "latent_dim": 0}, "latent_dim"),
             ({"input_shape": (3, 0, 17), "latent_dim": 2}, "input_shape"),
             ({"input_shape": (3, 17), "latent_dim": 2}, "input_shape")]
    for kwargs, word in cases:
        try:
            plugin(plugin.example_config(), **kwargs)
        except ConfigError as exc:
            assert word in str(exc), f"the ConfigError for {kwargs} must name {word!r}: {exc}"
        else:
            raise AssertionError(f"{kwargs} must raise ConfigError")


def check_shapes_and_dtypes_any_size(plugin: type) -> None:
    for shape in ODD_SHAPES:
        model = _build(plugin, shape=shape)
        model.train()
        _assert_outputs(model, _data(shape))
        model.eval()
        with torch.no_grad():
            _assert_outputs(model, _data(shape, batch=1))


def check_float64(plugin: type) -> None:
    model = _build(plugin).double()
    _assert_outputs(model, _data().double())


def check_wrong_input_shape_is_data_error(plugin: type) -> None:
    model = _build(plugin)
    c, h, w = SHAPE
    for bad in (torch.zeros(2, c, h + 1, w), torch.zeros(2, c + 1, h, w), torch.zeros(c, h, w)):
        try:
            model.encode(bad)
        except DataError:
            continue
        raise AssertionError(f"encode on data of shape {tuple(bad.shape)} (built for {SHAPE}) must raise DataError")
    try:
        model.decode(torch.zeros(2, LATENT_DIM + 1))
    except DataError:
        return
    raise AssertionError(f"decode on latents of width {LATENT_DIM + 1} must raise DataError")


def check_gradients_flow(plugin: type) -> None:
    model = _build(plugin)
    model.train()
    x = _data()
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * _latent()
    mean, dec_logvar = model.decode(z)
    loss = (0.5 * (dec_logvar + (x - mean) ** 2 * torch.exp(-dec_logvar))).sum() + (mu ** 2 + logvar.exp()).sum()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters get no gradient from encode/decode: {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    assert not bad, f"non-finite gradients: {bad}"
    assert bool((model.decoder_logvar.grad != 0).any()), "the decoder log-variance gets a zero gradient"


def check_deterministic_under_manual_seed(plugin: type) -> None:
    a, b = _build(plugin, seed=7), _build(plugin, seed=7)
    for (name, ta), (_, tb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(ta, tb), f"state {name!r} differs between equally seeded constructions"
    a.eval()
    b.eval()
    x = _data()
    with torch.no_grad():
        for ya, yb in zip((*a.encode(x), *a.decode(_latent())), (*b.encode(x), *b.decode(_latent())), strict=True):
            assert torch.equal(ya, yb), "outputs differ between equally seeded constructions"


def check_state_dict_round_trip(plugin: type) -> None:
    a, b = _build(plugin, seed=7), _build(plugin, seed=8)
    a.train()
    a.encode(_data(batch=8))  # update any running statistics so they are part of what must round-trip
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b.load_state_dict(torch.load(buffer, weights_only=True))
    a.eval()
    b.eval()
    x = _data()
    with torch.no_grad():
        for ya, yb in zip((*a.encode(x), *a.decode(_latent())), (*b.encode(x), *b.decode(_latent())), strict=True):
            assert torch.equal(ya, yb), "outputs differ after a state_dict round trip"


def check_init_decoder_logvar(plugin: type) -> None:
    model = _build(plugin)
    h, w = SHAPE[1:]
    variance = torch.rand(h, w, generator=torch.Generator().manual_seed(3)) * 1e-3
    variance[0, 0] = 0.0
    model.init_decoder_logvar(variance)
    _, dec_logvar = model.decode(_latent())
    expected = torch.log(variance.clamp(min=1e-8))
    torch.testing.assert_close(dec_logvar[0, 0], expected, msg="init_decoder_logvar must set log(clamp(var))")
    try:
        model.init_decoder_logvar(torch.ones(h + 1, w))
    except DataError:
        return
    raise AssertionError("init_decoder_logvar with a wrongly shaped variance must raise DataError")


def check_init_decoder_mean(plugin: type) -> None:
    model = _build(plugin)
    model.eval()
    z = _latent()
    with torch.no_grad():
        before, _ = model.decode(z)
        offset = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(4))
        model.init_decoder_mean(offset)
        after, _ = model.decode(z)
    torch.testing.assert_close(after - before, offset.expand_as(before), rtol=1e-5, atol=1e-5,
                               msg="init_decoder_mean(m) must shift the decoder mean by m (end decode with "
                                   "`return self.decoder_outputs(raw_mean)`)")
    try:
        model.init_decoder_mean(torch.zeros(SHAPE[0] + 1, *SHAPE[1:]))
    except DataError:
        return
    raise AssertionError("init_decoder_mean with a wrongly shaped mean must raise DataError")


def check_standardization(plugin: type) -> None:
    """Standardising with (m, s) and feeding m + s * x must give the encoder outputs of x unstandardised, and
    the decoder mean must become s * raw + decoder_offset (start encode with ``x = self.prepare_input(x)`` and
    end decode with ``return self.decoder_outputs(raw_mean)``)."""
    plain, scaled = _build(plugin, seed=5), _build(plugin, seed=5)
    plain.eval()
    scaled.eval()
    gen = torch.Generator().manual_seed(6)
    mean = torch.randn(*SHAPE, generator=gen)
    scale = torch.rand(SHAPE[0], generator=gen) + 0.5
    scaled.init_standardization(mean, scale)
    x, z = _data(), _latent()
    with torch.no_grad():
        for label, a, b in zip(("mu", "logvar"), plain.encode(x), scaled.encode(mean + scale.view(-1, 1, 1) * x),
                               strict=True):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4, msg=f"encode {label} must see the data "
                                       "standardised: start encode with `x = self.prepare_input(x)`")
        (raw, _), (out, _) = plain.decode(z), scaled.decode(z)
    torch.testing.assert_close(out, raw * scale.view(-1, 1, 1), rtol=1e-5, atol=1e-5,
                               msg="init_standardization(m, s) must scale the raw decoder mean by s (end decode "
                                   "with `return self.decoder_outputs(raw_mean)`)")
    for bad_mean, bad_scale in ((torch.zeros(SHAPE[0] + 1, *SHAPE[1:]), scale), (mean, -scale)):
        try:
            scaled.init_standardization(bad_mean, bad_scale)
        except DataError:
            continue
        raise AssertionError("init_standardization with a wrongly shaped mean or a non-positive scale must raise "
                             "DataError")


CHECKS: list[Check] = [
    *idiom_checks(_build_from, _assert_same, context=("input_shape", "latent_dim")),
    Check("bad_arguments_are_config_errors", check_bad_arguments_are_config_errors),
    Check("shapes_and_dtypes_any_size", check_shapes_and_dtypes_any_size),
    Check("float64", check_float64),
    Check("wrong_input_shape_is_data_error", check_wrong_input_shape_is_data_error),
    Check("gradients_flow", check_gradients_flow),
    Check("deterministic_under_manual_seed", check_deterministic_under_manual_seed),
    Check("state_dict_round_trip", check_state_dict_round_trip),
    Check("init_decoder_logvar", check_init_decoder_logvar),
    Check("init_decoder_mean", check_init_decoder_mean),
    Check("standardization", check_standardization),
]
