"""Beta schedules: Klushyn et al.'s update against hand computations, clipping, phases, alternatives."""

from __future__ import annotations

import math

import pytest

from vaetk.errors import ConfigError
from vaetk.training._schedules import PiecewiseLR, make_schedule, parse_schedule


def build(table, steps_per_epoch=4):
    kind, config = parse_schedule(table)
    return make_schedule(kind, config, steps_per_epoch=steps_per_epoch)


def test_klushyn_update_matches_hand_computation():
    s = build({"kind": "klushyn", "beta0": 1e-3, "nu": 0.005, "tau": 1.0})
    s.start_epoch(0)
    # Constraint satisfied (delta = -9.3 < 0): beta <- beta * exp(nu * tanh(tau (beta - 1)) * delta).
    s.step(-9.3)
    expected = 1e-3 * math.exp(0.005 * math.tanh(1e-3 - 1.0) * -9.3)
    assert s.beta == pytest.approx(expected, rel=1e-14)
    assert s.beta > 1e-3
    # Constraint violated (delta = +2 > 0): f = -1, beta <- beta * exp(-nu * delta).
    before = s.beta
    s.step(2.0)
    assert s.beta == pytest.approx(before * math.exp(-0.005 * 2.0), rel=1e-14)


def test_klushyn_kappa_shifts_the_constraint_and_alpha_smooths():
    s = build({"kind": "klushyn", "beta0": 0.5, "nu": 0.1, "tau": 2.0, "kappa": -9.0, "alpha": 0.5})
    s.start_epoch(0)
    s.step(-9.5)  # first step: no history, C = -9.5, delta = -0.5
    b1 = 0.5 * math.exp(0.1 * math.tanh(2.0 * (0.5 - 1.0)) * -0.5)
    assert s.beta == pytest.approx(b1, rel=1e-14)
    s.step(-8.0)  # C = 0.5 * -8.0 + 0.5 * -9.5 = -8.75, delta = +0.25: violated
    assert s.beta == pytest.approx(b1 * math.exp(-0.1 * 0.25), rel=1e-14)


def test_klushyn_is_clipped_at_beta_max_and_approaches_one_from_below():
    s = build({"kind": "klushyn", "beta0": 0.9, "nu": 5.0})
    s.start_epoch(0)
    for _ in range(200):
        s.step(-50.0)
        assert s.beta <= 1.0
    assert s.beta == pytest.approx(1.0, abs=1e-6)
    capped = build({"kind": "klushyn", "beta0": 1e-3, "nu": 1.0, "beta_max": 0.01})
    capped.start_epoch(0)
    for _ in range(50):
        capped.step(-9.0)
    assert capped.beta == 0.01


def test_authors_settings_reach_one_from_1e9():
    """With the authors' nu = 0.005, tau = 1 and per-pixel L_REC about -9.3, beta climbs from 1e-9 to ~1."""
    s = build({"kind": "klushyn"})
    s.start_epoch(0)
    steps = 0
    while s.beta < 0.5 and steps < 10_000:
        s.step(-9.3)
        steps += 1
    # Far from 1, f ~ tanh(-1): ln(0.5 / 1e-9) / (0.005 * tanh(1) * 9.3) steps, plus the slower approach.
    assert math.log(0.5e9) / (0.005 * math.tanh(1.0) * 9.3) < steps < 1.5 * math.log(0.5e9) / (0.005 * 0.46 * 9.3)


def test_reconstruction_phase_has_beta_zero_and_no_updates():
    s = build({"kind": "klushyn", "reconstruction_epochs": 3, "beta0": 1e-4}, steps_per_epoch=2)
    for epoch in range(3):
        s.start_epoch(epoch)
        assert s.in_reconstruction_phase and s.beta == 0.0
        s.step(-9.0)
        s.step(-9.0)
    s.start_epoch(3)
    assert not s.in_reconstruction_phase
    assert s.beta == 1e-4  # the reconstruction phase did not move it


def test_state_dict_round_trip_continues_identically():
    a = build({"kind": "klushyn", "beta0": 1e-5, "nu": 0.05, "alpha": 0.3})
    a.start_epoch(0)
    for v in (-9.0, -8.0, 1.0):
        a.step(v)
    b = build({"kind": "klushyn", "beta0": 1e-5, "nu": 0.05, "alpha": 0.3})
    b.load_state_dict(a.state_dict())
    for v in (-7.0, -9.5):
        a.step(v)
        b.step(v)
    assert a.beta == b.beta
    c = build({"kind": "constant"})
    with pytest.raises(ConfigError, match="'klushyn'"):
        c.load_state_dict(a.state_dict())


def test_constant_linear_cyclical():
    c = build({"kind": "constant", "value": 0.3, "reconstruction_epochs": 1})
    c.start_epoch(0)
    assert c.beta == 0.0
    c.start_epoch(1)
    assert c.beta == 0.3
    lin = build({"kind": "linear", "start": 0.0, "end": 1.0, "ramp_epochs": 2, "reconstruction_epochs": 1},
                steps_per_epoch=4)
    lin.start_epoch(1)
    assert lin.beta == 0.0
    lin.step(0.0)
    assert lin.beta == pytest.approx(1 / 8)
    lin.start_epoch(2)
    lin.step(0.0)
    lin.step(0.0)
    assert lin.beta == pytest.approx(0.75)
    lin.start_epoch(5)
    assert lin.beta == 1.0
    cyc = build({"kind": "cyclical", "cycle_epochs": 4, "ramp_fraction": 0.5, "beta_max": 2.0}, steps_per_epoch=1)
    values = []
    for epoch in range(8):
        cyc.start_epoch(epoch)
        values.append(cyc.beta)
    assert values == [0.0, 1.0, 2.0, 2.0, 0.0, 1.0, 2.0, 2.0]


def test_bad_schedule_tables():
    with pytest.raises(ConfigError, match=r"schedule\.kind: unknown beta schedule 'klushin'.*'klushyn'"):
        parse_schedule({"kind": "klushin"})
    with pytest.raises(ConfigError, match=r"schedule\.nuu: unknown key; did you mean 'nu'"):
        parse_schedule({"kind": "klushyn", "nuu": 0.1})
    with pytest.raises(ConfigError, match=r"schedule\.value: unknown key"):
        parse_schedule({"kind": "klushyn", "value": 1.0})  # a key of another kind
    with pytest.raises(ConfigError, match="'beta0' parameter of schedule 'klushyn'"):
        build({"kind": "klushyn", "beta0": 0.0})
    with pytest.raises(ConfigError, match=r"schedule\.tau: expected a number"):
        parse_schedule({"kind": "klushyn", "tau": "one"})


def test_piecewise_lr():
    lr = PiecewiseLR(3e-4, [(10, 5e-5), (20, 2.5e-5)])
    assert [lr(e) for e in (0, 9, 10, 19, 20, 99)] == [3e-4, 3e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5]
    with pytest.raises(ConfigError, match="strictly increasing"):
        PiecewiseLR(1e-3, [(10, 1e-4), (5, 1e-5)])
