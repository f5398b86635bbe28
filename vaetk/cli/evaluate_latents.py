"""``vaetk evaluate-latents LATENTS --factors KEY_OR_FILE``: score saved latent codes with metric plugins."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "score saved latents (.npz/.npy) against their generative factors with the metric plugins"

_LATENT_KEYS = ("latents", "z_mean", "mu", "z")
_FACTOR_KEYS = ("factors", "theta", "generative_params")


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("latents", help="LATENTS.npz (or .npy) holding an (n, d_z) array")
    parser.add_argument("--factors", required=True, metavar="KEY_OR_FILE",
                        help="a key of the latents .npz, or a .npy/.npz file holding the (n, s) factors")
    parser.add_argument("--latents-key", default=None,
                        help=f"array inside LATENTS.npz (default: the first of {', '.join(_LATENT_KEYS)} present,"
                             " or its only other array)")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric names (default: every installed metric that applies)")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap replicates (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="root seed of every random choice (default 0)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON to OUT")


def _load(path: Path, what: str) -> Any:
    import numpy as np

    from vaetk.errors import DataError

    if not path.exists():
        raise DataError(f"{what}: file {str(path)!r} does not exist.")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{what}: {str(path)!r} is not a readable .npy/.npz file ({exc}).") from None


def _read(store: Any, name: str, where: str) -> Any:
    """One array of an .npz; an object array (ragged lists, mixed types) is a DataError, not a traceback."""
    from vaetk.errors import DataError

    try:
        return store[name]
    except ValueError as exc:  # numpy refuses object arrays with allow_pickle=False
        raise DataError(
            f"{where}: array {name!r} holds Python objects, not numbers ({exc}); this is what np.savez writes for "
            "ragged lists or mixed types. Save a numeric (n, d) array, e.g. np.asarray(rows, dtype=float) after "
            "making every row the same length."
        ) from None
    except (OSError, EOFError, KeyError) as exc:  # a damaged member of the archive
        raise DataError(f"{where}: array {name!r} cannot be read ({type(exc).__name__}: {exc}).") from None


def _pick(store: Any, key: str | None, defaults: tuple[str, ...], where: str, exclude: set[str]) -> tuple[Any, str]:
    from vaetk._validation import did_you_mean
    from vaetk.errors import DataError

    if not hasattr(store, "files"):  # a plain .npy array
        return store, "(array)"
    names = list(store.files)
    if key is not None:
        if key not in names:
            hint = did_you_mean(key, names)
            raise DataError(f"{where}: no array {key!r}.{hint} Arrays: {', '.join(names)}.")
        return _read(store, key, where), key
    for name in defaults:
        if name in names:
            return _read(store, name, where), name
    others = [n for n in names if n not in exclude]
    if len(others) == 1:
        return _read(store, others[0], where), others[0]
    raise DataError(f"{where}: cannot tell which array to use among {', '.join(names)}; name it "
                    f"({'--latents-key' if defaults is _LATENT_KEYS else '--factors KEY'}).")


def run(args: argparse.Namespace) -> int:
    from vaetk.errors import ConfigError, PluginError, PluginNotFoundError
    from vaetk.metrics import evaluate_metric
    from vaetk.registry import registry

    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap: expected a non-negative count, got {args.bootstrap}.")
    latents_path = Path(args.latents)
    store = _load(latents_path, "LATENTS")
    factors_path = Path(args.factors)
    if factors_path.suffix in (".npy", ".npz") or factors_path.exists():
        fstore = _load(factors_path, "--factors")
        factors, fkey = _pick(fstore, None, _FACTOR_KEYS, str(factors_path), set())
        factors_from = f"{factors_path}:{fkey}"
        latents, lkey = _pick(store, args.latents_key, _LATENT_KEYS, str(latents_path), set())
    else:
        factors, fkey = _pick(store, args.factors, (), str(latents_path), set())
        factors_from = f"{latents_path}:{fkey}"
        latents, lkey = _pick(store, args.latents_key, _LATENT_KEYS, str(latents_path), {fkey})

    group = registry.group("metrics")
    if args.metrics:
        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        skip_inapplicable = False
        unknown = [n for n in names if n not in group and n not in group.aliases]
        if unknown:  # a typo is a usage error, found before anything is computed
            raise PluginNotFoundError(group._not_found_message(unknown[0]))
    else:
        names = group.names()
        skip_inapplicable = True
    results, notes, failed = [], [], []
    for name in names:
        try:
            cls = group.get(name)
        except PluginError as exc:  # a broken plugin is reported; the other metrics still run
            failed.append(f"{name}: failed to load: {exc}")
            continue
        dz = latents.shape[1] if latents.ndim == 2 else None
        s = factors.shape[1] if factors.ndim == 2 else None
        if skip_inapplicable and cls.same_dims and dz != s:
            notes.append(f"{name}: skipped (needs as many latent dimensions as factors; {dz} vs {s})")
            continue
        results.append(evaluate_metric(name, latents, factors, seed=args.seed, n_bootstrap=args.bootstrap))

    width = max([len(r.name) for r in results] + [6])
    print(f"latents {latents_path}:{lkey} {tuple(latents.shape)}; factors {factors_from} {tuple(factors.shape)}")
    interval = f"  {int(100 * 0.95)}% interval" if args.bootstrap else ""
    print(f"{'metric':<{width}}  {'score':<16} {'value':>10}{interval}")
    for r in results:
        for key, value in r.scores.items():
            lo_hi = r.intervals.get(key)
            extra = f"  [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else ""
            print(f"{r.name:<{width}}  {key:<16} {value:>10.4f}{extra}")
    for note in notes:
        print(note, file=sys.stderr)
    for failure in failed:
        print(f"vaetk evaluate-latents: metric {failure}", file=sys.stderr)
    if args.json:
        payload = {"latents": f"{latents_path}:{lkey}", "factors": factors_from, "seed": args.seed,
                   "n_bootstrap": args.bootstrap, "results": [r.to_dict() for r in results], "skipped": notes,
                   "failed": failed}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0
