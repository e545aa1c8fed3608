"""`kerasdl predict`: the exported TFLite model on raw inputs, as a phone runs it.

Inputs are read and prepared exactly as `model_card.json` tells a phone app
to: images are decoded, converted to the model's channels, resized, and their
0-255 pixels mapped linearly onto the input's value range (`kerasdl.photos`,
the NumPy twin of the training data's preparation), or, for a model of the
8x8 digits, prepared as those were made (`input.photo_preparation`); CSV rows and
`.npy` arrays are taken as raw features (or pixels) already in that range;
texts (literal strings, or `.txt` files) are tokenised with the run's
`vocab.txt` by the same rule as in training (`kerasdl.tokenize`); WAV
clips are read, mixed to mono, resampled and cut or padded as the training
clips were (`kerasdl.wav.clip`).
"""

import json
from pathlib import Path

import numpy as np

from kerasdl import tasks
from kerasdl.errors import UserError
from kerasdl.photos import (
    DIGITS_8X8,
    IMAGE_SUFFIXES,
    LETTERBOX,
    letterbox_photo,
    prepare_digit_photo,
    prepare_photo,
    read_photo,
)
from kerasdl.wav import WAV_SUFFIXES, clip


def predict(run_dir, inputs, top=3, variant="float32", out_dir=None, min_score=None, nms_iou=None, grid=None):
    """Runs one of the run's TFLite variants on raw inputs; the run's task
    (`kerasdl.tasks`) says what comes back.

    Args:
        run_dir: a finished run directory.
        inputs: image paths, `.npy` paths, `.csv` paths, or literal CSV rows
            such as `"5.1,3.5,1.4,0.2"`; for a text model, literal texts or
            `.txt` files.
        top: a classifier: how many classes to report per example.
        variant: `float32`, `float16`, `dynamic` or `int8`, as exported.
        out_dir: a segmenter or detector: where its pictures go (default:
            beside each photo).
        min_score: a detector: the lowest score shown (default
            `detect_nms.SHOW_SCORE`, 0.25).
        nms_iou: a detector: suppress boxes overlapping a better one of their
            class by more than this IoU; at most the model's own `NMS_IOU`
            (0.7), which the model applied already.
        grid: a translator: also write a contact sheet (input | output,
            one row per input) to this PNG path.

    Returns:
        A list of `(source, result)`; a classifier's result is
        `[(label, probability), ...]`, best first; a segmenter's the paths
        it wrote and each class's share of the pixels; a translator's the
        image it wrote and its size.

    Example:
        >>> predict("saved_models/iris_ann", ["5.1,3.5,1.4,0.2"])[0][1][0][0]
        'setosa'
    """
    from kerasdl.litert_runner import TFLiteRunner

    run_dir = Path(run_dir)
    card = load_card(run_dir)
    task = tasks.for_card(card)
    entry = variant_entry(card, variant)
    spec = card["input"]
    if not inputs:
        raise UserError("Give at least one INPUT: an image, a .npy or .csv file, a CSV row, or a text")
    if "vocabulary_file" in spec:
        batch, sources = _read_texts(run_dir, inputs, spec), [_short(item) for item in inputs]
    else:
        batch, sources = _read_all(inputs, spec)
    if entry["input"].get("preprocessing") == "standardise":
        batch = standardise(batch, spec["normalisation_inside_model"])
    thresholds = {name: value for name, value in (("min_score", min_score), ("nms_iou", nms_iou)) if value is not None}
    doing = card.get("task_description", "classification")
    if thresholds and not hasattr(task, "SHOW_THRESHOLDS"):
        raise UserError(f"--conf and --iou apply to a detector; this run's model does {doing}")
    if grid is not None:
        if not hasattr(task, "CONTACT_SHEET"):
            raise UserError(f"--grid applies to image-to-image translation; this run's model does {doing}")
        if not str(grid).lower().endswith(".png"):
            raise UserError(f"--grid {grid!r} must name a .png file")
        thresholds["grid"] = grid
    runner = TFLiteRunner(read_model(run_dir / entry["file"]), xnnpack=entry.get("xnnpack", True), output=task.OUTPUT)
    rendered = task.render(runner(batch), card, top=top, sources=sources, out_dir=out_dir, **thresholds)
    return list(zip(sources, rendered, strict=True))


