"""The walk-throughs of plugins/README.md work: every fenced block marked ``python full-example`` runs as a module,
imports vaetk only through ``vaetk.plugin``, defines one plugin class that registers in-process, builds by name
from a table (and from its Config) with its group's context, and passes its group's contract checks. One
walk-through per group."""

from __future__ import annotations

import ast
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaetk.config import config_to_dict, resolve_component
from vaetk.plugin import Plugin
from vaetk.registry import GROUPS, registry
from vaetk.testing import check_plugin

README = Path(__file__).parents[2] / "plugins" / "README.md"
MARK = "full-example"
_BLOCK = re.compile(r"^```python[ \t]+(?P<info>[^\n]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# What each group's plugins are built with (the same context the contract checks use).
CONTEXT = {"priors": {"latent_dim": 2}, "architectures": {"input_shape": (3, 9, 11), "latent_dim": 2}}


def full_examples(text: str) -> list[str]:
    """The code of every fenced ``python`` block whose info string carries the ``full-example`` mark."""
    return [m.group("code") for m in _BLOCK.finditer(text) if MARK in m.group("info").split()]


EXAMPLES = full_examples(README.read_text(encoding="utf-8"))


def test_the_block_parser() -> None:
    text = ("```python\nskipped = 1\n```\n\n```python full-example\nkept = 2\n```\n"
            "```toml full-example\nnot_python = 3\n```\n```python full-examples\nother_mark = 4\n```\n")
    assert full_examples(text) == ["kept = 2\n"]


def vaetk_imports(code: str) -> list[str]:
    """Modules of vaetk that ``code`` imports."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append(node.module)
    return [m for m in found if m == "vaetk" or m.startswith("vaetk.")]


@pytest.fixture
def run_example() -> Iterator:  # type: ignore[type-arg]
    """Execute a walk-through as a module (importable while the test runs, so dataclass annotations resolve)."""
    names: list[str] = []

    def run(index: int, code: str) -> types.ModuleType:
        name = f"_plugin_readme_example_{index}"
        module = types.ModuleType(name)
        module.__file__ = f"{README}#example-{index}"
        sys.modules[name] = module
        names.append(name)
        exec(compile(code, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the README's own code
        return module

    yield run
    for name in names:
        sys.modules.pop(name, None)


def plugin_classes(module: types.ModuleType) -> list[type]:
    return [obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Plugin) and obj.__module__ == module.__name__]


def test_one_walk_through_per_group(run_example) -> None:  # type: ignore[no-untyped-def]
    groups = [cls.plugin_group for i, code in enumerate(EXAMPLES) for cls in plugin_classes(run_example(i, code))]
    assert sorted(groups) == sorted(GROUPS), f"walk-throughs cover {sorted(groups)}, expected one per group"


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=lambda i: f"example{i}")
def test_walk_through_passes_its_contract(index: int, run_example) -> None:  # type: ignore[no-untyped-def]
    code = EXAMPLES[index]
    assert set(vaetk_imports(code)) <= {"vaetk.plugin"}, f"import vaetk names from vaetk.plugin only: {code}"
    classes = plugin_classes(run_example(index, code))
    assert len(classes) == 1, f"a walk-through defines one plugin class, got {classes}"
    cls = classes[0]
    group, context = cls.plugin_group, CONTEXT.get(cls.plugin_group, {})
    assert cls.name, "a walk-through's plugin sets `name` (its entry-point name)"
    with registry.group(group).temporarily(cls.name, cls):
        assert registry.group(group).get(cls.name) is cls
        table = {"name": cls.name, **config_to_dict(cls.example_config())}
        resolved, config = resolve_component(group, table, path=group)
        assert resolved is cls and config == cls.example_config()
        for given in (config, config_to_dict(config), None):
            assert cls(given, **context).config == (config if given is not None else cls.Config())
        failed = [(r.check, r.message) for r in check_plugin(cls) if not r.passed]
    assert not failed, failed
    assert cls.name not in registry.group(group)
