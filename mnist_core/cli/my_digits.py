"""``python -m mnist_core mine add|list|remove|export|import`` and ``finetune``: My digits and fine-tuning from a
terminal, on the same registry folder (and so the same set) as the app (wired into the CLI by ``cli.py``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mnist_core.cli.common import chosen_run, dataset, write_output
from mnist_core.store.my_digits import MAX_IMPORT_BYTES, MyDigits, MyDigitsError, check_import_size, check_label
from mnist_core.store.registry import Registry


def add_parsers(commands, common) -> None:
    """The ``mine`` command with its five subcommands, and ``finetune``."""
    mine = commands.add_parser("mine", help="My digits: your own labelled drawings (add, list, remove, export, import)")
    actions = mine.add_subparsers(dest="mine_command", required=True)
    add = actions.add_parser("add", parents=[common], help="add drawings or photos of one digit")
    add.add_argument("digit", type=int, metavar="DIGIT")
    add.add_argument("images", nargs="+", metavar="IMAGE")
    actions.add_parser("list", parents=[common], help="drawings per digit and how many are held out")
    remove = actions.add_parser("remove", parents=[common], help="remove drawings by id")
    remove.add_argument("ids", nargs="+", metavar="ID")
    for name, helptext in (("export", "write the set to FILE.npz"), ("import", "add the drawings of FILE.npz")):
        actions.add_parser(name, parents=[common], help=helptext).add_argument("file", metavar="FILE.npz")
    finetune = commands.add_parser("finetune", parents=[common],
                                   help="fine-tune a model on MNIST + My digits and save it as a new run")
    finetune.add_argument("--model", help="run id to start from (default: the default model)")
    finetune.add_argument("--epochs", type=int, help="passes over the mix (default 2)")


def the_set(args) -> MyDigits:
    return MyDigits(Registry(args.models))


def command_add(args) -> None:
    check_label(args.digit)  # before reading any file
    contents = []
    for name in args.images:
        try:
            contents.append((name, Path(name).read_bytes()))
        except OSError as error:
            raise MyDigitsError(f"{name}: cannot be read ({error.strerror or error}).") from None
    items = the_set(args).add_image_files(args.digit, contents)
    ids = [item.id for item in items]
    print(json.dumps({"added": ids}) if args.json else "\n".join(
        f"added {name} as a {args.digit}: {item_id}" for name, item_id in zip(args.images, ids, strict=True)))


def command_list(args) -> None:
    digits = the_set(args)
    counts, items = digits.counts(), digits.items()
    if args.json:
        print(json.dumps({**counts, "items": [{"id": item.id, "label": item.label, "held_out": item.held_out,
                                               "added": item.added} for item in items]}))
        return
    lines = [f"{digit}: {count} drawing(s), {counts['held_out_per_digit'][digit]} held out"
             for digit, count in counts["per_digit"].items()]
    print("\n".join(lines + [f"total {counts['total']}, held out {counts['held_out']} (never trained on)",
                             f"folder {digits.root}"]))


def command_remove(args) -> None:
    removed = the_set(args).remove(args.ids)
    print(json.dumps({"removed": removed}) if args.json else f"removed {removed} drawing(s)")


def command_export(args) -> None:

    content = the_set(args).export_bytes()
    write_output(args.file, content)
    print(json.dumps({"file": args.file, "bytes": len(content)}) if args.json else f"wrote {args.file}")


def command_import(args) -> None:
    try:
        with open(args.file, "rb") as handle:
            check_import_size(os.fstat(handle.fileno()).st_size)  # a huge file is refused before it is read
            content = handle.read(MAX_IMPORT_BYTES + 1)
    except OSError as error:
        raise MyDigitsError(f"{args.file}: cannot be read ({error.strerror or error}).") from None
    added, skipped = the_set(args).import_bytes(content)
    print(json.dumps({"added": added, "skipped": skipped}) if args.json else
          f"added {added} drawing(s); {skipped} already in My digits were skipped")


MINE_COMMANDS = {"add": command_add, "list": command_list, "remove": command_remove, "export": command_export,
                 "import": command_import}


def command_mine(args) -> None:
    MINE_COMMANDS[args.mine_command](args)


def command_finetune(args) -> int:
    registry = Registry(args.models)
    run_id = chosen_run(registry, args.model)
    registry.record(run_id)  # an unknown run is refused before TensorFlow loads
    from mnist_core.jobs.finetune import FINETUNE_CONFIG, finetune_request

    epochs = FINETUNE_CONFIG.epochs if args.epochs is None else args.epochs  # 0 is refused, not the default
    request = finetune_request(registry, run_id, epochs)

    def show(event) -> None:
        if event.kind == "epoch" and not args.json:
            print(f"epoch {event.epoch}/{event.epochs}: loss {event.metrics.get('loss', float('nan')):.4f}",
                  file=sys.stderr)

    record = request.execute(request, dataset(args), registry, on_event=show)
    payload = {"run_id": record.id, "status": record.status, "reason": record.reason, "parent": record.parent,
               **{key: record.finetune[key] for key in ("trained_on", "held_out", "mine_accuracy_before",
                                                        "mine_accuracy_after", "test_accuracy_before")},
               "test_accuracy_after": record.test_accuracy, "seconds": record.seconds}
    if args.json:
        print(json.dumps(payload))
    else:
        print(f"{record.status}: {record.reason}\nrun {record.id}")
        for what, key in (("my held-out digits", "mine_accuracy"), ("MNIST test", "test_accuracy")):
            before, after = payload[f"{key}_before"], payload[f"{key}_after"]
            print(f"{what}: " + ("none held out" if before is None else f"{before:.2%} -> {after:.2%}"))
        print(f"{record.seconds:.1f} s")
    return 1 if record.status == "failed" else 0
