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
    assert "[3/3] evaluating" in text and "test S_D =" in text
    report = json.loads((out / "run" / "report.json").read_text())
    assert report["evaluated_on"] == "test" and report["n_samples"] == 512
    assert "sd" in report["metrics"]
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
    print(f"demo: {seconds:.0f} s, test S_D {report['metrics']['sd']['scores']['sd']:.3f}")
