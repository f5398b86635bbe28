"""`vaetk demo`: the README's main command, end to end (fast smoke run; the full run is marked slow)."""

from __future__ import annotations

import json
import time

import pytest

from vaetk.cli.__main__ import main


def test_demo_smoke(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n", "9", "--epochs", "3", "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "[3/3] evaluating" in text and "test S_D =" in text and "test S_KL =" in text
    report = json.loads((out / "run" / "report.json").read_text())
    assert report["evaluated_on"] == "test" and report["n_samples"] == 512
    assert report["metrics"]["sd"]["error"] is None and report["metrics"]["skl"]["error"] is None
    assert f"test S_KL = {report['metrics']['skl']['scores']['skl']:.3f}" in text
    assert len(report["provenance"]["label_indices"]) == 16
    assert (out / "run" / "plots" / "latent_space.png").exists()
    # A second demo into the same folder is refused, and nothing is touched.
    assert main(["demo", "--out", str(out), "--n", "9", "--epochs", "1"]) == 1
    assert "is not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_full_demo_disentangles_in_under_ten_minutes(tmp_path, capsys):
    start = time.perf_counter()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    seconds = time.perf_counter() - start
    report = json.loads((tmp_path / "demo" / "run" / "report.json").read_text())
    assert report["metrics"]["sd"]["scores"]["sd"] >= 0.9
    assert report["losses"]["test"]["rec_per_pixel"] < report["constant_predictor"]["rec_per_pixel"] - 1.0
    skl = report["metrics"]["skl"]["scores"]["skl"]
    assert skl < 1.0  # the latents' distribution is close to an affine image of p(theta) (measured: about 0.1)
    print(f"demo: {seconds:.0f} s, test S_D {report['metrics']['sd']['scores']['sd']:.3f}, S_KL {skl:.3f}")
