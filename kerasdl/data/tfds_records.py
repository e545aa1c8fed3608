"""Examples streamed from a TFDS set's records instead of files, and the
splits carved from them: shared by the segmentation (`tfds_segmentation`)
and detection (`tfds_detection`) sets.

A split is `(sources, positions)`: for each example, the TFDS split it is
read from and its position in that split's stored order. Records are read
in order (TFRecord files cannot be read at random), so a split carved from
TFDS's train split reads the train records up to its last example and keeps
its own.
"""

import dataclasses

import numpy as np

from kerasdl.errors import UserError

# Encoded examples a training split is shuffled in. TFDS records are read
# in order (files cannot be read at random), but TFDS shuffled the examples
# when it wrote them; the buffer reorders them every epoch. 512 Oxford-IIIT
# Pet examples are about 55 MB of JPEG and PNG bytes (774 MiB for 7,349).
SHUFFLE_BUFFER = 512


@dataclasses.dataclass
class TfdsRecords:
    """What a `MaskDataset` subclass needs to read its examples from TFDS
    records rather than files (put it first among the bases: its `_records`
    and `_shuffle_buffer` replace the file-reading ones; the subclass writes
    the `_reader` that decodes a record).

    Args:
        records: `{TFDS split: tf.data.Dataset}` of encoded records, in
            stored order, each one element `_reader` reads.
        decode: the subclass's record decoder (see its docstring).
    """

    records: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    decode: object = dataclasses.field(default=None, repr=False, compare=False)
    # Read from TFDS's own checked records: nothing to count as unreadable.
    tallies = False

    def _records(self, parts, shuffle=False, seed=0):
        """The encoded examples of `parts`, each TFDS split's in stored order,
        then reshuffled every epoch in a buffer of `SHUFFLE_BUFFER` if
        `shuffle`."""
        import tensorflow as tf

        sources, positions = parts
        data = next(iter(self.records.values())).take(0)
        for source in dict.fromkeys(sources):
            data = data.concatenate(_at_positions(self.records[source], positions[sources == source]))
        # Known, as a folder's is: Keras then stops each epoch at its last
        # batch instead of running out of data mid-execution.
        data = data.apply(tf.data.experimental.assert_cardinality(len(positions)))
        if shuffle:
            data = data.shuffle(self._shuffle_buffer(len(positions)), seed=seed, reshuffle_each_iteration=True)
        return data

    def _shuffle_buffer(self, count):
        return min(count, SHUFFLE_BUFFER)


def record_count(data):
    """Examples in a TFDS split, from its metadata where TFDS knows it."""
    count = int(data.cardinality())
    return count if count >= 0 else int(data.reduce(0, lambda count, _: count + 1))


def tfds_splits(counts, seed, validation_fraction, test_fraction):
    """`{split: (sources, positions)}` from `counts`, the examples in each
    TFDS split: TFDS's own test (and validation) split where it has one,
    validation then `validation_fraction` of its train split; with no test
    split, seeded random shares of the train split, as `masks:DIR` splits a
    folder. Positions are sorted: the records are read in stored order.

    Example:
        >>> splits = tfds_splits({"train": 3680, "test": 3669}, 42, 0.1, 0.2)
        >>> [len(splits[name][1]) for name in ("train", "validation", "test")]
        [3312, 368, 3669]
    """
    own = {split: (np.full(count, split), np.arange(count)) for split, count in counts.items()}
    if "test" in own and "validation" in own:
        return own
    count = counts["train"]
    test = 0 if "test" in own else max(1, round(test_fraction * count))
    validation = max(1, round(validation_fraction * count))
    if count - test - validation < 1:
        raise UserError(
            f"The train split's {count} example(s) cannot fill train and validation"
            + ("" if "test" in own else " and test")
            + f" (validation_fraction={validation_fraction:g}, test_fraction={test_fraction:g})"
        )
    order = np.random.default_rng(seed).permutation(count)
    carved = {"train": order[test + validation :], "validation": order[test : test + validation]}
    if "test" not in own:
        carved["test"] = order[:test]
    return own | {split: (np.full(len(part), "train"), np.sort(part)) for split, part in carved.items()}


def _at_positions(records, positions):
    """The records at `positions` of one TFDS split, in stored order; reading
    stops after the last of them."""
    import tensorflow as tf

    wanted = np.zeros(int(positions.max()) + 1 if len(positions) else 0, dtype=bool)
    wanted[positions] = True
    wanted = tf.constant(wanted)
    data = records.take(len(wanted)).enumerate().filter(lambda position, _: wanted[position])
    return data.map(lambda _, record: record)
