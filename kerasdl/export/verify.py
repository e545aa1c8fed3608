"""Runs TFLite models with LiteRT and compares them with the Keras model by
the task's parity measure (`kerasdl.tasks`)."""

import os

import numpy as np

from kerasdl.litert_runner import tflite_predict


def keras_outputs(model, inputs, batch_size):
    """`model`'s float32 outputs on `inputs`, `batch_size` examples per
    call, written into one array.

    `predict()` keeps every batch's output and then joins them: on the 400
    test images of a 128x128 U-Net (52 MB of probabilities) it left 330 MiB
    more resident against 120 MiB for calls of one batch (measured, Intel
    Xeon). `predict_on_batch` runs one batch on the model's device without
    splitting it across replicas: the exported model is always a
    single-device one (`kerasdl.training`).
    """
    outputs = None
    for start in range(0, len(inputs), batch_size):
        part = np.asarray(model.predict_on_batch(inputs[start : start + batch_size]), dtype=np.float32)
        if outputs is None:
            outputs = np.empty((len(inputs), *part.shape[1:]), dtype=np.float32)
        outputs[start : start + len(part)] = part
    return outputs


# The parity run is the whole test split (in calls of `examples_per_call`), split over every core:
# four image_cnn variants' parity runs took 2.4 s instead of 3.0 s (two
# cores, under cProfile). The outputs are those of one thread, bit for bit:
# seen for the four variants on 2,000 digits, and tested (test_export.py).
PARITY_THREADS = os.cpu_count() or 1


def measure_parity(task, expected, model_content, inputs, labels, xnnpack=True):
    """Compares a TFLite model's outputs with the Keras outputs `expected`
    by `task`'s measure (`task.parity`)."""
    actual = tflite_predict(model_content, inputs, num_threads=PARITY_THREADS, xnnpack=xnnpack, output=task.OUTPUT)
    return task.parity(expected, actual, labels)
