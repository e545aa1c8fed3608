"""One split's results as what a person looks at (`Inspection`); for a
classifier the confusion-matrix picture, the per-class table, and the worst
mistakes as a picture grid (images) or a Markdown table (texts, tables).

Shared by TensorBoard (each few epochs on the validation split, and the test
split at the end) and the run directory's `plots/`.
"""

import dataclasses

import numpy as np

from kerasdl.inspection.classes import class_report, escaped, worst_mistakes
from kerasdl.inspection.pictures import confusion_picture, mistakes_picture
from kerasdl.inspection.spectrogram import SHOWN_DB, spectrogram_image

MISTAKES_SHOWN = 12
FEATURES_SHOWN = 8  # of a tabular example, in the mistakes table


@dataclasses.dataclass
class Inspection:
    """What is shown of one split, for any task: TensorBoard gets each
    picture as an image and each text as a text summary (tag
    `<split>/<name>`), `plots/` gets each picture as `<name>.png`, and the
    report embeds both.

    Args:
        split: the split's name.
        pictures: `{name: RGB uint8 array}`.
        texts: `{name: Markdown}`.
    """

    split: str
    pictures: dict
    texts: dict


def split_view(info, features, labels, probabilities, split):
    """A classifier's `Inspection` of `probabilities` (the model's, `(N,
    classes)`) for the examples `features` with true `labels`: the confusion
    matrix, the per-class table, and its worst mistakes (a picture grid for
    images, a table for texts and tables)."""
    report = class_report(labels, probabilities, info.class_names)
    mistakes = worst_mistakes(labels, probabilities, MISTAKES_SHOWN)
    wrong = int(report.matrix.sum() - np.trace(report.matrix))
    pictures = {
        "confusion_matrix": confusion_picture(report, title=f"{split} split, {int(report.matrix.sum())} examples")
    }
    texts = {"per_class": report.markdown()}
    names = info.class_names
    heading = f"{split} split: the {len(mistakes)} most confident of {wrong} mistakes"
    if info.kind in ("image", "audio"):
        captions = [[f"true {names[m.true]}", f"said {names[m.predicted]} {m.confidence:.2f}"] for m in mistakes]
        shown, value_range = [features[m.index] for m in mistakes], info.value_range
        if info.kind == "audio":  # a clip is shown by its spectrogram
            shown = [spectrogram_image(clip, info.sample_rate) for clip in shown]
            value_range = (-SHOWN_DB, 0.0)
        pictures["worst_mistakes"] = mistakes_picture(shown, captions, value_range, title=heading)
    else:
        rows = ["| true | predicted | confidence | example |", "|---|---|---|---|"]
        for m in mistakes:
            rows.append(
                f"| {escaped(names[m.true])} | {escaped(names[m.predicted])} | {m.confidence:.3f} | "
                f"{escaped(example_text(info, features[m.index]))} |"
            )
        texts["worst_mistakes"] = "\n".join([heading, "", *rows])
    return Inspection(split, pictures, texts)


def example_text(info, example):
    """One text or tabular example as a line: the text as the model read it
    (its tokens back to words), or the first feature values by name."""
    if info.kind == "text":
        return detokenised(example, info.vocabulary, info.tokenizer)
    names = info.feature_names or [f"x{i}" for i in range(len(example))]
    pairs = list(zip(names, example, strict=False))[:FEATURES_SHOWN]
    shown = ", ".join(f"{name}={float(value):.4g}" for name, value in pairs)
    return shown + (", ..." if len(example) > FEATURES_SHOWN else "")


def detokenised(ids, vocabulary, tokenizer="words"):
    """Token ids back to text: words joined by spaces, WordPiece pieces
    joined into words, padding and BERT's markers left out; unknown words
    show as [UNK].

    Example:
        >>> detokenised([2, 3, 1, 0], ["", "[UNK]", "free", "prize"])
        'free prize [UNK]'
    """
    markers = {"", "[PAD]", "[CLS]", "[SEP]"}
    words = [vocabulary[i] for i in np.asarray(ids).tolist() if 0 <= i < len(vocabulary)]
    words = [word for word in words if word not in markers]
    if tokenizer == "words":
        return " ".join(words)
    text = ""
    for piece in words:
        text += piece[2:] if piece.startswith("##") else (" " if text else "") + piece
    return text
