"""``vaetk reproduce SECTION --scale paper --smoke``: the paper-scale path (DenseVAE at 65 x 65, the paper's
schedules and priors) runs end to end on a CPU, into its own folders."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from vaetk.cli.__main__ import main
from vaetk.sweeps._reproduce import SECTIONS


def _run(section: str, out: Path, *studies: str) -> Path:
    args = ["reproduce", section, "--scale", "paper", "--smoke", "--out", str(out), "--no-progress"]
    for study in studies:
        args += ["--study", study]
    assert main(args) == 0
    return out / f"section_{section.replace('.', '_')}" / "paper_smoke"


def test_paper_scale_smoke_of_section_5_3(tmp_path: Path) -> None:
    sec = _run("5.3", tmp_path, "plain")
    assert "1 of 1 trials ok" in (sec / "REPORT.md").read_text()
    trial = next((sec / "plain" / "trials").iterdir())
    config = tomllib.loads((trial / "experiment.toml").read_text())
    assert config["model"]["architecture"]["name"] == "dense_vae" and config["training"]["epochs"] == 2
    history = (trial / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs
    # its own dataset, never the one a real paper-scale run would reuse
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["kle2_gaussian_mixture-paper_smoke.zarr"]
    assert json.loads((sec / "reproduce.json").read_text())["scale"] == "paper_smoke"


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS)
def test_paper_scale_smoke_of_every_section(tmp_path: Path, section: str) -> None:
    report = (_run(section, tmp_path) / "REPORT.md").read_text()
    counts = re.findall(r"(\d+) of (\d+) trials ok", report)
    assert counts and all(ok == total for ok, total in counts), report
