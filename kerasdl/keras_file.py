"""Loading a `.keras` model file: the one way a run's model and the JAX handoff are read.

Here, not in `kerasdl.runs`, so export (which reads the JAX-trained model
in its TensorFlow child) can load a file without importing the run.
"""

import warnings

import keras

from kerasdl import tasks
from kerasdl.errors import UserError


def load_keras_file(path):
    """A `.keras` model file, loaded with `safe_mode=True`; a `UserError` if it cannot be.

    The tasks' own losses and metrics are passed by name
    (`kerasdl.tasks.keras_objects`). kerasdl's own layers (`RandomShift`) and
    keras-hub's must be registered
    first: both callers read the run's config.yaml before, which imports the
    model families, and its dataset, which imports keras-hub for BERT.

    Args:
        path: the `.keras` file.

    Returns:
        The `keras.Model`, uncompiled for keras-hub task models (BERT).

    Example:
        >>> model = load_keras_file("saved_models/digits_cnn/model.keras")
    """
    try:
        with warnings.catch_warnings():
            # keras-hub task models (BERT) override compile(), so Keras skips
            # restoring the compile config and says so; kerasdl compiles itself.
            warnings.filterwarnings("ignore", message=r"`compile\(\)` was not called as part of model loading")
            return keras.saving.load_model(path, safe_mode=True, custom_objects=tasks.keras_objects())
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot load {path}: {str(error).splitlines()[0]}") from None
