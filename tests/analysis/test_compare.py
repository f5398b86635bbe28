"""`vaetk compare`: arms on paired seeds, against hand-computed rates, exact intervals and paired tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaetk.cli.__main__ import main
from vaetk.errors import ConfigError, DataError
from vaetk.sweeps._compare import clopper_pearson, compare_arms, mcnemar_exact


def _sweep(root: Path, results: list[dict]) -> Path:
    """A sweep directory with one finished trial per seed (results[seed] is the trial's result)."""
    trials = [{"trial_id": f"base__seed-{s}", "setting": {}, "seed": s} for s in range(len(results))]
    root.mkdir(parents=True)
    (root / "sweep.json").write_text(json.dumps({"experiment": {}, "overrides": {}, "trials": trials}))
    for t, result in zip(trials, results, strict=True):
        rec = root / "records" / t["trial_id"]
        rec.mkdir(parents=True)
        (rec / "trial.json").write_text(json.dumps({**t, "status": "ok", "result": result, "error": "",
                                                    "traceback": "", "exit_status": 0, "host": "x", "seconds": 1}))
    return root


def _result(sd: float, *, over: bool = False, sd10: float | None = None, **extra) -> dict:
    return {"sd": sd, "skl": 1.0 - sd, "over_regularized": over, "rec_per_pixel": -12.0, "reg_per_pixel": 1.4,
            "constant_rec_per_pixel": -7.7, "sd_epoch_10": sd if sd10 is None else sd10, **extra}


def test_clopper_pearson_matches_closed_forms():
    # k = 0: upper bound 1 - (alpha/2)^(1/n); k = n: lower bound (alpha/2)^(1/n).
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)), rel=1e-12)
    assert clopper_pearson(20, 20) == pytest.approx((0.025 ** (1 / 20), 1.0), rel=1e-12)
    lo, hi = clopper_pearson(5, 10)  # symmetric about 1/2
    assert lo == pytest.approx(1 - hi, rel=1e-12) and lo == pytest.approx(0.18708, abs=1e-5)
    with pytest.raises(ConfigError, match="0 <= k <= n"):
        clopper_pearson(3, 2)


def test_mcnemar_exact_is_a_two_sided_binomial_test():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 * 0.5**6, rel=1e-12)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 2**10, rel=1e-12)  # 2 * P(X <= 1), X ~ Bin(10, 1/2)


def test_compare_arms_counts_pairs_and_trajectories(tmp_path):
    plain = _sweep(tmp_path / "plain", [_result(0.55), _result(0.9), _result(0.6), _result(0.7),
                                        _result(0.95, over=True)])
    prior = _sweep(tmp_path / "prior", [_result(0.85, sd10=0.6, reg_kl_xi_elbo=0.2), _result(0.92),
                                        _result(0.81), _result(0.5, sd10=0.45, reg_kl_xi_elbo=0.4),
                                        _result(0.9)])
    cmp = compare_arms({"plain": plain, "prior": prior}, threshold=0.8, moved=0.1)
    a, b = cmp.arms
    assert (a.n, a.disentangled, a.over_regularized) == (5, 1, 1)  # the over-regularised 0.95 does not count
    assert a.disentangled_ci == pytest.approx(clopper_pearson(1, 5))
    assert (b.disentangled, b.moved) == (4, 1)  # seed 0 moved by 0.25; seed 3 by 0.05
    assert b.quartiles["sd"][1] == pytest.approx(0.85) and b.reg_parts == {"reg_kl_xi_elbo": pytest.approx(0.3)}
    (test,) = cmp.paired
    assert (test.n_pairs, test.both, test.only_arm, test.only_reference) == (5, 1, 3, 0)
    assert test.p_value == pytest.approx(0.25)


def test_cli_writes_table_json_and_figure(tmp_path, capsys):
    plain = _sweep(tmp_path / "plain", [_result(0.55), _result(0.9), _result(0.6)])
    prior = _sweep(tmp_path / "prior", [_result(0.85), _result(0.92), _result(0.81)])
    assert main(["compare", f"plain={plain}", f"prior={prior}", "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "comparison.md").read_text()
    assert "| plain | 3 | 1/3 (1-91%)" in table and "| prior vs plain | 3 | 1 | 2 | 0 | 0.5 |" in table
    assert (tmp_path / "out" / "comparison.png").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "comparison.json").read_text())["threshold"] == 0.8
    assert "prior vs plain" in capsys.readouterr().out


def test_bad_arms_are_reported(tmp_path, capsys):
    assert main(["compare", "plain", "--out", str(tmp_path)]) != 0
    assert "arm 'plain': expected NAME=SWEEP_DIR" in capsys.readouterr().err
    assert main(["compare", f"plain={tmp_path / 'missing'}", "--out", str(tmp_path)]) != 0
    assert "is not a directory" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "sweep.json").write_text(json.dumps({"trials": []}))
    with pytest.raises(DataError, match="no finished trial"):
        compare_arms({"empty": empty})
    with pytest.raises(ConfigError, match="reference arm 'x'"):
        compare_arms({"empty": empty}, reference="x")
