"""`vaetk evaluate-latents`: table, JSON, key resolution and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vaetk.cli.__main__ import main


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((200, 2))
    np.savez(tmp_path / "lat.npz", latents=theta[:, ::-1] * 2.0 + 1.0, theta=theta)
    np.save(tmp_path / "fac.npy", theta)
    np.save(tmp_path / "three.npy", rng.standard_normal((200, 3)))
    return tmp_path


def test_scores_table_and_json(saved, capsys) -> None:
    out = saved / "r.json"
    assert main(["evaluate-latents", str(saved / "lat.npz"), "--factors", "theta", "--metrics", "sd,sap",
                 "--bootstrap", "10", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sd      sd" in text and "95% interval" in text
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["results"]] == ["sd", "sap"]
    sd = data["results"][0]
    assert sd["scores"]["sd"] > 0.9 and list(sd["intervals"]) == ["sd"]
    assert "numpy" in sd["versions"] and data["seed"] == 0


def test_factors_from_a_file_and_inapplicable_metrics_are_skipped(saved, capsys) -> None:
    assert main(["evaluate-latents", str(saved / "three.npy"), "--factors", str(saved / "fac.npy")]) == 0
    captured = capsys.readouterr()
    assert "skl: skipped (needs as many latent dimensions as factors; 3 vs 2)" in captured.err
    assert "mig" in captured.out and "dci" in captured.out


def test_errors_name_what_is_wrong(saved, capsys) -> None:
    assert main(["evaluate-latents", str(saved / "lat.npz"), "--factors", "thetaa"]) == 1
    assert "no array 'thetaa'. Did you mean 'theta'?" in capsys.readouterr().err
    assert main(["evaluate-latents", str(saved / "nope.npz"), "--factors", "theta"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate-latents", str(saved / "lat.npz"), "--factors", "theta", "--metrics", "sdd"]) == 1
    assert "Did you mean 'sd'" in capsys.readouterr().err
