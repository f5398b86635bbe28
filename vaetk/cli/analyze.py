"""``vaetk analyze landscape|rd|rotation|posterior|sensitivity ...``: the paper's training analyses and the
sensitivity geometry of a dataset generator, data + PNG figures."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from vaetk.cli._options import DeprecatedAlias

HELP = ("training analyses: loss landscape, rate-distortion plane, latent rotation, aggregated posteriors; "
        "sensitivity geometry of a dataset")


def _common(p: argparse.ArgumentParser, *, model: bool = True) -> None:
    p.add_argument("--out", type=Path, default=None, help="output directory (default: <first input>/analysis)")
    if model:
        p.add_argument("--samples", type=int, default=10, help="latent samples per datum (default 10, as the paper)")
        p.add_argument("--batchnorm", choices=("recompute", "eval", "batch"), default="recompute",
                       help="BatchNorm statistics: recompute on the data (default), stored, or per batch")
        p.add_argument("--split", choices=("train", "test"), default="train", help="data split (default train)")
        p.add_argument("--seed", type=int, default=0, help="seed of the latent noise and random choices")


def populate_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)
    p = sub.add_parser("landscape", help="losses along lines in parameter space (paper Figs. 3 and 5)")
    p.add_argument("run_dir", type=Path, help="a trained run (P_T)")
    p.add_argument("--other", type=Path, default=None,
                   help="a second trained run: interpolate between the two, with S_D along the line (Fig. 5)")
    p.add_argument("--inits", type=int, default=10, help="Xavier-uniform initialisations to interpolate from")
    p.add_argument("--directions", type=int, default=10, help="random filter-normalised directions")
    p.add_argument("--points", type=int, default=21, help="points per line")
    _common(p)
    p = sub.add_parser("rd", help="rate-distortion plane of a beta sweep (paper Fig. 4)")
    p.add_argument("sweep_dir", type=Path, help="a sweep over beta (vaetk sweep ... --set KEY=[...])")
    p.add_argument("--beta-key", required=True, help="the swept beta key, e.g. schedule.value")
    p.add_argument("--trajectory", type=Path, default=None, help="a run whose training trajectory to draw")
    _common(p, model=False)
    p = sub.add_parser("rotation", help="L_REG and S_D against a latent rotation omega (paper section 5.2)")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--angles", type=int, default=37, help="angles evenly spaced over [0, 90] degrees")
    p.add_argument("--plane", type=int, nargs=2, default=(0, 1), metavar=("I", "J"), help="latent axes rotated")
    _common(p)
    p = sub.add_parser("posterior", help="aggregated posterior vs prior vs p(theta), latent-factor grids")
    p.add_argument("run_dirs", type=Path, nargs="+", help="one or more trained runs")
    _common(p)
    p = sub.add_parser("sensitivity", help="M = E[J^T S^-1 J] of a Darcy dataset's generator (no training)")
    p.add_argument("source", metavar="STORE_OR_PRESET", help="a dataset store, a dataset TOML or a preset name")
    p.add_argument("--n", type=int, default=None, metavar="N",
                   help="grid nodes per side, overriding the config's (presets and TOML files only)")
    p.add_argument("--n-samples", type=int, default=300, metavar="N",
                   help="thetas drawn from p(theta) (default 300)")
    p.add_argument("--thetas", dest="n_samples", type=int, metavar="N", action=DeprecatedAlias,
                   replacement="--n-samples")
    p.add_argument("--step", type=float, default=1e-3, help="central-difference step (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the theta draws and the bootstrap (default 0)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="bootstrap resamples of the thetas for the angle's 95%% interval (default 1000)")
    p.add_argument("--out", type=Path, required=True, help="output directory")


def _load(run_dir: Path, split: str) -> tuple[Any, Any, Any]:
    from vaetk.errors import DataError
    from vaetk.training._run import load_data, load_model

    model, config = load_model(run_dir)
    train_x, train_theta, test_x, test_theta = load_data(config)
    if split == "test":
        if test_x is None:
            raise DataError(f"{run_dir}: the experiment has no test split; use --split train.")
        return model, test_x, test_theta
    return model, train_x, train_theta


def _sd_scores() -> dict[str, Any]:
    from vaetk.metrics import evaluate_metric

    return {"sd": lambda z, t: evaluate_metric("sd", z, t).value}


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120)
    plt.close(fig)


def _landscape(args: argparse.Namespace, out: Path) -> list[Path]:
    from vaetk.analysis import init_to_trained_lines, loss_along_line, plot_lines, random_direction_lines

    model, x, theta = _load(args.run_dir, args.split)
    kw = dict(n_latent_samples=args.samples, batchnorm=args.batchnorm, seed=args.seed)
    written = []
    if args.other is not None:
        other, _, _ = _load(args.other, args.split)
        line = loss_along_line(model, other, x, alphas=args.points, theta=theta, scores=_sd_scores(),
                               label=f"{args.run_dir.name} -> {args.other.name}", **kw)
        (out / "landscape_two_models.json").write_text(json.dumps(line.to_json(), indent=1))
        _save(plot_lines([line], score="sd"), out / "landscape_two_models.png")
        return [out / "landscape_two_models.json", out / "landscape_two_models.png"]
    if args.inits:
        lines = init_to_trained_lines(model, x, n_inits=args.inits, alphas=args.points, **kw)
        (out / "landscape_inits.json").write_text(json.dumps([ln.to_json() for ln in lines], indent=1))
        _save(plot_lines(lines), out / "landscape_inits.png")
        written += [out / "landscape_inits.json", out / "landscape_inits.png"]
    if args.directions:
        steps = [i / (args.points - 1) for i in range(args.points)]
        lines = random_direction_lines(model, x, n_directions=args.directions, steps=steps, **kw)
        (out / "landscape_directions.json").write_text(json.dumps([ln.to_json() for ln in lines], indent=1))
        _save(plot_lines(lines, xlabel="step along a filter-normalised direction"), out / "landscape_directions.png")
        written += [out / "landscape_directions.json", out / "landscape_directions.png"]
    return written


def _rd(args: argparse.Namespace, out: Path) -> list[Path]:
    from vaetk.analysis import plot_rd_plane, rd_points, read_trajectory

    pts = rd_points(args.sweep_dir, args.beta_key)
    traj = read_trajectory(args.trajectory) if args.trajectory else None
    (out / "rd_plane.json").write_text(json.dumps(pts.to_json(), indent=1))
    _save(plot_rd_plane(pts, trajectory=traj, log_rate=bool((pts.reg > 0).all())), out / "rd_plane.png")
    return [out / "rd_plane.json", out / "rd_plane.png"]


def _rotation(args: argparse.Namespace, out: Path) -> list[Path]:
    from vaetk.analysis import plot_rotation, rotation_scan

    model, x, theta = _load(args.run_dir, args.split)
    omegas = [math.pi / 2 * i / (args.angles - 1) for i in range(args.angles)] if args.angles > 1 else [0.0]
    res = rotation_scan(model, x, omegas, theta=theta, scores=_sd_scores(), plane=tuple(args.plane),
                        n_latent_samples=args.samples, batchnorm=args.batchnorm, seed=args.seed)
    summary = res.summary()
    (out / "rotation.json").write_text(json.dumps({**res.to_json(), "summary": summary}, indent=1))
    _save(plot_rotation(res), out / "rotation.png")
    line = (f"L_REG (nats per sample) at the trained orientation {summary['reg_trained']:.4f}; lowest "
            f"{summary['reg_min']:.4f} at {summary['omega_reg_min']:.1f} deg, highest {summary['reg_max']:.4f} at "
            f"{summary['omega_reg_max']:.1f} deg")
    if "sd_max" in summary:
        line += (f"; S_D trained {summary['sd_trained']:.3f}, highest {summary['sd_max']:.3f} at "
                 f"{summary['omega_sd_max']:.1f} deg, where L_REG is "
                 f"{summary['reg_at_sd_max'] - summary['reg_trained']:+.4f} from the trained orientation")
    print(line)
    return [out / "rotation.json", out / "rotation.png"]


def _posterior(args: argparse.Namespace, out: Path) -> list[Path]:
    from vaetk.analysis import plot_latent_factor_grid, plot_posterior_comparison, posterior_view

    views = []
    for run_dir in args.run_dirs:
        model, x, theta = _load(run_dir, args.split)
        views.append(posterior_view(run_dir.name, model, x, theta, seed=args.seed, batchnorm=args.batchnorm))
    written = [out / "posterior_comparison.png"]
    _save(plot_posterior_comparison(views), written[0])
    for i, view in enumerate(views):
        path = out / f"latent_factor_grid_{i}_{view.label}.png"
        _save(plot_latent_factor_grid(view), path)
        written.append(path)
    return written


def _sensitivity(args: argparse.Namespace, out: Path) -> list[Path]:
    from vaetk.analysis import bootstrap_angles, darcy_sensitivity, plot_sensitivity

    res = darcy_sensitivity(args.source, n_thetas=args.n_samples, seed=args.seed, step=args.step, n=args.n)
    interval = bootstrap_angles(res, n_boot=args.bootstrap, seed=args.seed)
    (out / "sensitivity.json").write_text(json.dumps({**res.to_json(), "angle_interval_95": interval.tolist(),
                                                      "bootstrap": args.bootstrap}, indent=1))
    _save(plot_sensitivity(res, res.thetas), out / "sensitivity.png")
    corr = f", M correlation {res.correlation[0, 1]:+.4f}" if res.matrix.shape[0] == 2 else ""
    print(f"sensitivity of {args.source} (n = {res.info['n']}, {res.n_thetas} thetas): eigenvector angle "
          f"{res.angles[0]:.3f} deg from the theta axes (95% bootstrap interval {interval[0, 0]:.2f}-"
          f"{interval[0, 1]:.2f}), eigenvalue ratio {res.eigenvalue_ratio:.4g}{corr}, S_D of an M-aligned encoder "
          f"{res.sd_aligned:.4f}")
    return [out / "sensitivity.json", out / "sensitivity.png"]


def run(args: argparse.Namespace) -> int:
    first = {"landscape": "run_dir", "rd": "sweep_dir", "rotation": "run_dir", "posterior": "run_dirs",
             "sensitivity": "out"}[args.analysis]
    base = getattr(args, first)
    base = base[0] if isinstance(base, list) else base
    out = args.out or Path(base) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    handler = {"landscape": _landscape, "rd": _rd, "rotation": _rotation, "posterior": _posterior,
               "sensitivity": _sensitivity}[args.analysis]
    for path in handler(args, out):
        print(f"wrote {path}")
    return 0
