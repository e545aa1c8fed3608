"""The TensorFlow SavedModel: `serving_default` and `serve_raw` signatures."""

import keras
import tensorflow as tf

from kerasdl.photos import photo_preparation
from kerasdl.preprocess import prepare_digit_images, prepare_images
from kerasdl.tasks import classify
from kerasdl.tokenize import vectorizer


def write_saved_model(model, info, path, raw_signature=True, task=None):
    """Writes `model` as a SavedModel for TensorFlow Serving and friends.

    Signatures (outputs are `probabilities` in both, and what the task adds:
    a segmenter's `mask`, see `serving_outputs` and `serve_raw_outputs`):

    - `serving_default`: the tensor the TFLite model takes, named after the
      data (`pixels`, `features` or `token_ids`): float32 raw values in the
      data's range (normalisation is inside the model), or int32 token ids.
    - `serve_raw`: what a client has before any preparation. Images:
      `images`, uint8, any size, grey or colour; the signature converts the
      channels, resizes and scales (see `kerasdl.preprocess`; a model of
      the 8x8 digits prepares digit photos as those were made). Text: `texts`,
      strings, tokenised by the signature (see `kerasdl.tokenize`). Tabular
      data: `features`, the raw feature vector.

    Args:
        model: a built `keras.Model`.
        info: the data's `DataInfo`.
        path: destination folder (must not exist).
        raw_signature: add `serve_raw` (the TFLite converter's source needs
            only `serving_default`).
        task: the run's task module (`kerasdl.tasks`); None is `classify`.
    """
    task = task or classify
    archive = keras.export.ExportArchive()
    archive.track(model)
    # A detector serves one photo at a time (`detect.SERVING_BATCH`): its NMS is per image.
    batch = getattr(task, "SERVING_BATCH", None)
    spec = tf.TensorSpec(shape=(batch, *info.input_shape), dtype=info.input_dtype, name=info.input_name)

    def serve(inputs):
        return task.serving_outputs(model(inputs, training=False))

    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    if raw_signature:
        if info.kind == "image":
            raw_spec = tf.TensorSpec(shape=(batch, None, None, None), dtype=tf.uint8, name="images")

            digits = photo_preparation(info.name, info.input_shape) is not None

            def serve_raw(images):
                if hasattr(task, "serve_raw"):  # a detector letterboxes and maps boxes back to the photo
                    return task.serve_raw(model, images, info)
                if digits:  # photos prepared as the 8x8 digits were made (kerasdl.photos)
                    pixels = prepare_digit_images(images, info.value_range)
                else:
                    pixels = prepare_images(images, info.input_shape, info.value_range)
                return task.serve_raw_outputs(model(pixels, training=False), images)

        elif info.kind == "text":
            tokenize = vectorizer(info.tokenizer, info.vocabulary, info.input_shape[0])
            archive.track(tokenize.layer)  # its vocabulary travels with the SavedModel
            raw_spec = tf.TensorSpec(shape=(None,), dtype=tf.string, name="texts")

            def serve_raw(texts):
                return {"probabilities": model(tokenize(texts), training=False)}

        elif info.kind == "audio":
            raw_spec = tf.TensorSpec(shape=(None, None), dtype=tf.float32, name="samples")
            length = info.input_shape[0]

            def serve_raw(samples):  # a clip of any length at the model's rate: cut or padded at its end
                samples = samples[:, :length]
                samples = tf.pad(samples, [[0, 0], [0, length - tf.shape(samples)[1]]])
                return {"probabilities": model(tf.ensure_shape(samples, (None, length)), training=False)}

        else:
            raw_spec = tf.TensorSpec(shape=(None, *info.input_shape), dtype=tf.float32, name="features")
            serve_raw = serve
        archive.add_endpoint(name="serve_raw", fn=serve_raw, input_signature=[raw_spec])
    # With the gradient functions (the default), although tracing them took
    # 16 of a detector's 40 s of saving: SiLU's gradient is a custom one
    # (tf.nn.silu), and without it every load warned "unsaved custom
    # gradients" and a gradient through the SavedModel would fail.
    archive.write_out(str(path), verbose=False)
