"""audio:DIR and kerasdl.wav: WAV encodings, resampling, labels, groups, skipped files and their errors."""

import numpy as np
import pytest
from scipy.io import wavfile

from kerasdl.data import load_dataset
from kerasdl.errors import UserError
from kerasdl.wav import clip, read_wav, resampled

RATE = 8000


def _tone(frequency, seconds=0.25, rate=RATE, amplitude=0.5):
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate)


def _write(path, samples, rate=RATE, encoding="int16"):
    """`samples` in [-1, 1] as a WAV of `encoding`; stereo if 2-D."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scaled = {
        "uint8": lambda x: np.round(x * 127 + 128).astype("uint8"),
        "int16": lambda x: np.round(x * 32767).astype("int16"),
        "int32": lambda x: np.round(x * (2**31 - 1)).astype("int32"),
        "float32": lambda x: x.astype("float32"),
    }[encoding](np.asarray(samples))
    wavfile.write(path, rate, scaled)
    return path


@pytest.mark.parametrize("encoding, tolerance", [("uint8", 1 / 127), ("int16", 1e-4), ("int32", 1e-6), ("float32", 0)])
def test_each_encoding_reads_as_floats_in_minus_one_to_one(tmp_path, encoding, tolerance):
    samples = _tone(440)
    read, rate = read_wav(_write(tmp_path / "a.wav", samples, encoding=encoding))
    assert rate == RATE and read.dtype == np.float32
    np.testing.assert_allclose(read, samples, atol=tolerance + 1e-6)


def test_stereo_is_mixed_down_to_the_mean_of_its_channels(tmp_path):
    left, right = _tone(440), _tone(660, amplitude=0.2)
    read, _ = read_wav(_write(tmp_path / "s.wav", np.stack([left, right], axis=1), encoding="float32"))
    np.testing.assert_allclose(read, (left + right) / 2, atol=1e-6)


def test_resampling_keeps_a_tone_below_the_new_nyquist_and_its_length():
    """A 440 Hz tone at 16 kHz resampled to 8 kHz is the 440 Hz tone at 8 kHz, away from the edges
    (the filter's transient); 11025 -> 8000 has a non-integer ratio."""
    for rate in (16000, 11025, 44100):
        out = resampled(_tone(440, seconds=0.5, rate=rate).astype("float32"), rate, RATE)
        assert len(out) == RATE // 2
        np.testing.assert_allclose(out[200:-200], _tone(440, seconds=0.5)[200:-200], atol=0.01)


def test_clip_cuts_or_pads_at_the_end(tmp_path):
    path = _write(tmp_path / "a.wav", _tone(440, seconds=0.25, rate=16000), rate=16000)
    padded = clip(path, RATE, 3000)
    assert padded.shape == (3000,) and np.all(padded[2000:] == 0) and np.abs(padded[:2000]).max() > 0.4
    assert clip(path, RATE, 1000).shape == (1000,)


def _named_folder(root, digits=(0, 1, 2), speakers=("ann", "bob", "cy"), takes=4):
    """FSDD-like `{digit}_{speaker}_{take}.wav`: each digit its own tone, each speaker a louder or quieter voice."""
    for digit in digits:
        for number, speaker in enumerate(speakers):
            for take in range(takes):
                seconds = 0.2 + 0.05 * take
                _write(
                    root / f"{digit}_{speaker}_{take}.wav",
                    _tone(300 + 200 * digit, seconds, amplitude=0.2 + 0.2 * number),
                )
    return root


def test_labels_come_from_the_name_by_default_and_splits_are_stratified(tmp_path):
    dataset = load_dataset(f"audio:{_named_folder(tmp_path / 'fsdd')}", validation_fraction=0.25, test_fraction=0.25)
    info = dataset.info
    assert info.kind == "audio" and info.class_names == ["0", "1", "2"] and info.sample_rate == RATE
    # auto: the 95th percentile of 0.2-0.35 s, up to whole tenths.
    assert info.input_shape == (round(0.4 * RATE),)
    assert {name: dataset.size(name) for name in ("train", "validation", "test")} == {
        "train": 18,
        "validation": 9,
        "test": 9,
    }
    clips, labels = dataset.arrays("test")
    assert clips.shape == (9, 3200) and clips.dtype == np.float32 and sorted(np.bincount(labels)) == [3, 3, 3]
    assert any("clips are 0.4 s" in note for note in dataset.notes)


def test_a_group_pattern_holds_whole_groups_out_for_test_and_says_which(tmp_path):
    root = _named_folder(tmp_path / "fsdd")
    dataset = load_dataset(
        f"audio:{root}", test_fraction=0.3, audio={"group_pattern": r"^[^_]+_([^_]+)_", "clip_seconds": "0.3"}
    )
    assert dataset.info.input_shape == (2400,)
    test_speakers = {path.split("_")[-2] for path in dataset.splits["test"][0]}
    other_speakers = {path.split("_")[-2] for name in ("train", "validation") for path in dataset.splits[name][0]}
    assert len(test_speakers) == 1 and not test_speakers & other_speakers
    (note,) = [note for note in dataset.notes if note.startswith("test holds")]
    assert note.startswith(f"test holds whole groups {test_speakers.pop()} (12 clips)")
    # Clips of 0.2-0.35 s cut to 0.3 s: take 3 of each digit and speaker is longer.
    assert any("clips are 0.3 s (2,400 samples at 8000 Hz); 9 longer one(s) cut at the end" in n for n in dataset.notes)


def test_sub_folders_are_the_labels_and_any_rate_is_resampled(tmp_path):
    for label, frequency in (("hum", 200), ("whistle", 1500)):
        for take in range(5):
            _write(tmp_path / "d" / label / f"{take}.wav", _tone(frequency, rate=22050), rate=22050)
    dataset = load_dataset(f"audio:{tmp_path / 'd'}", validation_fraction=0.2, audio={"sample_rate": 16000})
    assert dataset.info.class_names == ["hum", "whistle"] and dataset.info.sample_rate == 16000
    assert dataset.info.input_shape == (round(0.3 * 16000),)


def test_unreadable_empty_and_unmatched_files_are_skipped_and_reported(tmp_path):
    root = _named_folder(tmp_path / "fsdd")
    (root / "2_bob_9.wav").write_bytes(b"RIFF not really")
    _write(root / "1_cy_9.wav", np.zeros(0))
    _write(root / "notes.wav", _tone(440))
    dataset = load_dataset(f"audio:{root}")
    assert sum(dataset.size(name) for name in ("train", "validation", "test")) == 36
    notes = " | ".join(dataset.notes)
    assert "skipped 2 unreadable or empty WAV(s): 1_cy_9.wav, 2_bob_9.wav" in notes
    assert "skipped 1 WAV(s) label_pattern does not match: notes.wav" in notes


@pytest.mark.parametrize(
    "layout, settings, message",
    [
        ("missing", {}, "does not exist"),
        ("no_wavs", {}, "has no WAV files"),
        ("one_class", {}, "has one class ('0')"),
        ("named", {"label_pattern": "[0-9"}, "label_pattern '[0-9' is not a regular expression"),
        ("named", {"label_pattern": "^[0-9]"}, "has no (group)"),
        ("named", {"label_pattern": "^(x)"}, "matches none of the names"),
        ("named", {"group_pattern": r"^(\d)_"}, None),  # the digit as the group: fine, 3 groups
        ("named", {"group_pattern": r"_(ann)_"}, "group_pattern found one group ('ann')"),
        ("named", {"sample_rate": 500}, "sample_rate=500 is out of range"),
        ("folders", {"label_pattern": "^(.)"}, "label_pattern applies to WAVs directly in the folder"),
    ],
)
def test_bad_folders_and_settings_are_one_line_errors(tmp_path, layout, settings, message):
    root = tmp_path / "d"
    if layout == "no_wavs":
        (root / "sub").mkdir(parents=True)
        (root / "readme.txt").write_text("no sound here")
    elif layout == "one_class":
        _named_folder(root, digits=(0,))
    elif layout == "named":
        _named_folder(root)
    elif layout == "folders":
        for label in ("a", "b"):
            _write(root / label / "x.wav", _tone(440))
    if message is None:
        assert load_dataset(f"audio:{root}", audio=settings).info.num_classes == 3
        return
    with pytest.raises(UserError) as raised:
        load_dataset(f"audio:{root}", audio=settings)
    assert message in str(raised.value) and "\n" not in str(raised.value)
