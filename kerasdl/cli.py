"""The `kerasdl` command: train, evaluate, export, predict, prepare, runs, presets, doctor.

Bad input is one line on stderr and exit status 2; a run that fails after it
started (divergence, a failed export check) is one line and exit status 1,
as is a `doctor --preset` whose preset would fail on a TPU.
"""

import argparse
import shutil
import sys
from pathlib import Path

from kerasdl.errors import RunFailed, UserError

DEFAULT_PRESET = "digits_cnn"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error."""

    def error(self, message):
        raise UserError(f"{message} (see `{self.prog} --help`)")


def build_parser():
    parser = _Parser(prog="kerasdl", description="Train, verify and export Keras models for any hardware.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train, evaluate, export and verify a preset")
    train.add_argument("preset", metavar="PRESET", help="a name from `kerasdl presets`")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings over the preset, e.g. epochs=5")

    evaluate = commands.add_parser("evaluate", help="re-evaluate a finished run on its test split")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")

    export = commands.add_parser("export", help="(re-)export a finished run and verify the TFLite model")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument(
        "--variants", help="comma-separated TFLite variants: float32, float16, dynamic, int8 (default: the run's)"
    )
    export.add_argument("--int8-io", choices=("float", "int8", "uint8"), help="input/output type of the int8 variant")
    export.add_argument(
        "--allow-flex", action="store_true", default=None, help="permit TensorFlow (Flex) ops; phones then need Flex"
    )

    predict = commands.add_parser("predict", help="run the exported TFLite model on raw inputs")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="image, .wav, .npy, .csv, or a CSV row like 1.0,2.5"
    )
    predict.add_argument("--top", type=int, default=3, help="classes to show per input (default 3)")
    predict.add_argument("--variant", default="float32", help="TFLite variant to run (default float32)")
    predict.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="where a segmenter, detector or translator writes its pictures (default: beside each photo); "
        "with --generate, the WAV file to write",
    )
    predict.add_argument(
        "--grid", default=None, metavar="PNG", help="a translator: also a contact sheet of every input | output"
    )
    predict.add_argument("--generate", type=float, default=None, metavar="SECONDS", help="a WaveNet: generate audio")
    predict.add_argument("--condition", default=None, metavar="LABEL", help="with --generate: the label to speak")
    predict.add_argument("--temperature", type=float, default=1.0, help="with --generate: sampling temperature")
    predict.add_argument("--seed", type=int, default=0, help="with --generate: seeds the sampling (default 0)")
    predict.add_argument("--conf", type=float, default=None, help="a detector: lowest score shown (default 0.25)")
    predict.add_argument(
        "--iou", type=float, default=None, help="a detector: NMS IoU, at most the model's own 0.7 (default 0.7)"
    )

    runs = commands.add_parser("runs", help="one line per run under DIR (default saved_models); --compare A B")
    runs.add_argument("folder", nargs="?", default="saved_models", metavar="DIR")
    runs.add_argument("--sort", default="when", help="when (newest first, the default), name, preset, metric or size")
    runs.add_argument(
        "--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="two runs' settings and metrics, side by side"
    )

    prepare = commands.add_parser("prepare", help="decode and split an image folder once, into TFRecord files")
    prepare.add_argument("data", metavar="DATA", help="images:DIR")
    prepare.add_argument("out_dir", metavar="OUT_DIR", help="a new folder; train from it with data=tfrecord:OUT_DIR")
    prepare.add_argument(
        "settings", nargs="*", metavar="KEY=VALUE", help="seed, validation_fraction, test_fraction, image_size"
    )

    commands.add_parser("presets", help="list the presets")
    doctor = commands.add_parser("doctor", help="devices, what auto picks, versions; --preset: TPU readiness")
    doctor.add_argument("--preset", metavar="NAME", help="also check that this preset would train on a TPU")
    doctor.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings over the preset, e.g. epochs=5")
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        if args.command == "presets":
            return _presets()
        if args.command == "runs":  # reads text files only: no TensorFlow
            return _runs(args)
        from kerasdl.quiet import quiet_tensorflow

        quiet_tensorflow()
        return {
            "train": _train,
            "evaluate": _evaluate,
            "export": _export,
            "predict": _predict,
            "prepare": _prepare,
            "doctor": _doctor,
        }[args.command](args)
    except (UserError, RunFailed) as error:
        print(f"kerasdl: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print(
            "kerasdl: interrupted; run the same command again to resume from the last finished epoch", file=sys.stderr
        )
        return 130
    finally:
        from kerasdl.interrupts import stopped

        stopped()


def _runs(args):
    from kerasdl.run_list import aligned, compare_runs, list_runs

    if args.compare:
        header, rows, differing = compare_runs(*args.compare)
        print("\n".join(aligned(header, rows[:differing])))
        print(f"{len(rows) - differing} other settings and results are the same in both")
        return 0
    header, rows = list_runs(args.folder, sort=args.sort)
    if not rows:
        print(f"no runs under {args.folder} (a run directory holds a config.yaml)")
        return 0
    print("\n".join(aligned(header, rows)))
    return 0


def _presets():
    from kerasdl.config import preset_names, read_preset

    for name in preset_names():
        print(f"{name:<20} {read_preset(name).get('description', '')}")
    return 0


def _train(args):
    from kerasdl.interrupts import watch_interrupts

    watch_interrupts()  # Ctrl-C and SIGTERM stop it, even where a library swallowed the first KeyboardInterrupt
    from kerasdl.config import BACKENDS, make_config, read_preset
    from kerasdl.config_values import parse_overrides
    from kerasdl.jax_backend import select_backend
    from kerasdl.multi_worker import is_chief
    from kerasdl.runlock import refused_train

    overrides = parse_overrides(args.overrides)
    # A multi-worker run's other workers never hold the directory: the chief does.
    if overrides.get("run_dir") and is_chief():
        _refuse_if_held(overrides["run_dir"], refused_train)
    # Keras reads KERAS_BACKEND once, when it is imported, and make_config
    # imports it (model hyperparameters are checked against the builders).
    backend = overrides.get("backend") or read_preset(args.preset).get("backend", "auto")
    if backend in BACKENDS:  # anything else: make_config says what is allowed
        select_backend(backend)
    config = make_config(args.preset, overrides)
    from kerasdl import tasks
    from kerasdl.export.report import held_out_examples, text_table
    from kerasdl.training import train

    result = train(config)
    test = result.metrics["test"]
    task = tasks.get(config.task)
    measure, figures = task.headline(test)
    if not result.card:  # a worker other than the chief: the chief exports
        print(f"{'Test ' + measure:<15} {figures}; the chief exports to {result.run_dir}")
        return 0
    float32 = result.card["variants"]["float32"]
    shipped = [name for name, entry in result.card["variants"].items() if "file" in entry]
    tensorboard = Path(shutil.which("tensorboard") or Path(sys.executable).parent / "tensorboard")
    if tensorboard.is_relative_to(Path.cwd()):
        tensorboard = tensorboard.relative_to(Path.cwd())  # .venv/bin/tensorboard after `make train`
    print()
    print(text_table(result.card))
    print()
    print(f"{'Test ' + measure:<15} {figures} on {held_out_examples(result.card)} held-out examples")
    print(f"Run directory   {result.run_dir}")
    print(
        f"TFLite model    {result.run_dir / float32['file']} ({float32['size_bytes'] / 1024:.1f} KiB, "
        f"builtin ops only, {task.agreement(float32['parity'])}); "
        f"variants: {', '.join(shipped)}"
    )
    print(f"TensorBoard     {tensorboard} --logdir {result.run_dir}   (all runs: make tensorboard)")
    return 0


def _evaluate(args):
    from kerasdl.rundir import existing_run

    existing_run(args.run_dir)  # before TensorFlow loads: a wrong path is refused at once
    from kerasdl.runs import evaluate_run

    now, recorded = evaluate_run(args.run_dir)
    recorded, now = _flat(recorded or {}), _flat(now)
    width = max(10, *(len(name) for name in now))
    for name, value in now.items():
        if value is None:  # a class absent from the test split and its predictions
            continue
        before = f"  (recorded: {recorded[name]:.4f})" if recorded.get(name) is not None else ""
        print(f"test {name:<{width}} {value:.4f}{before}")
    return 0


def _flat(metrics):
    """`{"iou": {"cell": 0.9}}` -> `{"iou[cell]": 0.9}`: per-class figures one a line."""
    flat = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            flat |= {f"{name}[{key}]": inner for key, inner in value.items()}
        else:
            flat[name] = value
    return flat


def _refuse_if_held(path, message):
    """A directory another command holds stops this one before TensorFlow
    loads (seconds). Only the look: the lock the run takes later decides."""
    from kerasdl.runlock import holder

    busy = holder(path)
    if busy:
        raise UserError(message(path, busy))


def _export(args):
    from kerasdl.interrupts import watch_interrupts
    from kerasdl.runlock import refused_export

    watch_interrupts()

    _refuse_if_held(args.run_dir, refused_export)
    from kerasdl.config_values import parse_variants
    from kerasdl.rundir import existing_run

    if args.variants is not None:
        parse_variants(args.variants)  # a bad name first, as `export_existing_run` checks it
    existing_run(args.run_dir)  # before TensorFlow loads, as for evaluate
    from kerasdl.jax_backend import select_backend

    select_backend("tensorflow")  # SavedModel and TFLite are TensorFlow's, whoever trained the run
    from kerasdl.export.report import text_table
    from kerasdl.runs import export_existing_run

    card = export_existing_run(args.run_dir, args.variants, args.int8_io, args.allow_flex)
    print(text_table(card))
    written = ["model_card.json", "report.md", "labels.txt", "saved_model/", "model.keras"]
    if "vocabulary_file" in card["input"]:
        written.append(card["input"]["vocabulary_file"])
    print(f"Written to {args.run_dir}: {', '.join(written)}")
    return 0


def _predict(args):
    from kerasdl import tasks
    from kerasdl.prediction import load_card, predict

    if args.top < 1:
        raise UserError(f"--top must be >= 1, got {args.top}")
    card = load_card(Path(args.run_dir))
    task = tasks.for_card(card)
    if args.generate is not None or hasattr(task, "GENERATES"):
        from kerasdl.prediction import generate

        if args.inputs and args.generate is not None:
            raise UserError(f"--generate takes no INPUT (got {args.inputs[0]!r}); it writes --out FILE.wav")
        result = generate(
            args.run_dir, args.generate, args.condition, args.out, args.variant, args.temperature, args.seed
        )
        print(task.format_prediction(result))
        return 0
    thresholds = {"min_score": args.conf, "nms_iou": args.iou}
    results = predict(args.run_dir, args.inputs, args.top, args.variant, args.out, grid=args.grid, **thresholds)
    for source, result in results:
        print(f"{source}: {task.format_prediction(result)}")
    return 0


def _prepare(args):
    from kerasdl.config import make_config
    from kerasdl.config_values import parse_overrides
    from kerasdl.data.prepared import PREPARE_KEYS, prepare

    settings = parse_overrides(args.settings)
    unknown = sorted(set(settings) - set(PREPARE_KEYS))
    if unknown:
        raise UserError(f"kerasdl prepare takes {', '.join(PREPARE_KEYS)}; got {unknown[0]!r}")
    config = make_config("image_cnn", settings)  # checks each value as training would
    keys = {key: getattr(config, key) for key in PREPARE_KEYS}
    index = prepare(args.data, args.out_dir, **keys)
    counts = ", ".join(f"{split} {part['count']}" for split, part in index["splits"].items())
    print(f"Prepared {args.data} in {args.out_dir} ({counts}); train with data=tfrecord:{args.out_dir}")
    return 0


def _doctor(args):
    from kerasdl.jax_backend import select_backend

    # The report and the TPU readiness check run on TensorFlow; its JAX line says what JAX sees.
    select_backend("tensorflow")
    from kerasdl.config import make_config
    from kerasdl.config_values import parse_overrides
    from kerasdl.doctor import report

    if args.overrides and not args.preset:
        raise UserError(f"KEY=VALUE settings need --preset NAME, got {' '.join(args.overrides)!r}")
    # Bad input fails before the report, as one line, like `train`.
    config = make_config(args.preset, parse_overrides(args.overrides)) if args.preset else None
    for line in report():
        print(line)
    if config is None:
        print("TPU readiness: `kerasdl doctor --preset NAME` checks a preset (one XLA training step on this machine)")
        return 0
    from kerasdl.tpu_check import check_tpu_readiness

    return 1 if check_tpu_readiness(config) else 0


if __name__ == "__main__":
    sys.exit(main())
