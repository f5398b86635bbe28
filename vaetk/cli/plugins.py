"""``vaetk plugins list|check``: what is installed (metadata only) and whether it honours its contract."""

from __future__ import annotations

import argparse
import json
import sys

from vaetk.registry import GROUPS, registry

HELP = "list installed plugins (without importing them) or check them against their contracts"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="list plugins from installed metadata; imports nothing")
    lst.add_argument("--group", choices=list(GROUPS), help="only this group")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    chk = sub.add_parser("check", help="import plugins and run their contract checks; exit 1 on any failure")
    chk.add_argument("name", nargs="?", help="only the plugin(s) of this name")
    chk.add_argument("--group", choices=list(GROUPS), help="only this group")
    chk.add_argument("--all", action="store_true", help="also run the slow checks")


def _groups(key: str | None) -> list:
    return [registry.group(key)] if key else registry.groups()


def _shadowed(groups: list) -> dict[tuple[str, str, str], str]:
    """``{(group, name, distribution): note}`` for built-in names another distribution also provides."""
    notes = {}
    for group in groups:
        for builtin, others in group.shadowed():
            names = ", ".join(f"{o.distribution} {o.version}".rstrip() for o in others)
            notes[(group.spec.key, builtin.name, builtin.distribution)] = f"built-in; used by default (also in {names})"
            for other in others:
                notes[(group.spec.key, other.name, other.distribution)] = (
                    f"SHADOWS the built-in {group.spec.kind} {other.name!r}: not used unless picked with "
                    f"provider = \"{other.distribution}\"")
    return notes


def _list(args: argparse.Namespace) -> int:
    groups = _groups(args.group)
    notes = _shadowed(groups)
    problems = registry.problems(groups)
    entries = [info for group in groups for info in group.entries()]
    if args.json:
        rows = [{"group": i.group, "name": i.name, "value": i.value, "distribution": i.distribution,
                 "version": i.version, "note": notes.get((i.group, i.name, i.distribution), "")} for i in entries]
        print(json.dumps(rows, indent=2))
        if problems:
            print(json.dumps({"problems": [str(p) for p in problems]}, indent=2), file=sys.stderr)
        return 0
    for group in groups:
        infos = group.entries()
        print(f"{group.spec.entry_point_group} ({len(infos)})")
        for info in infos:
            note = notes.get((group.spec.key, info.name, info.distribution))
            flag = "  ⚠ " + note if note and not note.startswith("built-in") else ""
            print(f"  {info.name:<22} {info.value:<58} {info.distribution} {info.version}{flag}".rstrip())
    if problems:
        print(f"\n{len(problems)} problem(s) in installed plugin metadata (the plugins concerned may be missing "
              "from the list above):", file=sys.stderr)
        for problem in problems:
            print(f"  ✘ {problem}", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    from vaetk.testing import check_plugin

    failed = checked = 0
    notes = _shadowed(_groups(args.group))
    for problem in [] if args.name else registry.problems(_groups(args.group)):  # the whole install's metadata
        failed += 1
        print(f"✘ installed metadata: {problem}")
    for group in _groups(args.group):
        for info in group.entries():
            if args.name and info.name != args.name:
                continue
            checked += 1
            label = f"{group.spec.kind} {info.name} ({info.distribution} {info.version})".rstrip()
            try:
                plugin = group.get(info.name, provider=info.distribution)
            except Exception as exc:
                failed += 1
                print(f"✘ {label}: {exc}")
                if args.debug:
                    import traceback

                    traceback.print_exception(exc)
                continue
            results = check_plugin(plugin, fast_only=not args.all)
            bad = [r for r in results if not r.passed]
            shadows = notes.get((group.spec.key, info.name, info.distribution), "").startswith("SHADOWS")
            failed += bool(bad) or shadows
            mark = "✘" if bad or shadows else "✔"
            print(f"{mark} {label}: {len(results) - len(bad)}/{len(results)} checks passed")
            if shadows:
                print(f"    ✘ name: {notes[(group.spec.key, info.name, info.distribution)]}")
            for r in bad:
                print(f"    ✘ {r.check}: {r.message}")
                if args.debug:
                    print(r.traceback)
    if args.name and checked == 0:
        from vaetk.errors import PluginNotFoundError

        groups = _groups(args.group)
        messages = [g._not_found_message(args.name) for g in groups]
        raise PluginNotFoundError(messages[0] if len(messages) == 1 else f"No plugin named {args.name!r} in any group.")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    return _list(args) if args.action == "list" else _check(args)
