"""The plugin registry: lazy listing, lazy loading, broken and invalid plugins, conflicts, suggestions, in-process
registration. Uses hand-made installed distributions (tests/fixtures/dists) of a test-only group."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from vaetk.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    PluginValidationError,
    VaetkDeprecationWarning,
)
from vaetk.registry import GroupSpec, PluginGroup, Registry

DISTS = Path(__file__).parents[1] / "fixtures" / "dists"
SPEC = GroupSpec("test_widgets", "vaetk.test_widgets", "widget", "fake_widgets:WidgetBase")


@pytest.fixture
def widgets(monkeypatch: pytest.MonkeyPatch) -> PluginGroup:
    monkeypatch.syspath_prepend(str(DISTS))
    for name in [m for m in sys.modules if m.startswith("fake_widgets")]:
        monkeypatch.delitem(sys.modules, name)
    return PluginGroup(SPEC)


def test_listing_reads_metadata_without_importing(widgets: PluginGroup) -> None:
    assert widgets.names() == ["broken", "catch_all", "good", "invalid", "other", "shared"]
    assert widgets.names("o*") == ["other"]
    infos = {(i.name, i.distribution) for i in widgets.entries()}
    assert ("shared", "acme-widgets") in infos and ("shared", "other-widgets") in infos
    assert not any(m.startswith("fake_widgets") for m in sys.modules)


def test_get_imports_only_the_requested_plugin(widgets: PluginGroup) -> None:
    cls = widgets.get("good")
    assert cls.__name__ == "GoodWidget"
    assert widgets.get("good") is cls  # cached
    assert "fake_widgets.plugins" in sys.modules
    assert "fake_widgets.missing_module" not in sys.modules


def test_broken_plugin_reported_only_when_used(widgets: PluginGroup) -> None:
    widgets.get("other")  # a broken sibling does not matter
    with pytest.raises(PluginLoadError) as excinfo:
        widgets.get("broken")
    message = str(excinfo.value)
    for part in ("'broken'", "fake_widgets.missing_module:Nope", "acme-widgets 1.2", "ModuleNotFoundError",
                 "vaetk plugins check broken"):
        assert part in message
    assert isinstance(excinfo.value, ImportError)


def test_unknown_name_suggests_close_matches(widgets: PluginGroup) -> None:
    with pytest.raises(PluginNotFoundError, match=r"Did you mean 'good'\?.*Available: broken, catch_all"):
        widgets.get("goood")


@pytest.mark.parametrize(("name", "problem"), [
    ("invalid", "must be a subclass of fake_widgets.WidgetBase"),
    ("catch_all", r"`spin\(\)` must declare its parameters explicitly, not catch-all \*args, \*kwargs"),
])
def test_contract_violations_are_named(widgets: PluginGroup, name: str, problem: str) -> None:
    with pytest.raises(PluginValidationError, match=problem):
        widgets.get(name)


def test_duplicate_name_is_an_error_naming_both_unless_a_provider_is_picked(widgets: PluginGroup) -> None:
    with pytest.raises(PluginConflictError, match="acme-widgets 1.2.*other-widgets 0.3.*provider"):
        widgets.get("shared")
    assert widgets.get("shared", provider="other-widgets").__name__ == "OtherWidget"
    assert widgets.get("shared", provider="acme_widgets").__name__ == "GoodWidget"  # normalised dist name
    with pytest.raises(PluginNotFoundError, match="provided by: acme-widgets, other-widgets"):
        widgets.get("shared", provider="nobody")


def test_in_process_registration(widgets: PluginGroup) -> None:
    good = widgets.get("good")

    class Local(good):  # type: ignore[misc, valid-type]
        pass

    with pytest.raises(PluginConflictError, match="already exists"):
        widgets.register("good", Local)
    widgets.register("local", Local)
    assert widgets.get("local") is Local and "local" in widgets.names()
    with widgets.temporarily("good", Local):
        assert widgets.get("good") is Local
    assert widgets.get("good") is good
    widgets.unregister("local")
    assert "local" not in widgets
    with pytest.raises(PluginValidationError):
        widgets.register("bad", object)


def test_deprecated_alias_warns_and_resolves(widgets: PluginGroup) -> None:
    widgets.aliases["old_good"] = "good"
    with pytest.warns(VaetkDeprecationWarning, match="'old_good' is deprecated; use 'good'"):
        assert widgets.get("old_good").__name__ == "GoodWidget"


def test_isolated_registry_hides_installed_and_restores() -> None:
    reg = Registry()
    before = reg.solvers.names()
    with reg.isolated() as iso:
        assert iso.solvers.names() == []
        assert iso.priors.names() == []
    assert reg.solvers.names() == before


def test_unknown_group_suggests() -> None:
    with pytest.raises(PluginNotFoundError, match="Did you mean 'priors'"):
        Registry().group("prior")


def test_refresh_sees_newly_installed_distributions(monkeypatch: pytest.MonkeyPatch) -> None:
    group = PluginGroup(SPEC)
    assert group.names() == []  # the fixture folder is not on sys.path yet
    monkeypatch.syspath_prepend(str(DISTS))
    assert group.names() == []  # cached until refresh()
    group.refresh()
    assert "good" in group.names()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        group.entries()  # listing never warns, even with broken plugins installed
