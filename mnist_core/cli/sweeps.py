"""``python -m mnist_core sweep create|work|show|list``: hyperparameter sweeps from a terminal (wired into the CLI
by ``cli.py``). ``--storage`` (or ``$DIGIT_LAB_SWEEP_STORAGE``) picks the study's database; the default is an
SQLite file in the registry folder."""

from __future__ import annotations

import json
import sys

from mnist_core.store.registry import Registry
from mnist_core.sweeps.spaces import BUILT_IN_SPACES, load_space

# Each command imports .sweeps itself: importing Optuna and SQLAlchemy would slow every other CLI command.


def add_parsers(commands, common) -> None:
    """The ``sweep`` command and its four subcommands."""
    sweep = commands.add_parser("sweep", help="hyperparameter sweeps with Optuna (create, work, show, list)")
    actions = sweep.add_subparsers(dest="sweep_command", required=True)
    storage_help = "study database URL, e.g. postgresql+psycopg://user@host/db (default: $DIGIT_LAB_SWEEP_STORAGE " \
                   "or sqlite in the registry folder)"
    create = actions.add_parser("create", parents=[common], help="create a sweep and queue its trials")
    create.add_argument("name")
    create.add_argument("--space", required=True, help=f"{' | '.join(BUILT_IN_SPACES)} | FILE.json")
    create.add_argument("--trials", type=int, required=True)
    worker = actions.add_parser("work", parents=[common], help="be a worker: run the sweep's trials until done")
    worker.add_argument("name")
    worker.add_argument("--trials", type=int, help="run at most this many trials in this process")
    show = actions.add_parser("show", parents=[common], help="the sweep's trials, states, params, values and best")
    show.add_argument("name")
    actions.add_parser("list", parents=[common], help="the sweeps in the storage")
    for action in (create, worker, show, actions.choices["list"]):
        action.add_argument("--storage", help=storage_help)


def storage_of(args):
    from mnist_core.sweeps.study import default_storage_url, open_storage

    return open_storage(args.storage or default_storage_url(Registry(args.models)))


def command_create(args) -> None:
    from mnist_core.sweeps.study import create_sweep, redacted

    storage = storage_of(args)
    study = create_sweep(args.name, load_space(args.space), args.trials, storage)
    payload = {"name": study.study_name, "trials": args.trials, "storage": redacted(storage.url)}
    print(json.dumps(payload) if args.json else
          f"created sweep {study.study_name!r} with {args.trials} trials in {payload['storage']}\n"
          f"start a worker: python -m mnist_core sweep work {study.study_name!r}")


def command_work(args) -> None:
    from mnist_core.data.sources import load_mnist
    from mnist_core.sweeps.study import SweepError, load_study, summarize, work

    if args.trials is not None and args.trials < 1:
        raise SweepError(f"--trials must be at least 1, got {args.trials}.")
    storage = storage_of(args)
    load_study(args.name, storage)  # a wrong name fails before MNIST and TensorFlow are loaded

    def report(trial) -> None:
        if not args.json:
            value = "-" if trial.value is None else f"{trial.value:.4f}"
            print(f"trial {trial.number}: {trial.state.name.lower()} {value} {trial.params}", file=sys.stderr)

    ran = work(args.name, storage, load_mnist(args.data), Registry(args.models), args.trials, on_trial=report)
    summary = summarize(load_study(args.name, storage))
    payload = {"trials_run": ran, **summary.to_dict()}
    print(json.dumps(payload) if args.json else f"ran {ran} trial(s); sweep {args.name!r}: {summary.counts}")


def command_show(args) -> None:
    from mnist_core.sweeps.study import load_study, summarize, trial_rows

    study = load_study(args.name, storage_of(args))
    rows = [row.to_dict() for row in trial_rows(study)]
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        value = "-" if row["value"] is None else f"{row['value']:.4f}"
        print(f"{'*' if row['best'] else ' '} #{row['number']:<4} {row['state']:<8} {value:<7} "
              f"{row['run_id'] or '-':<44} {json.dumps(row['params'])}")
    print(f"{summarize(study).counts}  (* best)")


def command_list(args) -> None:
    from mnist_core.sweeps.study import list_sweeps

    summaries = [summary.to_dict() for summary in list_sweeps(storage_of(args))]
    print(json.dumps(summaries) if args.json else "\n".join(
        f"{row['name']:<30} {row['complete']}/{row['planned']} complete, best "
        f"{'-' if row['best_value'] is None else format(row['best_value'], '.4f')}" for row in summaries)
        or "no sweeps")


SUBCOMMANDS = {"create": command_create, "work": command_work, "show": command_show, "list": command_list}


def command_sweep(args) -> int:
    """Run the chosen subcommand; a sweep-level failure (wrong name, unreachable storage) exits with code 2."""
    from mnist_core.sweeps.study import STORAGE_ERRORS, storage_message

    try:
        SUBCOMMANDS[args.sweep_command](args)
    except STORAGE_ERRORS as error:
        print(f"error: {storage_message(error)}", file=sys.stderr)
        return 2
    return 0
