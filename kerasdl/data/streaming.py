"""`FileDataset`: splits held as file lists, decoded while `tf.data` reads them.

A file source lists its files, splits the list (labels come from the paths
or label files, without decoding), and leaves the decoding to the input
pipeline: parallel reads, then a cache (`cache_plan`), a shuffle, batches
and prefetch. A folder larger than memory trains in bounded memory.

A file that turns out unreadable while the pipeline decodes it is dropped
from the stream (`ignore_errors`) and counted (`FileDataset.unreadable`), so
one truncated download does not stop a run of thousands and the user still
hears which file it was. Multi-worker runs read each worker's share of the
files only (`pipeline(shard=...)`).
"""

import atexit
import dataclasses
import itertools
import os
import shutil
import tempfile

import numpy as np

from kerasdl.data.cache_plan import CachePlan, free_disk
from kerasdl.data.dataset import (
    PREFETCH_BATCHES,
    Dataset,
    batching,
    filled_arrays,
    first_few,
    seeded_choice,
    untuned,
    usable_threads,
)

# Decoded examples a split cached on disk is reshuffled in, as bytes: the
# cache file is read in the order the first epoch wrote it (its files in a
# seeded random order), and a buffer of this much reorders it every epoch.
DISK_SHUFFLE_BYTES = 128 * 2**20

# Names disk caches apart: each pipeline writes its own file.
_CACHE_FILES = itertools.count()


