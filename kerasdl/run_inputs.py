"""The input pipelines a run's `fit()` reads, and what streamed data tells the user.

File data (`kerasdl.data.streaming.FileDataset`) is decoded while training
reads it: its disk caches go to the run's `cache/` folder (emptied when the
run starts, a killed run's partial files included, and removed when it
ends), where each split is kept is logged and written to `config.yaml`, and
files that fail to decode are named after the first epoch.

On several workers (MultiWorkerMirroredStrategy) each worker decodes only
its own share of the files (`FileDataset.pipeline(shard=...)`), through
`distribute_datasets_from_function`; tf.distribute's automatic sharding of
a dataset whose elements are file paths would be by element after the
whole pipeline (`AutoShardPolicy.DATA`: every worker decodes every file and
keeps every other one), since the paths come from a tensor, not from files
it can split (`FILE`). Array data keeps Keras's own distribution.
"""

import shutil

import keras

from kerasdl.data.streaming import FileDataset
from kerasdl.multi_worker import in_multi_worker_mode


def start_streaming(dataset, run_dir, log, strategy):
    """Points `dataset`'s disk caches at `run_dir/cache` (emptied first) and
    logs where each split is kept and, on several workers, how the files are
    shared; returns that line, or None for data held in memory."""
    if not isinstance(dataset, FileDataset):
        return None
    folder = run_dir / "cache"
    shutil.rmtree(folder, ignore_errors=True)  # a killed run's partial caches cannot be read back
    dataset.cache_dir = folder
    reason = dataset.cache_plan().reason
    if in_multi_worker_mode(strategy):
        workers = strategy.extended._num_workers  # noqa: SLF001 (no public count)
        reason += f"; each of the {workers} workers decodes its own 1/{workers} of the files"
    log(reason)
    return reason


def end_streaming(dataset, run_dir, log):
    """Once the test split is scored: names its files that failed to decode
    (`UnreadableFiles` named the training and validation ones) and removes
    the run's disk caches (they can be as large as the decoded data)."""
    if not isinstance(dataset, FileDataset):
        return
    note = dataset.unreadable_note(("test",))
    if note:
        log(f"test split: {note}; another test example took each place in the test figures")
    shutil.rmtree(run_dir / "cache", ignore_errors=True)


def fit_inputs(dataset, strategy, batch_size, seed, even):
    """`(training data, validation data)` for `fit()`: `dataset.pipeline`'s,
    sharded by file per worker on several workers.

    Args:
        dataset: the run's `Dataset`.
        strategy: the run's strategy (or `JaxDevices`).
        batch_size: examples per replica.
        seed: seeds the shuffle.
        even: batches must split evenly across replicas (`Dataset.pipeline`).
    """
    replicas = strategy.num_replicas_in_sync
    global_batch = batch_size * replicas
    if not (isinstance(dataset, FileDataset) and in_multi_worker_mode(strategy)):
        return (
            dataset.pipeline("train", global_batch, shuffle=True, seed=seed, replicas=replicas, even=even),
            dataset.pipeline("validation", global_batch, replicas=replicas, even=even),
        )

    def reader(split, shuffle):
        def read(context):
            shard = (context.num_input_pipelines, context.input_pipeline_id)
            # Each replica takes whole batches of its worker's pipeline.
            per_replica = context.get_per_replica_batch_size(global_batch)
            return dataset.pipeline(split, per_replica, shuffle=shuffle, seed=seed, shard=shard)

        return strategy.distribute_datasets_from_function(read)

    return reader("train", True), reader("validation", False)


def input_callbacks(dataset, strategy, log):
    """The callbacks file data adds to `fit()`: `[UnreadableFiles]`, or none for data in memory."""
    if not isinstance(dataset, FileDataset):
        return []
    return [UnreadableFiles(dataset, log, several_workers=in_multi_worker_mode(strategy))]


class UnreadableFiles(keras.callbacks.Callback):
    """After the first epoch of this process (a whole pass over the training
    and validation files), names the files that failed to decode and says
    how many files this worker read."""

    def __init__(self, dataset, log, several_workers=False):
        super().__init__()
        self.dataset, self.log, self.several_workers = dataset, log, several_workers

    def on_epoch_end(self, epoch, logs=None):
        if self.dataset.reported:  # said once a run, not again in a transfer model's second phase
            return
        self.dataset.reported = True
        note = self.dataset.unreadable_note()
        if note:
            self.log(note)
        if self.several_workers and self.dataset.tallies:  # records read by position are not tallied
            read = len(self.dataset.decoded.get("train", ()))
            self.log(f"this worker decoded {read} of the {self.dataset.size('train')} training files")
