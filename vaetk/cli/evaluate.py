"""``vaetk evaluate RUN_DIR``: test losses, every configured metric, figures and a report for a trained run."""

from __future__ import annotations

import argparse
import sys

HELP = "evaluate a trained run: losses, metrics, plots (PNG), report.json and report.md"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by `vaetk train`")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda, cuda:N (default: cpu)")
    parser.add_argument("--data", help="evaluate on this dataset instead of the experiment's data.path")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="change an evaluation.* key for this evaluation (repeatable), e.g. "
                             "--set evaluation.n_reconstructions=8")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.add_argument("--strict-versions", action="store_true",
                        help="refuse a model written by other vaetk/plugin versions (default: warn)")


def summary_lines(report: dict) -> list[str]:
    """The short summary printed after an evaluation."""
    lines, units = [], report["units"]
    for split, values in report["losses"].items():
        sd = values.get("sd", float("nan"))
        lines.append(f"  {split:5s}: L_REC {values['rec_per_pixel']:.4f} {units['rec_per_pixel']}  L_REG "
                     f"{values['reg_per_pixel']:.4f} {units['reg_per_pixel']}  -ELBO {values['loss_elbo']:.1f} "
                     f"{units['loss_elbo']}  S_D {sd:.3f}")
    lines.append(f"  constant predictor L_REC {report['constant_predictor']['rec_per_pixel']:.4f} nats/pixel; "
                 "over-regularised: "
                 f"{'YES' if report['over_regularized'] else 'no'}")
    from vaetk.training._evaluate import metric_lines

    return lines + metric_lines(report["metrics"])


def run(args: argparse.Namespace) -> int:
    from vaetk.sweeps import parse_set_options
    from vaetk.training._evaluate import evaluate_run

    report = evaluate_run(args.run_dir, device=args.device, data_path=args.data, plots=not args.no_plots,
                          strict_versions=args.strict_versions, overrides=parse_set_options(args.overrides))
    print(f"evaluated {args.run_dir} on the {report['evaluated_on']} split ({report['n_samples']} samples)")
    print("\n".join(summary_lines(report)))
    print(f"  report: {args.run_dir}/report.md")
    failed = [key for key, record in report["metrics"].items() if record.get("error")]
    if failed:
        print(f"vaetk evaluate: metric(s) {', '.join(failed)} failed (see above); the report records why.",
              file=sys.stderr)
        return 1
    return 0
