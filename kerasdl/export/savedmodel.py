"""The TensorFlow SavedModel, with a `serving_default` signature."""

import keras
import tensorflow as tf


def write_saved_model(model, info, path):
    """Writes `model` as a SavedModel whose `serving_default` takes raw inputs.

    The signature's input is named after the data (`pixels` or `features`)
    and its output `probabilities`, so serving clients and the TFLite model
    converted from it see meaningful names instead of `output_0`.

    Args:
        model: a built `keras.Model`.
        info: the data's `DataInfo` (input shape and name).
        path: destination folder (must not exist).
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec(shape=(None, *info.input_shape), dtype=tf.float32, name=info.input_name)

    def serve(inputs):
        return {"probabilities": model(inputs, training=False)}

    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
