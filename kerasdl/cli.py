"""The `kerasdl` command: train, evaluate, export, predict, presets, doctor.

Bad input is one line on stderr and exit status 2; a run that fails after it
started (divergence, a failed export check) is one line and exit status 1.
"""

import argparse
import sys

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
    export.add_argument("--variants", default="float32", help="comma-separated TFLite variants (float32)")

    predict = commands.add_parser("predict", help="run the exported TFLite model on raw inputs")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image, .npy, .csv, or a CSV row like 1.0,2.5")
    predict.add_argument("--top", type=int, default=3, help="classes to show per input (default 3)")

    commands.add_parser("presets", help="list the presets")
    commands.add_parser("doctor", help="devices, the strategy and precision auto picks, versions")
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        if args.command == "presets":
            return _presets()
        from kerasdl.quiet import quiet_tensorflow

        quiet_tensorflow()
        return {
            "train": _train,
            "evaluate": _evaluate,
            "export": _export,
            "predict": _predict,
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


def _presets():
    from kerasdl.config import preset_names, read_preset

    for name in preset_names():
        print(f"{name:<20} {read_preset(name).get('description', '')}")
    return 0


def _train(args):
    from kerasdl.config import make_config, parse_overrides

    config = make_config(args.preset, parse_overrides(args.overrides))
    from kerasdl.training import train

    result = train(config)
    test = result.metrics["test"]
    variant = result.card["variants"]["float32"]
    parity = variant["parity"]
    tflite = result.run_dir / variant["file"]
    print()
    print(f"Test accuracy   {test['accuracy']:.2%} (loss {test['loss']:.4f}) on {parity['examples']} held-out examples")
    print(f"Run directory   {result.run_dir}")
    print(
        f"TFLite model    {tflite} ({variant['size_bytes'] / 1024:.1f} KiB, builtin ops only, "
        f"agrees with Keras on {parity['top1_agreement']:.1%} of the test split)"
    )
    print(f"TensorBoard     tensorboard --logdir {result.run_dir}   (all runs: make tensorboard)")
    return 0


def _evaluate(args):
    from kerasdl.runs import evaluate_run

    now, recorded = evaluate_run(args.run_dir)
    for name, value in now.items():
        before = f"  (recorded: {recorded[name]:.4f})" if recorded and name in recorded else ""
        print(f"test {name:<10} {value:.4f}{before}")
    return 0


def _export(args):
    from kerasdl.runs import export_existing_run

    variants = tuple(name.strip() for name in args.variants.split(",") if name.strip())
    card = export_existing_run(args.run_dir, variants)
    for name, variant in card["variants"].items():
        parity = variant["parity"]
        print(
            f"{name:<8} {variant['file']:<14} {variant['size_bytes'] / 1024:8.1f} KiB  "
            f"top-1 agreement {parity['top1_agreement']:.1%}  max |diff| {parity['max_abs_diff']:.1e}  "
            f"test accuracy {parity['accuracy']:.2%}  builtins only: {'yes' if variant['builtins_only'] else 'no'}"
        )
    return 0


def _predict(args):
    from kerasdl.predict import predict

    if args.top < 1:
        raise UserError(f"--top must be >= 1, got {args.top}")
    for source, ranked in predict(args.run_dir, args.inputs, top=args.top):
        print(f"{source}: " + ", ".join(f"{label} ({probability:.3f})" for label, probability in ranked))
    return 0


def _doctor(args):
    from kerasdl.doctor import report

    for line in report():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
