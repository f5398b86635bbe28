"""Every installed plugin, built-in or third-party, passes its group's contract checks (vaetk.testing)."""

from __future__ import annotations

from vaetk.registry import registry
from vaetk.testing import parametrize_with_checks

INSTALLED = [group.get(info.name, provider=info.distribution)
             for group in registry.groups() for info in group.entries()]


@parametrize_with_checks(INSTALLED)
def test_installed_plugin_contract(plugin: type, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


def test_every_group_has_builtin_plugins() -> None:
    for group in registry.groups():
        builtins = [i for i in group.entries() if i.value.startswith("vaetk_plugins.")]
        assert builtins, f"no built-in {group.spec.kind}s are registered"
