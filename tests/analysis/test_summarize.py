"""`vaetk summarize` on a hand-made fixture sweep (tests/fixtures/sweeps/labels)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vaetk.cli.__main__ import main
from vaetk.errors import ConfigError, DataError
from vaetk.sweeps import summarize_sweep

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sweeps" / "labels"


@pytest.fixture
def sweep(tmp_path):
    dst = tmp_path / "labels"
    shutil.copytree(FIXTURE, dst)
    return dst


def test_summary_statistics_match_hand_computed_values(sweep):
    one, eight = summarize_sweep(sweep, write=False)  # the unfinished n_labels=32 trial is left out
    assert one.setting == {"semi.n_labels": 1} and (one.n_trials, one.n_failed) == (4, 0)
    assert (one.sd.median, one.sd.min, one.sd.max) == pytest.approx((0.80, 0.55, 0.99))
    assert one.skl.median == pytest.approx(0.35)
    assert one.disentangled_rate == pytest.approx(0.25)  # 0.95 only: 0.99 is over-regularised
    assert one.over_regularized_rate == pytest.approx(0.25)
    assert one.losses["loss_per_pixel"].median == pytest.approx(-9.425)
    assert (eight.n_trials, eight.n_failed) == (4, 1)
    assert eight.sd.median == pytest.approx(0.96) and eight.disentangled_rate == 1.0
    assert (eight.skl.n, eight.skl.median) == (2, pytest.approx(0.06))  # the nan S_KL is not a value
    assert eight.over_regularized_rate == 0.0


def test_threshold_changes_the_rate(sweep):
    one, eight = summarize_sweep(sweep, threshold=0.96, write=False)
    assert one.disentangled_rate == 0.0 and eight.disentangled_rate == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="threshold"):
        summarize_sweep(sweep, threshold=1.5, write=False)


def test_cli_writes_table_csv_json_and_figure(sweep, capsys):
    assert main(["summarize", str(sweep), "--divisor", "512"]) == 0
    out = capsys.readouterr().out
    assert "| n_labels-1 | 4 | 0 | 0.8 [0.55, 0.99] |" in out
    for name in ("summary.md", "summary.csv", "summary.json", "summary_sd.png"):
        assert (sweep / name).is_file(), name
    data = json.loads((sweep / "summary.json").read_text())
    assert data["threshold"] == 0.8 and [s["label"] for s in data["settings"]] == ["n_labels-1", "n_labels-8"]
    assert (sweep / "summary_sd.png").read_bytes()[:4] == b"\x89PNG"


def test_not_a_sweep_directory(tmp_path, capsys):
    with pytest.raises(DataError, match="sweep.json is missing"):
        summarize_sweep(tmp_path)
    assert main(["summarize", str(tmp_path)]) == 1
    assert "sweep.json is missing" in capsys.readouterr().err


def test_fig14_x_axis_is_logarithmic_for_label_counts(sweep):
    """1 and 8 labels span a factor of 8 (linear axis); a factor of 10 or more gets a log axis, as in Fig. 14."""
    import dataclasses

    from vaetk.sweeps._summary import plot_sd_against

    summaries = summarize_sweep(sweep, write=False)
    assert plot_sd_against(summaries, "semi.n_labels").axes[0].get_xscale() == "linear"
    assert plot_sd_against(summaries, "semi.n_labels", log_x=True).axes[0].get_xscale() == "log"
    wide = [dataclasses.replace(s, setting={"semi.n_labels": 10 * s.setting["semi.n_labels"]})
            if s.setting["semi.n_labels"] == 8 else s for s in summaries]
    assert plot_sd_against(wide, "semi.n_labels").axes[0].get_xscale() == "log"
