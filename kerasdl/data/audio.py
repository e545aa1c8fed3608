"""`audio:DIR`: WAV clips with a label each, streamed from disk.

Labels come from sub-folders (`DIR/yes/*.wav`, `DIR/no/*.wav`) or, where
the WAVs sit directly in `DIR`, from their file names through
`label_pattern`: a regular expression whose first group is the label; the
default, the text before the first `_`, reads the Free Spoken Digit
Dataset's `7_jackson_32.wav` as "7". `group_pattern` (for example
`^[^_]+_([^_]+)_`, the speaker) names a group per file; the test split then
holds whole groups the model never heard, and validation holds other takes
of the groups it trains on.

Every clip is read (`kerasdl.wav`: any WAV encoding, mono, resampled
to `sample_rate`) and cut or padded at its end to one length
(`clip_seconds`; auto: the 95th percentile of the clips' lengths, in tenths
of a second). Unreadable or empty files, and files the patterns do not
match, are skipped and reported, as `images:DIR` does.
"""

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from kerasdl.data.dataset import DataInfo, first_few, natural_order, split_stratified
from kerasdl.data.masks import MaskDataset
from kerasdl.errors import UserError
from kerasdl.stage_line import StageLine
from kerasdl.wav import WAV_SUFFIXES, checked_sample_rate, clip, read_wav

# The text before the first "_": FSDD's `7_jackson_32.wav` is a "7".
LABEL_PATTERN = r"^([^_]+)_"
# `clip_seconds=auto`: long enough for this share of the clips, whole tenths.
AUTO_CLIP_QUANTILE = 0.95


def load_audio_folder(
    directory, seed, validation_fraction, test_fraction, sample_rate=8000, clip_seconds="auto",
    label_pattern="", group_pattern="",
):  # fmt: skip
    """Loads the WAVs in `directory` as seeded splits of labelled clips.

    Args:
        directory: sub-folders of WAVs, one per class, or WAVs whose names
            hold their labels (`label_pattern`).
        seed: seeds the splits.
        validation_fraction: share of the clips for validation.
        test_fraction: share of the clips for the test split; with
            `group_pattern`, whole groups until they hold this share.
        sample_rate: Hz every clip is resampled to (1000 to 48000).
        clip_seconds: the clips' length in seconds, or "auto".
        label_pattern: regular expression whose first group, searched in a
            file's name without its suffix, is the label; "" is
            `LABEL_PATTERN` (unused with sub-folders).
        group_pattern: the same for a group (a speaker, a session); "" is
            none, and the splits are stratified by label instead.

    Returns:
        An `AudioDataset`; its `notes` say what was skipped or cut and
        which groups went where.

    Example:
        >>> load_audio_folder("fsdd/recordings", 42, 0.1, 0.2, group_pattern=r"^[^_]+_([^_]+)_").info.class_names[:3]
        ['0', '1', '2']
    """
    rate = checked_sample_rate(sample_rate)
    root = Path(directory)
    if not root.is_dir():
        raise UserError(f"Audio folder {str(root)!r} does not exist; pass data=audio:DIR (WAV files)")
    files, labels, notes = labelled_files(root, label_pattern)
    groups, skipped = named_groups(files, group_pattern)
    lengths, unreadable = _clip_lengths(files, directory)
    keep = np.array([index not in skipped and index not in unreadable for index in range(len(files))])
    notes += _skip_notes(files, skipped, unreadable, group_pattern)
    if not keep.any():
        raise UserError(f"No readable WAV in {str(root)!r}")
    files = np.array([str(path) for path in files])[keep]
    labels, lengths = np.array(labels)[keep], np.array(lengths)[keep]
    class_names = sorted(set(labels.tolist()), key=natural_order)
    if len(class_names) < 2:
        raise UserError(
            f"Audio folder {str(root)!r} has one class ({class_names[0]!r}); a classifier needs at least 2 "
            "(sub-folders, or file names whose label_pattern group differs)"
        )
    indices = np.array([class_names.index(label) for label in labels], dtype="int32")
    length, cut = clip_length(clip_seconds, lengths, rate)
    notes.append(
        f"clips are {length / rate:g} s ({length:,} samples at {rate} Hz)"
        + (f"; {cut} longer one(s) cut at the end" if cut else "")
    )
    if group_pattern:
        splits, where = split_by_group(files, indices, np.array(groups)[keep], seed, validation_fraction, test_fraction)
        notes.append(where)
    else:
        splits = split_stratified(files, indices, seed, validation_fraction, test_fraction)
    info = DataInfo(
        name=f"audio:{directory}",
        kind="audio",
        input_shape=(length,),
        class_names=class_names,
        value_range=(-1.0, 1.0),
        mean=np.zeros(1, dtype="float32"),
        variance=np.ones(1, dtype="float32"),
        sample_rate=rate,
    )
    return AudioDataset(info=info, splits=splits, notes=notes, augment=False)


