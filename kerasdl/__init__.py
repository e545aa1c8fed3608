"""kerasdl: data in, a trained, verified, phone-ready Keras model out.

The Python API mirrors the `kerasdl` command:

    import kerasdl
    result = kerasdl.train("digits_cnn", {"epochs": 5})
    kerasdl.predict(result.run_dir, ["digit.png"])
    kerasdl.check_tpu_readiness("digits_cnn")  # [] when one XLA step compiles

Submodules import TensorFlow lazily, so `import kerasdl` is quick.
"""

__version__ = "0.1.0"


def train(preset, overrides=None, log=print):
    """Trains, evaluates and exports a preset; see `kerasdl.training.train`."""
    from kerasdl.training import train as _train

    return _train(preset, overrides, log=log)


def load_run(run_dir):
    """`(config, dataset, model)` of a finished run; see `kerasdl.runs.load_run`."""
    from kerasdl.runs import load_run as _load_run

    return _load_run(run_dir)


def evaluate(run_dir):
    """Re-evaluates a finished run; see `kerasdl.runs.evaluate_run`."""
    from kerasdl.runs import evaluate_run

    return evaluate_run(run_dir)


def reexport(run_dir, variants=None):
    """Re-exports a finished run; see `kerasdl.runs.export_existing_run`.

    (Not `kerasdl.export`: that name is the `kerasdl/export/` package.)

    `variants` is a list such as `["float32", "int8"]` or the command-line
    string `"float32,int8"`; None keeps the run's own.
    """
    from kerasdl.runs import export_existing_run

    if variants is not None and not isinstance(variants, str):
        variants = ",".join(variants)
    return export_existing_run(run_dir, variants)


def predict(run_dir, inputs, top=3):
    """Runs the exported TFLite model on raw inputs; see `kerasdl.prediction`."""
    from kerasdl.prediction import predict as _predict

    return _predict(run_dir, inputs, top=top)


def generate(run_dir, seconds, condition, out=None, temperature=1.0, seed=0, variant="float32"):
    """A WaveNet run's speech as a WAV file; see `kerasdl.prediction.generate`.

    Example:
        >>> kerasdl.generate("saved_models/wavenet_speech", 1.0, "7", "seven.wav")["real_time_factor"]
    """
    from kerasdl.prediction import generate as _generate

    return _generate(run_dir, seconds, condition, out, variant, temperature, seed)


def check_tpu_readiness(preset, overrides=None, log=print):
    """Problems a TPU would have with a preset (empty: ready); see `kerasdl.tpu_check`.

    `preset` is a name (with KEY=VALUE `overrides`) or a ready `Config`.
    """
    from kerasdl.config import Config, make_config
    from kerasdl.tpu_check import check_tpu_readiness as _check

    return _check(preset if isinstance(preset, Config) else make_config(preset, overrides), log=log)
