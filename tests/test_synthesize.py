"""The synthesize task's parts: examples weighed by real audio, the score and
its baselines, the parity bars, sampling and the generation loop."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.io import wavfile

from kerasdl.config import make_config
from kerasdl.data.audio import load_audio_folder
from kerasdl.data.audio_windows import mu_law_classes, real_lengths, teacher_forced_windows, whole_clips
from kerasdl.data.next_sample import NextSampleData, clip_classes
from kerasdl.errors import UserError
from kerasdl.models.wavenet import build_wavenet
from kerasdl.models.wavenet_step import step_model
from kerasdl.tasks import synthesize
from kerasdl.tasks.synthesize_generate import SILENCE, KerasStep, draw, generate
from kerasdl.tasks.synthesize_metrics import true_class_bits

TINY = {"residual_channels": 4, "dilation_channels": 4, "skip_channels": 8, "layers_per_stack": 3, "stacks": 1}


def _padded(lengths, total=50, seed=0):
    """Clips of noise `lengths` samples long, zero-padded to `total`."""
    rng = np.random.default_rng(seed)
    clips = np.zeros((len(lengths), total), "float32")
    for row, length in enumerate(lengths):
        clips[row, :length] = rng.uniform(0.05, 0.5, length) * rng.choice([-1, 1], length)
    return clips


def test_padding_is_found_and_weighed_zero_in_windows_and_whole_clips():
    clips = _padded([50, 30, 10, 0])
    np.testing.assert_array_equal(real_lengths(tf.constant(clips)).numpy(), [50, 30, 10, 0])
    inputs, targets, weights = whole_clips(tf.constant(clips), tf.constant([0, 1, 0, 1]))
    assert inputs["samples"].shape == (4, 49) and targets.shape == (4, 49)
    # Target t is sample t + 1: real while t + 1 < the clip's length.
    np.testing.assert_array_equal(weights.numpy().sum(axis=1), [49, 29, 9, 0])
    windows = teacher_forced_windows(window=20, seed=1)
    for _ in range(5):
        inputs, targets, weights = windows(tf.constant(clips), tf.constant([0, 1, 0, 1]))
        weights = weights.numpy()
        assert np.all(weights[0] == 1) and np.all(weights[1] == 1)  # long enough: every window is all audio
        assert weights[2].sum() == 9 and weights[3].sum() == 0  # shorter than a window: from its start


def test_a_stretch_learns_only_targets_whose_receptive_field_it_holds():
    clips = _padded([300, 300], total=300)
    windows = teacher_forced_windows(window=40, seed=2, context=10)
    starts = set()
    for _ in range(40):
        inputs, _, weights = (value.numpy() if hasattr(value, "numpy") else value for value in windows(
            tf.constant(clips), tf.constant([0, 1])
        ))  # fmt: skip
        classes = mu_law_classes(tf.constant(np.pad(clips, [[0, 0], [10, 0]]))).numpy()
        for row in range(2):
            (start,) = [
                s for s in range(300 + 10 - 40) if np.array_equal(classes[row, s : s + 40], inputs["samples"][row])
            ]
            starts.add(start)
            if start <= 10:  # what the window lacks is the silence before the clip: every real target counts
                assert weights[row].sum() == 40 - max(0, 10 - start - 1)
            else:  # from the middle: the first 10 outputs missed real samples
                assert np.all(weights[row, :10] == 0) and np.all(weights[row, 10:] == 1)
    assert min(starts) <= 10 < max(starts)  # windows begin before the clip and inside it


def test_validation_windows_stay_put_and_training_windows_move():
    clips = tf.constant(_padded([200, 200], total=200))
    labels = tf.constant([0, 1])

    def starts(fixed):
        windows = teacher_forced_windows(window=20, seed=3, fixed=fixed)
        return [tuple(windows(clips, labels)[0]["samples"][:, 0].numpy()) for _ in range(4)]

    assert len(set(starts(fixed=True))) == 1 and len(set(starts(fixed=False))) > 1


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Eight clips of two labels, 0.05-0.12 s of noise at 8 kHz."""
    root = tmp_path_factory.mktemp("speech")
    rng = np.random.default_rng(0)
    for take in range(8):
        samples = rng.uniform(-0.4, 0.4, 400 + 60 * take)
        wavfile.write(root / f"{'ab'[take % 2]}_{take}.wav", 8000, np.round(samples * 32767).astype("int16"))
    return root