def labelled_files(root, label_pattern):
    """`(paths, labels, notes)` of the WAVs under `root`: from sub-folders
    if any holds WAVs, else from the names directly in `root`."""
    folders = {folder.name: _wavs(folder) for folder in sorted(root.iterdir()) if folder.is_dir() and _wavs(folder)}
    if folders:
        if label_pattern:
            raise UserError(
                f"{str(root)!r} has sub-folders of WAVs, which are the labels; label_pattern applies to WAVs "
                "directly in the folder"
            )
        pairs = [(path, name) for name, paths in folders.items() for path in paths]
        loose = _wavs(root)
        notes = [f"note: {len(loose)} WAV(s) directly in {root} are not read: its sub-folders are the labels"]
        return [path for path, _ in pairs], [name for _, name in pairs], notes if loose else []
    paths = _wavs(root)
    if not paths:
        raise UserError(
            f"Audio folder {str(root)!r} has no WAV files ({', '.join(WAV_SUFFIXES)}), nor sub-folders of them"
        )
    pattern = compiled(label_pattern or LABEL_PATTERN, "label_pattern")
    labels = [_group(pattern, path) for path in paths]
    unmatched = [path.name for path, label in zip(paths, labels, strict=True) if label is None]
    if len(unmatched) == len(paths):
        raise UserError(
            f"label_pattern {pattern.pattern!r} matches none of the names in {str(root)!r} (such as "
            f"{paths[0].name!r}); its first (group) must be the label"
        )
    notes = []
    if unmatched:
        notes.append(f"skipped {len(unmatched)} WAV(s) label_pattern does not match: {first_few(unmatched)}")
    kept = [(path, label) for path, label in zip(paths, labels, strict=True) if label is not None]
    return [path for path, _ in kept], [label for _, label in kept], notes


def named_groups(files, group_pattern):
    """`(groups, unmatched indices)`: each file's group by `group_pattern` ("" for all without one)."""
    if not group_pattern:
        return [""] * len(files), set()
    pattern = compiled(group_pattern, "group_pattern")
    groups = [_group(pattern, path) or "" for path in files]
    return groups, {index for index, group in enumerate(groups) if not group}


def compiled(pattern, key):
    """`pattern` compiled, with one (group), or a one-line error naming `key`."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise UserError(f"{key} {pattern!r} is not a regular expression: {error}") from None
    if compiled.groups < 1:
        raise UserError(f"{key} {pattern!r} has no (group); put the part of the name it picks in parentheses")
    return compiled


def clip_length(clip_seconds, lengths, sample_rate):
    """`(samples, clips cut)`: `clip_seconds` (or auto, from `lengths` in
    seconds) at `sample_rate`."""
    if str(clip_seconds) == "auto":
        seconds = math.ceil(np.quantile(lengths, AUTO_CLIP_QUANTILE) * 10 - 1e-9) / 10
    else:
        seconds = float(clip_seconds)
    samples = max(1, round(seconds * sample_rate))
    return samples, int(np.sum(np.asarray(lengths) * sample_rate > samples + 0.5))


def split_by_group(files, labels, groups, seed, validation_fraction, test_fraction):
    """`(splits, note)`: whole groups, drawn with `seed`, for test until
    they hold `test_fraction` of the clips; the others' clips stratified
    into train and validation."""
    names = sorted(set(groups.tolist()), key=natural_order)
    if len(names) < 2:
        raise UserError(
            f"group_pattern found one group ({names[0]!r}); holding whole groups out for test needs at least 2"
        )
    order = np.random.default_rng(seed).permutation(len(names))
    wanted, held = round(test_fraction * len(files)), []
    for index in order[:-1]:  # at least one group left to train on
        if held and np.isin(groups, held).sum() >= wanted:
            break
        held.append(names[index])
    test = np.isin(groups, held)
    rest = np.flatnonzero(~test)
    share = validation_fraction / (1 - test.mean())
    stratify = labels[rest] if np.bincount(labels[rest]).min() >= 2 else None
    train, validation = train_test_split(rest, test_size=share, stratify=stratify, random_state=seed)
    splits = {
        name: (files[np.sort(part)], labels[np.sort(part)])
        for name, part in (("train", train), ("validation", validation), ("test", np.flatnonzero(test)))
    }
    kept = [name for name in names if name not in held]
    note = f"test holds whole groups {', '.join(held)} ({int(test.sum())} clips); the others: {', '.join(kept)}"
    return splits, note


@dataclasses.dataclass
class AudioDataset(MaskDataset):
    """Labelled clips streamed through `tf.data`: `splits[name]` is
    `(WAV paths, label indices)`. Reading, the in-memory cache of small
    splits and `sample()` are `MaskDataset`'s; `pipeline()` yields float32
    clips `(batch, samples)` in [-1, 1] and int32 labels `(batch,)`."""

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it: float32 samples, an int32 label."""
        return 4 * self.info.input_shape[0] + 4

    def _reader(self, augmenting=False):
        """`(WAV path, label) -> (clip, label)` (`kerasdl.wav.clip`)."""
        import tensorflow as tf

        rate, (length,) = self.info.sample_rate, self.info.input_shape

        def read(path, label):
            samples = tf.numpy_function(
                lambda name: clip(name.decode(), rate, length), [path], tf.float32, stateful=False
            )
            return tf.ensure_shape(samples, (length,)), label

        return read


def _wavs(folder):
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in WAV_SUFFIXES)


def _group(pattern, path):
    match = pattern.search(path.stem)
    return match.group(1) if match else None


def _clip_lengths(files, directory):
    """`(seconds per file, indices of unreadable or empty files)`, reading each once."""
    lengths, unreadable = [], set()
    line = StageLine(f"reading {directory}")
    for index, path in enumerate(files):
        line.count("clips", index + 1, len(files))
        try:
            samples, rate = read_wav(path)
        except (ValueError, OSError):
            unreadable.add(index)
            lengths.append(0.0)
            continue
        lengths.append(len(samples) / rate)
    line.close()
    return lengths, unreadable


def _skip_notes(files, skipped, unreadable, group_pattern):
    notes = []
    if unreadable:
        names = [files[index].name for index in sorted(unreadable)]
        notes.append(f"skipped {len(names)} unreadable or empty WAV(s): {first_few(names)}")
    if skipped:
        names = [files[index].name for index in sorted(skipped)]
        notes.append(f"skipped {len(names)} WAV(s) group_pattern {group_pattern!r} does not match: {first_few(names)}")
    return notes
