"""The prepared GPU check (benchmarks/device_check.sh) runs its CPU-only parts here, so it cannot rot between the
rare occasions a GPU is available: every case completes and the report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_device_check_cpu_only_parts_run_and_report(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "device_check.sh"), "--cpu-only", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert set(report["cases"]) == {"solve", "dense_vae", "ensemble", "knn", "processes", "profile"}
    for name, result in report["cases"].items():
        assert "error" not in result, f"{name}: {result.get('error')}"
    assert report["cases"]["dense_vae"]["cpu_float32"]["epoch_s"] > 0
    assert report["cases"]["processes"]["P2"]["samples_per_s"] > 0
    assert report["cases"]["profile"]["wall_s"] > 0
    assert "# vaetk device check" in (tmp_path / "device_check.md").read_text()