def test_next_sample_data_counts_the_training_audio_and_scores_whole_test_clips(speech):
    clips = load_audio_folder(str(speech), 0, 0.25, 0.25, clip_seconds="0.2")
    data = NextSampleData(clips, window=4096, seed=0)
    assert data.window == 1599 and any("training reads whole clips" in note for note in data.notes)
    train_clips, _ = clips.arrays("train")
    expected = np.bincount(np.concatenate([clip_classes(clip) for clip in train_clips]), minlength=256)
    np.testing.assert_array_equal(clips.info.sample_histogram, expected)
    (inputs, targets, weights), *_ = data.pipeline("test", 8).as_numpy_iterator()
    test_clips, test_labels = clips.arrays("test")
    assert weights.sum() == sum(len(clip_classes(clip)) - 1 for clip in test_clips)
    np.testing.assert_array_equal(inputs["condition"], test_labels)
    features, labels = data.sample("train", 2)
    assert features["samples"].shape == (2, 1599) and labels.shape == (2, 1599)
    assert data.size("train") == len(train_clips)  # the rest is the clips' own


def test_the_score_is_the_mean_bits_of_the_real_test_samples(speech):
    clips = load_audio_folder(str(speech), 0, 0.25, 0.25, clip_seconds="0.2")
    data = NextSampleData(clips, window=256, seed=0)
    model = build_wavenet(clips.info, **TINY)
    scores = synthesize.score(model, data.pipeline("test", 2), clips.info)
    bits, count = [], 0
    for clip, label in zip(*clips.arrays("test"), strict=True):
        classes = clip_classes(clip)
        probabilities = model.predict_on_batch({"samples": classes[None, :-1], "condition": np.array([label])})
        bits.append(true_class_bits(np.asarray(probabilities)[0], classes[1:]))
        count += len(classes) - 1
    assert scores["bits_per_sample"] == pytest.approx(np.concatenate(bits).mean(), rel=1e-5)
    assert scores["test_seconds"] == pytest.approx(count / 8000)
    # An untrained model is about uniform. Noise uniform in [-0.4, 0.4] falls
    # in about a third of mu-law's classes, most of them loud: 7 bits or so.
    assert 7.5 < scores["bits_per_sample"] < 8.5 and 6.0 < scores["histogram_bits"] < 8.0


def test_the_parity_bars():
    def parity(max_abs_diff, change):
        return synthesize.Parity(4000, 2, max_abs_diff, 5.0 + change, 5.0)

    assert synthesize.parity_problem("float32", parity(5e-5, 0.0)) is None
    assert "differ from Keras's by up to 0.0002" in synthesize.parity_problem("float32", parity(2e-4, 0.0))
    assert synthesize.parity_problem("int8", parity(0.02, 0.04)) is None
    assert "changes the test NLL by +0.060" in synthesize.parity_problem("int8", parity(0.02, 0.06))
    expected = np.full((3, 256), 1 / 256, "float32")
    measured = synthesize.parity(expected, expected, np.array([1, 2, 3]))
    assert measured.bits_per_sample == pytest.approx(8.0) and measured.max_abs_diff == 0


def test_draw_samples_the_distribution_sharpened_by_the_temperature():
    rng = np.random.default_rng(0)
    probabilities = np.zeros((20000, 256))
    probabilities[:, [3, 7]] = [0.75, 0.25]
    classes = draw(probabilities, 1.0, rng)
    assert set(np.unique(classes)) == {3, 7} and np.mean(classes == 3) == pytest.approx(0.75, abs=0.02)
    # Temperature 0.5 squares the odds: 0.75**2 / (0.75**2 + 0.25**2) = 0.9.
    assert np.mean(draw(probabilities, 0.5, rng) == 3) == pytest.approx(0.9, abs=0.02)
    assert np.all(draw(probabilities[:5], 0, rng) == 3)


def test_generation_is_seeded_and_starts_from_silence(speech):
    info = load_audio_folder(str(speech), 0, 0.25, 0.25).info
    step = KerasStep(step_model(build_wavenet(info, **TINY)))
    first, again = generate(step, [0, 1], 30, seed=5), generate(step, [0, 1], 30, seed=5)
    assert first.shape == (2, 30) and first.dtype == np.int32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, generate(step, [0, 1], 30, seed=6))
    assert SILENCE == int(mu_law_classes(tf.constant([0.0]))[0])


def test_the_config_keeps_window_and_audio_to_the_synthesize_task():
    config = make_config("wavenet_speech", {"window": "2048"})
    assert (config.task, config.window, config.model) == ("synthesize", 2048, "wavenet")
    with pytest.raises(UserError, match="window applies to task=synthesize; this run's task is classify"):
        make_config("audio_cnn", {"window": "2048"})
    with pytest.raises(UserError, match=r"model=wavenet \(task=synthesize\) needs data=audio:DIR; got data=digits"):
        make_config("wavenet_speech", {"data": "digits"})
    with pytest.raises(UserError, match=r"window=8 is out of range; allowed: an integer in \[16, 65536\]"):
        make_config("wavenet_speech", {"window": "8"})
