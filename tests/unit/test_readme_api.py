"""The README's "Python API" section runs as written (in an empty folder), so it cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def python_api_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_python_api_section_runs(tmp_path, monkeypatch, capsys) -> None:
    snippets = python_api_snippets()
    assert snippets, "the README lost its Python API section"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in snippets:
        exec(compile(code, "README.md (Python API)", "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "DarcyDataset('data.zarr', split='test', n=32, shape=(3, 17, 17))" in out
    assert "epoch 3: L_REC" in out
    assert 0.0 <= namespace["sd"].scores["sd"] <= 1.0 and (tmp_path / "run" / "model.pt").is_file()