@dataclasses.dataclass
class FileDataset(Dataset):
    """Splits held as file paths (and labels), decoded by the pipeline.

    `splits[name]` is a tuple of arrays, one element per example, whose
    first array names each example's (first) file. A subclass writes
    `_reader`, which turns one example's arrays into tensors, and
    `decoded_bytes`; it may add an `_augmenter`.

    Args:
        cache: `auto`, `memory`, `disk` or `none` (`kerasdl.data.cache_plan`).
        cache_dir: where `disk` caches go (the run's `cache/` folder); None
            makes a temporary folder, removed when the process ends.
        augment: training pipelines (`shuffle=True` on `train`) go through
            `_augmenter`.
    """

    cache: str = "auto"
    cache_dir: object = None
    augment: bool = False
    loaded: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    # Split -> indices of the examples pipelines were asked for, and of those
    # they decoded; see `unreadable`.
    requested: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    decoded: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    plan: object = dataclasses.field(default=None, repr=False, compare=False)
    # The files that failed to decode have been named in the run's log.
    reported: bool = dataclasses.field(default=False, repr=False, compare=False)
    # TFDS records (`TfdsRecords`) come from a checked store: no tally.
    tallies = True
    # What the files `unreadable_note` names went wrong with.
    failure = "failed to decode while reading"

    def size(self, split):
        """Examples in `split`, counted from its file list without reading any."""
        return len(self.splits[split][0])

    def arrays(self, split):
        """`split` in memory, cached: each part of the pipeline's examples as
        one array (`filled_arrays`). The stream has the split's length even
        where files fail to decode (`_decoded`)."""
        if split not in self.loaded:
            self.loaded[split] = filled_arrays(self.pipeline(split, 64, once=True), self.size(split))
        return self.loaded[split]

    def sample(self, split, count, seed=None):
        """At most `count` examples of `split`, reading only those files
        (see `Dataset.sample`); a seeded choice comes in the split's order."""
        if split in self.loaded:
            return super().sample(split, count, seed)
        parts = self.splits[split]
        size = len(parts[0])
        chosen = np.arange(min(count, size)) if seed is None else np.sort(seeded_choice(size, count, seed))
        part = dataclasses.replace(
            self, splits={split: tuple(part[chosen] for part in parts)}, loaded={}, requested={}, decoded={}
        )
        return part.arrays(split)

    def cache_plan(self):
        """Where the training and validation splits are cached (`CachePlan`), decided once."""
        if self.plan is None:
            sizes = {split: self.size(split) * self.decoded_bytes() for split in ("train", "validation")}
            folder = self.cache_dir or tempfile.gettempdir()
            self.plan = CachePlan.decide(self.cache, sizes, disk_room=free_disk(folder))
        return self.plan

    def pipeline(self, split, batch_size, shuffle=False, seed=0, replicas=1, even=False, shard=None, once=False):
        """A batched `tf.data.Dataset` of `split`, decoded from its files.

        Args:
            split: `train`, `validation` or `test`.
            batch_size: the batch size of this pipeline (the global one, or a
                worker's where `shard` is given).
            shuffle: reshuffle every epoch (for training); on `train`, also
                augment if the dataset does.
            seed: seeds the shuffle and the augmentation so runs repeat.
            replicas: replicas the batches are split across.
            even: every batch must split evenly across the replicas (see
                `Dataset.pipeline`).
            shard: `(count, index)`: read only this worker's share, an equal
                one for each of `count` workers (see `shard_files`).
            once: the pipeline is read once (into arrays): never cached.

        Returns:
            A prefetched `tf.data.Dataset` of the subclass's examples in
            batches. Training and validation splits are cached as
            `cache_plan` says; with the split kept in memory or streamed,
            the same seed gives the same batches.

        Example:
            >>> images, labels = next(iter(dataset.pipeline("train", 32, shuffle=True)))
        """
        parts = self.splits[split]
        indices = np.arange(len(parts[0]))
        if shard:
            indices = shard_files(len(indices), *shard)
        keep, batch_size, drop_remainder = batching(len(indices), batch_size, replicas, shuffle, even)
        indices = indices[:keep]
        where = self.cache_plan().where(split) if (shuffle or split == "validation") and not once else "none"
        augmenting = shuffle and split == "train" and self.augment
        data = self._decoded(split, indices, augmenting, shuffle=shuffle and where != "memory", seed=seed)
        if where != "none":
            data = data.cache(self._cache_file(split) if where == "disk" else "")
            if shuffle and where == "memory":  # the whole split: in memory, a buffer is pointers
                data = data.shuffle(keep, seed=seed, reshuffle_each_iteration=True)
            elif shuffle:  # read back in the first epoch's order, reordered in a buffer
                buffer = max(1, min(keep, DISK_SHUFFLE_BYTES // self.decoded_bytes()))
                data = data.shuffle(buffer, seed=seed + 1, reshuffle_each_iteration=True)
        data = self._batched(data, split, batch_size, drop_remainder, keep)
        if augmenting:
            # One call at a time: the layers draw from a seed state, so the
            # order of the batches fixes their transforms and runs repeat.
            data = data.map(self._augmenter(seed))
        return untuned(data.prefetch(PREFETCH_BATCHES))

    def unreadable(self, split):
        """Paths of `split` that the pipeline could not decode, once a pass
        over the whole split has run (before: every example not yet read)."""
        missing = self.requested.get(split, set()) - self.decoded.get(split, set())
        return [str(self.splits[split][0][index]) for index in sorted(missing)]

    def unreadable_note(self, splits=("train", "validation")):
        """One line naming the files of `splits` that failed to decode, or None."""
        if not self.tallies:
            return None
        failed = [path for split in splits for path in self.unreadable(split)]
        if not failed:
            return None
        return f"skipped {len(failed)} file(s) that {self.failure}: {first_few(failed)}"

    def statistics(self, split, sample, seed):
        """Per-channel mean and variance of the inputs of `split`, from at
        most `sample` examples chosen with `seed`."""
        chosen = np.sort(np.random.default_rng(seed).permutation(self.size(split))[:sample])
        data = untuned(self._batched(self._decoded(split, chosen), split, 64))
        channels = self.info.input_shape[-1]
        total, squares, count = np.zeros(channels), np.zeros(channels), 0
        for inputs, *_ in data.as_numpy_iterator():
            values = inputs.reshape(-1, channels).astype("float64")
            total, squares, count = total + values.sum(0), squares + (values**2).sum(0), count + len(values)
        mean = total / count
        return mean.astype("float32"), np.maximum(squares / count - mean**2, 0).astype("float32")

    def set_statistics(self, sample, seed):
        """Sets the info's mean and variance from at most `sample` training
        examples chosen with `seed` (`statistics`), and says so in `notes`
        when that is not all of them."""
        self.info.mean, self.info.variance = self.statistics("train", sample, seed)
        if self.size("train") > sample:
            self.notes.append(f"normalisation: mean and variance of {sample} training images drawn with seed {seed}")

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it (the subclass knows)."""
        raise NotImplementedError

    def _decoded(self, split, indices, augmenting=False, shuffle=False, seed=0):
        """The examples at `indices` of `split`, read in parallel, in order
        (reshuffled every epoch with `seed` if `shuffle`), each with its
        index in the split first where the dataset `tallies`.

        One that fails to decode is left out and its place taken by an
        example read again from the start of the pass: the stream keeps its
        length, so Keras knows the steps of every epoch and workers stay in
        step. Its index never reaches `_batched`, which tallies the rest."""
        import tensorflow as tf

        parts = tuple(part[indices] for part in self.splits[split])
        read = self._reader(augmenting)
        # Four calls a core: a read waits on the disk and on the Python that
        # feeds the pipeline as well as on decoding (7,000 64x64 PNGs on 2
        # cores, medians of 7 passes: 8,000 a second with 2 calls, 8,600
        # with 3, 9,200 with 4, 9,900 with 8).
        threads = 4 * usable_threads()
        if not self.tallies:
            return self._records(parts, shuffle, seed).map(read, num_parallel_calls=threads, deterministic=True)
        self.requested.setdefault(split, set()).update(int(index) for index in indices)

        def indexed(pass_seed):
            records = self._records((indices.astype("int64"), *parts), shuffle, pass_seed)
            data = records.map(
                lambda index, *record: (index, *read(*record)), num_parallel_calls=threads, deterministic=True
            )
            return data.ignore_errors()

        # The second pass is read only where files failed: `take` ends the stream first otherwise.
        data = indexed(seed).concatenate(indexed(seed + 1).repeat()).take(len(indices))
        return data.apply(tf.data.experimental.assert_cardinality(len(indices)))

    def _batched(self, data, split, batch_size, drop_remainder=False, count=None):
        """`_decoded`'s examples in batches, their indices taken off and
        tallied in `decoded[split]` (once a batch: a call into Python for
        each example cost a fifth of the pipeline's speed)."""
        import tensorflow as tf

        if not self.tallies:
            return data.batch(batch_size, drop_remainder=drop_remainder)
        seen = self.decoded.setdefault(split, set())

        def mark(indices):
            seen.update(indices.tolist())
            return np.int64(len(indices))

        def tallied(indices, *example):
            with tf.control_dependencies([tf.numpy_function(mark, [indices], tf.int64, stateful=True)]):
                return tuple(tf.identity(part) for part in example)

        # The last, partial batch is tallied too, then dropped if it must be.
        data = data.batch(batch_size).map(tallied)
        if not drop_remainder:
            return data
        data = data.filter(lambda *example: tf.shape(example[0])[0] == batch_size)
        data = data.map(
            lambda *example: tuple(tf.ensure_shape(part, (batch_size, *part.shape[1:])) for part in example)
        )
        return data.apply(tf.data.experimental.assert_cardinality(count // batch_size))

    def _records(self, parts, shuffle=False, seed=0):
        """What `_reader` reads, one element per example of `parts` (a
        split's arrays), reshuffled every epoch with `seed` if `shuffle`. A
        subclass that reads another source overrides this, `_shuffle_buffer`
        and `_reader`."""
        import tensorflow as tf

        data = tf.data.Dataset.from_tensor_slices(tuple(parts))
        if shuffle:
            data = data.shuffle(self._shuffle_buffer(len(parts[0])), seed=seed, reshuffle_each_iteration=True)
        return data

    def _shuffle_buffer(self, count):
        # Paths are small: the buffer holds the whole split.
        return count

    def _reader(self, augmenting=False):
        """`(*one example's arrays) -> example tensors`; `augmenting`: the
        examples go on to `_augmenter` (which may want them larger)."""
        raise NotImplementedError

    def _augmenter(self, seed):
        raise NotImplementedError

    def _cache_file(self, split):
        """A new cache file name for `split` in `cache_dir` (made if missing)."""
        folder = self.cache_dir or _temporary_cache_dir()
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{split}-{os.getpid()}-{next(_CACHE_FILES)}")


def shard_files(count, workers, worker):
    """The indices of `count` examples that `worker` of `workers` reads:
    every `workers`-th, the same number for each (the last `count % workers`
    examples sit out: a worker with one more batch would wait for the others
    at its last step). Files come grouped by class, so every share holds
    each class in proportion; each worker shuffles its own share.

    Example:
        >>> shard_files(7, 2, 1)
        array([1, 3, 5])
    """
    return np.arange(worker, count, workers)[: count // workers]


_temporary = []


def _temporary_cache_dir():
    """One temporary cache folder per process, removed at exit."""
    if not _temporary:
        _temporary.append(tempfile.mkdtemp(prefix="kerasdl-cache-"))
        atexit.register(shutil.rmtree, _temporary[0], True)
    return _temporary[0]
