"""The test examples an export checks its models on.

The export runs the Keras model and every TFLite variant on test examples
held in memory, and compares them (`kerasdl.export.variants`). A folder of
100,000 images has a test split of 20,000 (983 MB as float32 at 64x64), too
much to hold beside a run that streamed its training data in bounded
memory; a test split larger than `PARITY_BYTES` is checked on a seeded
sample of it. The test metrics of the Keras model always come from the
whole split (`kerasdl.training`), read through the input pipeline.
"""

import numpy as np

# Inputs of the examples the export checks on, as bytes: all of the test
# split of every bundled data set (MNIST's 10,000 28x28 digits are 30 MiB,
# CIFAR-10's 10,000 32x32 colour images 117 MiB), 5,461 64x64 colour images
# of a larger folder. Top-1 agreement on 5,461 examples is known to within
# 0.3 points (its 95% interval at 98%), finer than any parity bar.
PARITY_BYTES = 256 * 2**20


def parity_examples(dataset, seed):
    """`(inputs, labels, note)`: the test split, or a sample of
    `PARITY_BYTES` drawn with `seed`, and a line saying which (None for the
    whole split)."""
    size = dataset.size("test")
    per_example = int(np.prod(dataset.info.input_shape)) * 4  # float32 pixels or int32 token ids
    count = max(1, PARITY_BYTES // per_example)
    if size <= count:
        return (*dataset.arrays("test"), None)
    inputs, labels = dataset.sample("test", count, seed)
    note = (
        f"the exported models are checked on {count:,} of the {size:,} test examples (drawn with seed {seed}): "
        f"the whole split would hold {size * per_example / 2**20:,.0f} MiB in memory"
    )
    return inputs, labels, note
