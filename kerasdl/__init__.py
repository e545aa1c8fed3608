"""kerasdl: data in, a trained, verified, phone-ready Keras model out.

The Python API mirrors the `kerasdl` command:

    import kerasdl
    result = kerasdl.train("digits_cnn", {"epochs": 5})
    kerasdl.predict(result.run_dir, ["digit.png"])

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


def export(run_dir, variants=("float32",)):
    """Re-exports a finished run; see `kerasdl.runs.export_existing_run`."""
    from kerasdl.runs import export_existing_run

    return export_existing_run(run_dir, variants)


def predict(run_dir, inputs, top=3):
    """Runs the exported TFLite model on raw inputs; see `kerasdl.predict`."""
    from kerasdl.predict import predict as _predict

    return _predict(run_dir, inputs, top=top)
