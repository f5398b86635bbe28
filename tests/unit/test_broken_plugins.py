"""A broken plugin package never takes down listing, checking or the other plugins (issue 15).

Uses the hand-made distributions of tests/fixtures/broken_dist (see its README): a plugin that calls sys.exit at
import, one with a missing dependency, a dist-info without Name, a malformed entry_points.txt and a third-party
metric that shadows the built-in `sd`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vaetk.cli.__main__ import main
from vaetk.errors import PluginLoadError, VaetkWarning
from vaetk.registry import registry

BROKEN = Path(__file__).parents[1] / "fixtures" / "broken_dist"


@pytest.fixture
def broken_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(BROKEN))
    registry.refresh()
    yield
    monkeypatch.undo()
    for name in [m for m in sys.modules if m.startswith("broken_plugins")]:
        del sys.modules[name]
    registry.refresh()


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((200, 2))
    np.savez(tmp_path / "lat.npz", latents=theta[:, ::-1] * 2.0 + 1.0, theta=theta)
    return tmp_path


def test_sys_exit_at_import_is_a_load_error_naming_the_plugin(broken_installed: None) -> None:
    with pytest.raises(PluginLoadError) as excinfo:
        registry.metrics.get("exit_metric")
    message = str(excinfo.value)
    for part in ("'exit_metric'", "broken_plugins.exits:M", "exits 0.1", "sys.exit(3)"):
        assert part in message


def test_keyboard_interrupt_at_import_is_not_swallowed(broken_installed: None, monkeypatch) -> None:
    import importlib.metadata as metadata

    def interrupt(self):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(metadata.EntryPoint, "load", interrupt)
    with pytest.raises(KeyboardInterrupt):
        registry.metrics.get("importerror_metric")


def test_list_survives_nameless_and_malformed_metadata_and_flags_them(broken_installed: None, capsys) -> None:
    assert main(["plugins", "list", "--group", "metrics"]) == 0
    captured = capsys.readouterr()
    for name in ("exit_metric", "importerror_metric", "nameless_metric", "kept_metric", "sd "):
        assert name in captured.out
    assert "lost_metric" not in captured.out
    err = captured.err
    assert "nameless-0.1.dist-info" in err and "METADATA has no Name" in err
    assert "line 1: malformed section header '[vaetk.metrics'" in err
    assert "line 2: entry 'lost_metric = broken_plugins.fine:NamelessSD' ignored" in err
    assert "line 4: malformed entry 'no_equals broken_plugins.fine:NamelessSD'" in err
    shadow_line = next(line for line in captured.out.splitlines() if "ShadowSD" in line)
    assert "SHADOWS the built-in metric 'sd'" in shadow_line and 'provider = "shadow"' in shadow_line


def test_list_json_notes_shadowing(broken_installed: None, capsys) -> None:
    assert main(["plugins", "list", "--group", "metrics", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    notes = {(r["name"], r["distribution"]): r["note"] for r in rows}
    assert notes[("sd", "shadow")].startswith("SHADOWS") and notes[("sd", "vaetk")].startswith("built-in")


def test_check_reports_every_broken_plugin_and_goes_on(broken_installed: None, capsys) -> None:
    assert main(["plugins", "check", "--group", "metrics"]) == 1
    out = capsys.readouterr().out
    assert "✘ metric exit_metric (exits 0.1): Metric 'exit_metric' (broken_plugins.exits:M" in out
    assert "sys.exit(3)" in out
    assert "✘ metric importerror_metric (missing-dep 0.1)" in out and "ModuleNotFoundError" in out
    assert "✔ metric skl (vaetk" in out
    assert "✔ metric nameless_metric (nameless 0.1)" in out, [line for line in out.splitlines() if "nameless" in line]
    assert "✘ installed metadata: malformed" in out and "METADATA has no Name" in out
    assert "✘ metric sd (shadow 0.1)" in out and "SHADOWS the built-in metric 'sd'" in out


def test_builtin_wins_over_a_shadowing_plugin(broken_installed: None) -> None:
    from vaetk.config import resolve_component

    with pytest.warns(VaetkWarning, match=r"'sd' is built into vaetk and also provided by .*shadow 0.1.*provider"):
        assert registry.metrics.get("sd").__name__ == "SD"
    assert registry.metrics.get("sd", provider="shadow").__name__ == "ShadowSD"
    cls, _ = resolve_component("metrics", {"name": "sd"}, path="evaluation.metrics[0]")  # an existing run's table
    assert cls.__name__ == "SD"


def test_evaluate_latents_runs_the_other_metrics_and_names_the_broken_ones(broken_installed: None, saved: Path,
                                                                           capsys) -> None:
    out = saved / "r.json"
    with pytest.warns(VaetkWarning, match="using the built-in"):
        code = main(["evaluate-latents", str(saved / "lat.npz"), "--factors", "theta", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "metric exit_metric: failed to load" in captured.err and "sys.exit(3)" in captured.err
    assert "metric importerror_metric: failed to load" in captured.err and "missing-dep 0.1" in captured.err
    data = json.loads(out.read_text())
    names = [r["name"] for r in data["results"]]
    assert {"sd", "skl", "mig", "dci", "sap", "tc"} <= set(names)
    assert len(data["failed"]) == 2


def test_evaluate_latents_explicit_broken_metric(broken_installed: None, saved: Path, capsys) -> None:
    code = main(["evaluate-latents", str(saved / "lat.npz"), "--factors", "theta", "--metrics", "exit_metric,skl"])
    captured = capsys.readouterr()
    assert code == 1 and "skl" in captured.out and "exit_metric: failed to load" in captured.err