def generate(run_dir, seconds, condition, out=None, variant="float32", temperature=1.0, seed=0):
    """A generative run's audio (`kerasdl predict RUN --generate SECONDS --condition LABEL --out FILE.wav`):
    writes the WAV and returns what was written (`kerasdl.tasks.synthesize_generate`)."""
    card = load_card(Path(run_dir))
    task = tasks.for_card(card)
    doing = card.get("task_description", "classification")
    if not hasattr(task, "GENERATES"):
        raise UserError(f"--generate applies to a generative model (WaveNet); this run's model does {doing}")
    if seconds is None:
        raise UserError(f"this run's model does {doing}: give --generate SECONDS and --condition LABEL, not inputs")
    return task.generate_file(run_dir, card, seconds, condition, out, variant, temperature, seed)


def standardise(features, normalisation):
    """What the model's normalisation layer computes, for a standardised-input variant."""
    mean = np.asarray(normalisation["mean"], dtype=np.float32)
    std = np.maximum(np.sqrt(np.asarray(normalisation["variance"], dtype=np.float32)), normalisation["epsilon"])
    return ((features - mean) / std).astype(np.float32)


def read_input(item, spec):
    """One raw input as a float32 batch shaped like the model's input.

    Args:
        item: a path (image, `.npy`, `.csv`) or a literal CSV row.
        spec: the model card's `input` entry (`shape`, `value_range`).

    Returns:
        A float32 array `(examples, *shape)`.

    Example:
        >>> read_input("5.1,3.5,1.4,0.2", {"shape": [1, 4], "value_range": [0, 8]}).shape
        (1, 4)
    """
    shape = tuple(spec["shape"][1:])
    path = Path(item)
    if path.suffix.lower() in IMAGE_SUFFIXES + WAV_SUFFIXES + (".npy", ".csv") and not path.is_file():
        raise UserError(f"Input file {item!r} does not exist")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in WAV_SUFFIXES:
            return _read_clip(path, shape, spec)
        if suffix in IMAGE_SUFFIXES:
            return _read_image(path, shape, spec)
        if suffix == ".npy":
            return _fit_shape(_read_npy(path), shape, item)
        if suffix == ".csv":
            return _fit_shape(_read_csv_file(path, _column_categories(spec)), shape, item)
        raise UserError(
            f"Cannot read {item!r}: use an image ({', '.join(IMAGE_SUFFIXES)}), a .wav clip, a .npy or .csv file"
        )
    row = _parse_row(item, _column_categories(spec))
    if row is None:
        raise UserError(f"Input {item!r} is neither an existing file nor a comma-separated row of numbers")
    return _fit_shape(row[np.newaxis], shape, item)


def _column_categories(spec):
    """Per feature, its categories (categorical) or None (numeric); None if all are numeric."""
    categories = spec.get("categories")
    if not categories:
        return None
    return [categories.get(name) for name in spec["feature_names"]]


def _read_all(inputs, spec):
    """The inputs as one batch, and a name for each example."""
    examples, sources = [], []
    for item in inputs:
        batch = read_input(item, spec)
        examples.append(batch)
        sources.extend([item] if len(batch) == 1 else [f"{item}[{i}]" for i in range(len(batch))])
    return np.concatenate(examples), sources


def _read_texts(run_dir, inputs, spec):
    """Literal texts, or the contents of `.txt` files, as the model's token ids."""
    from kerasdl.tokenize import read_vocabulary, token_ids

    texts = []
    for item in inputs:
        path = Path(item)
        if path.suffix.lower() == ".txt" and path.is_file():
            try:
                texts.append(path.read_text(encoding="utf-8-sig"))
            except UnicodeDecodeError:
                raise UserError(f"{item!r} is not UTF-8 text; save it as UTF-8") from None
        else:
            texts.append(item)
    vocabulary_path = run_dir / spec["vocabulary_file"]
    if not vocabulary_path.is_file():
        raise UserError(f"{str(vocabulary_path)!r} is missing; run `kerasdl export` again")
    kind = spec.get("tokenizer", "words")
    return token_ids(texts, read_vocabulary(vocabulary_path), spec["sequence_length"], kind)


