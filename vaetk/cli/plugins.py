"""``vaetk plugins list|check``: what is installed (metadata only) and whether it honours its contract."""

from __future__ import annotations

import argparse
import json

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


def _list(args: argparse.Namespace) -> int:
    entries = [info for group in _groups(args.group) for info in group.entries()]
    if args.json:
        print(json.dumps([{"group": i.group, "name": i.name, "value": i.value, "distribution": i.distribution,
                           "version": i.version} for i in entries], indent=2))
        return 0
    for group in _groups(args.group):
        infos = group.entries()
        print(f"{group.spec.entry_point_group} ({len(infos)})")
        for info in infos:
            print(f"  {info.name:<22} {info.value:<58} {info.distribution} {info.version}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from vaetk.testing import check_plugin

    failed = checked = 0
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
            failed += bool(bad)
            mark = "✘" if bad else "✔"
            print(f"{mark} {label}: {len(results) - len(bad)}/{len(results)} checks passed")
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
