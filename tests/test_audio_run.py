"""Audio classification end to end: a tiny audio_cnn trained on tones, exported
with its spectrogram inside (builtin TFLite ops), served and predicted with on WAVs."""

import json

import numpy as np
import pytest
from scipy.io import wavfile

from kerasdl.cli import main
from kerasdl.training import train

RATE = 8000
TONES = {"low": 300, "mid": 900, "high": 2000}
TINY = {
    "model.filters": "4,8",
    "model.mel_bins": "16",
    "model.dense_units": "0",
    "epochs": "12",
    "batch_size": "8",
    "learning_rate": "0.01",
    "precision": "float32",  # the parity bars compare float32 arithmetic
    "verbose": "0",
}


def _tone(frequency, seconds, rate=RATE, amplitude=0.3, seed=0):
    noise = np.random.default_rng(seed).normal(0, 0.01, round(seconds * rate))
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate) + noise


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """60 clips, 20 per class: `{label}_{take}.wav`, a tone of the label's pitch, 0.2-0.4 s, of varied loudness."""
    root = tmp_path_factory.mktemp("tones")
    for label, frequency in TONES.items():
        for take in range(20):
            samples = _tone(frequency * (1 + 0.02 * (take % 5)), 0.2 + 0.01 * take, amplitude=0.05 + 0.04 * (take % 8))
            wavfile.write(root / f"{label}_{take}.wav", RATE, np.round(samples * 32767).astype("int16"))
    return root


@pytest.fixture(scope="module")
def audio_run(tones, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "audio"
    settings = TINY | {"data": f"audio:{tones}", "variants": "float32,float16,dynamic,int8", "run_dir": str(run_dir)}
    return train("audio_cnn", settings, log=lambda line: None)


def test_the_run_learns_the_tones_and_its_card_says_how_to_make_a_clip(audio_run):
    run_dir = audio_run.run_dir
    # 12 test clips of three well-separated pitches: a spectrogram CNN gets them all but a stray one.
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] >= 0.9
    card = json.loads((run_dir / "model_card.json").read_text())
    spec = card["input"]
    assert spec["name"] == "waveform" and spec["sample_rate"] == RATE and spec["shape"] == [1, 3200]
    assert "resample to 8000 Hz" in spec["preprocessing"] and spec["value_range"] == [-1.0, 1.0]
    assert card["labels"] == ["high", "low", "mid"]


def test_the_spectrogram_exports_with_builtin_ops_and_passes_parity(audio_run):
    float32 = audio_run.card["variants"]["float32"]
    assert float32["builtins_only"]
    assert float32["parity"]["max_abs_diff"] <= 1e-4
    # int8 keeps the spectrogram in float32 (its power spans more than 8 bits hold) and quantizes the CNN
    # after it: three far-apart tones are told apart as by Keras.
    variants = audio_run.card["variants"]
    for name in ("float16", "dynamic", "int8"):  # every variant ships (a tiny constant once made float16's NaN)
        assert "rejected" not in variants[name] and variants[name]["parity"]["top1_agreement"] >= 0.9, name
    int8 = variants["int8"]
    assert {"RFFT2D", "QUANTIZE", "DEQUANTIZE", "CONV_2D"} <= set(int8["ops"])


def test_serve_raw_takes_a_clip_of_any_length(audio_run):
    import tensorflow as tf

    served = tf.saved_model.load(str(audio_run.run_dir / "saved_model"))
    for seconds in (0.1, 0.4, 1.0):  # shorter than, as long as, and longer than the model's 0.4 s
        samples = tf.constant(_tone(2000, seconds)[np.newaxis], dtype=tf.float32)
        probabilities = served.signatures["serve_raw"](samples=samples)["probabilities"].numpy()
        assert probabilities.shape == (1, 3) and np.isclose(probabilities.sum(), 1, atol=1e-5)


def test_predict_reads_wavs_of_other_rates_and_names_the_tone(audio_run, tmp_path, capsys):
    clip = tmp_path / "clip.wav"
    wavfile.write(clip, 16000, _tone(TONES["low"], 0.3, rate=16000, seed=7).astype("float32"))
    assert main(["predict", str(audio_run.run_dir), str(clip)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{clip}: low ")


def test_a_broken_wav_is_one_line(audio_run, tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nothing")
    assert main(["predict", str(audio_run.run_dir), str(broken)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("kerasdl: error: Cannot read") and "as a WAV file" in error and "\n" not in error


def test_a_classifier_refuses_to_generate(audio_run, capsys):
    assert main(["predict", str(audio_run.run_dir), "--generate", "1"]) == 2
    error = capsys.readouterr().err
    assert "--generate applies to a generative model (WaveNet); this run's model does audio classification" in error