def _short(text, width=40):
    """A text as a label in the output: its first words, on one line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def load_card(run_dir):
    """A finished run's `model_card.json`, as a dict."""
    if not run_dir.is_dir():
        raise UserError(f"Run directory {str(run_dir)!r} does not exist")
    card_path = run_dir / "model_card.json"
    if not card_path.exists():
        raise UserError(f"{str(run_dir)!r} has no exported model (model_card.json); run `kerasdl export` first")
    try:
        return json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"Cannot read {card_path}: {error}") from None


def variant_entry(card, variant):
    entry = card["variants"].get(variant)
    if entry is None:
        shipped = [name for name, value in card["variants"].items() if "file" in value]
        raise UserError(f"This run has no {variant!r} TFLite variant; exported: {', '.join(shipped)}")
    if "rejected" in entry:
        raise UserError(f"The {variant} variant was left out at export: {entry['rejected']}")
    return entry


def read_model(path):
    if not path.is_file():
        raise UserError(f"{str(path)!r} is missing; run `kerasdl export` again")
    content = path.read_bytes()
    # A flatbuffer's file identifier sits at bytes 4-8; a truncated or foreign
    # file is refused here rather than crashing the interpreter.
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise UserError(f"{str(path)!r} is not a TFLite model (corrupt or truncated)")
    return content


def _read_image(path, shape, spec):
    if len(shape) != 3:
        raise UserError(f"{str(path)!r} is an image, but this model takes {shape[0]} features per example")
    pixels = read_photo(path)
    # An 8x8 image is already what the digits are (a test digit saved as a PNG).
    kind = spec.get("photo_preparation", {}).get("kind")
    if kind == DIGITS_8X8 and pixels.shape[:2] != (8, 8):
        return prepare_digit_photo(pixels, spec["value_range"])
    if kind == LETTERBOX:
        return letterbox_photo(pixels, shape, spec["photo_preparation"]["fill"])
    return prepare_photo(pixels, shape, spec["value_range"])


def _read_clip(path, shape, spec):
    """A WAV as the card's `input.preprocessing` says (`kerasdl.wav.clip`)."""
    if "sample_rate" not in spec:
        raise UserError(f"{str(path)!r} is a sound; this run's model takes {spec['layout']}")
    try:
        return clip(path, spec["sample_rate"], shape[0])[np.newaxis]
    except (ValueError, OSError) as error:
        raise UserError(f"Cannot read {str(path)!r} as a WAV file ({error})") from None


def _read_npy(path):
    try:
        return np.load(path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot read {str(path)!r} as a NumPy array: {error}") from None


def _read_csv_file(path, categories=None):
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        row = _parse_row(line, categories)
        if row is None:
            if number == 1:  # a header
                continue
            raise UserError(f"{str(path)!r} line {number} is not a row of numbers: {line[:60]!r}")
        rows.append(row)
    if not rows:
        raise UserError(f"{str(path)!r} has no rows of numbers")
    if len({len(row) for row in rows}) != 1:
        raise UserError(f"{str(path)!r} has rows of different lengths")
    return np.stack(rows)


def _parse_row(text, categories=None):
    """A comma-separated row as floats; categorical cells as their codes (0 if unknown)."""
    cells = [cell.strip() for cell in text.split(",")]
    if categories is not None and len(cells) != len(categories):
        return None
    values = []
    for index, cell in enumerate(cells):
        names = categories[index] if categories is not None else None
        if names is not None:
            values.append(names.index(cell) + 1 if cell in names else 0)
            continue
        try:
            values.append(float(cell))
        except ValueError:
            return None
    return np.asarray(values, dtype=np.float32)


def _fit_shape(array, shape, item):
    """Accepts one example, a batch, or a flat row of the right size."""
    size = int(np.prod(shape))
    if array.shape == shape:
        return array[np.newaxis]
    if array.shape[1:] == shape:
        return array
    if array.ndim == 2 and array.shape[1] == size:
        return array.reshape((-1, *shape))
    if array.ndim == 1 and array.size == size:
        return array.reshape((1, *shape))
    raise UserError(
        f"Input {item!r} has shape {tuple(array.shape)}; this model takes {shape} per example "
        f"({size} values), or a batch of those"
    )
