"""`polytune tune CONFIG.yaml`: an Optuna search over one step of a run config (its `tune:` block)."""

from __future__ import annotations

import argparse

from polytune.tune.metrics import METRICS


def register(subparsers) -> None:
    metrics = "; ".join(f"{m.name} ({m.step}, {m.direction}): {m.help}" for m in METRICS)
    parser = subparsers.add_parser("tune", help="search hyperparameters of one step (Optuna, resumable)",
                                   description=f"Search the `tune:` block of a run config. Metrics: {metrics}.")
    parser.add_argument("config", help="run config with a tune: block, e.g. examples/tune_demo.yaml")
    parser.add_argument("--out", default=None, help="output folder (default <workdir>/tune/<step>)")
    parser.add_argument("--storage", default=None,
                        help="optuna RDB URL shared by workers, e.g. postgresql://... (default sqlite in --out)")
    parser.add_argument("--n-trials", type=int, default=None, help="trials in all (default: tune.n_trials)")
    parser.add_argument("--check", action="store_true", help="check the search space and stop (no training)")
    parser.set_defaults(handler=_tune)


def _tune(args: argparse.Namespace) -> int:
    import dataclasses

    from polytune.tune.study import prepare, run_study

    search = prepare(args.config, args.out, args.storage)
    if args.n_trials is not None:
        search.tune = dataclasses.replace(search.tune, n_trials=args.n_trials)
    if args.check:
        print(f"search of {search.tune.step} for {search.metric.name}: {len(search.tune.params)} parameters ok")
        return 0
    s = run_study(search)
    best = s["best"]
    print(f"study {s['study']}: {s['trials']} trials ({s['ran']} ran now, {s['pruned']} pruned); best trial "
          f"{best['number']}: {s['metric']} {best['value']:.4f}; best config {s['files']['best.yaml']}; "
          f"report {s['files']['tune.html']}")
    return 0
