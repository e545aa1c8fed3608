"""A TFDS dataset's splits, read from disk and downloaded once where needed.

With no network, a dataset that has not been downloaded is a one-line error
that says how to fetch it into `TFDS_DATA_DIR` on a machine that has one.
"""

from kerasdl.data.dataset import SPLITS
from kerasdl.errors import UserError


def load_splits(builder, name, data_dir, **options):
    """`({split: tf.data.Dataset}, builder)`: the TFDS splits kerasdl uses
    (train, and validation and test where the set has them), read with
    `tfds.load(**options)`; a set not yet on disk is downloaded once where
    the network allows, and its builder read again for the splits it has."""
    import tensorflow_datasets as tfds

    def wanted():
        known = set(builder.info.splits)  # empty until the data is prepared
        return [split for split in SPLITS if split in known] or ["train"]

    try:
        splits = wanted()
        loaded = tfds.load(name, split=splits, download=False, data_dir=data_dir, **options)
    except AssertionError:
        if not _download_reachable():
            where = data_dir or "~/tensorflow_datasets"
            raise UserError(
                f"tfds:{name} needs a download, there is no network here, and it is not in {where}; on a "
                f"machine with network run `python -m tensorflow_datasets.scripts.download_and_prepare "
                f"--datasets={name}` and copy the folder into TFDS_DATA_DIR"
            ) from None
        builder.download_and_prepare()
        # The first run then splits the data as every later one will.
        builder = tfds.builder(name, data_dir=data_dir)
        splits = wanted()
        loaded = tfds.load(name, split=splits, download=False, data_dir=data_dir, **options)
    return dict(zip(splits, loaded, strict=True)), builder


def _download_reachable(host="storage.googleapis.com", timeout=3.0):
    """Whether TFDS's download host answers; offline, fail fast instead of retrying for minutes."""
    import socket

    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
