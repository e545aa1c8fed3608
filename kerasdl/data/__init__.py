"""Data sources: each turns a data spec into a `Dataset` of seeded splits."""

from importlib import resources

from kerasdl.data.bundled import BUNDLED, load_bundled
from kerasdl.data.csv_table import load_csv_table
from kerasdl.data.dataset import DataInfo, Dataset
from kerasdl.data.images import load_image_folder
from kerasdl.data.masks import load_mask_folder
from kerasdl.data.pairs import load_pair_folder
from kerasdl.data.streaming import FileDataset
from kerasdl.data.text import load_text
from kerasdl.errors import UserError

__all__ = ["DataInfo", "Dataset", "load_dataset", "load_dataset_for", "BUNDLED", "NUCLEI", "NUCLEI_BOXES", "COLORIZE"]

# The segmentation set that ships inside the package (kerasdl/data/nuclei/),
# and the same tiles with a box per nucleus, for detection.
NUCLEI = "nuclei"
NUCLEI_BOXES = "nuclei_boxes"
# Grey photo to colour photo: crops of photos that ship inside scikit-image
# (kerasdl/data/colorize.py), for image-to-image translation offline.
COLORIZE = "colorize"
# The config keys `audio:` data reads (`load_audio_folder`'s keywords).
AUDIO_KEYS = ("sample_rate", "clip_seconds", "label_pattern", "group_pattern")


def load_dataset(
    spec,
    seed=42,
    validation_fraction=0.1,
    test_fraction=0.2,
    image_size="auto",
    label="",
    text_column="",
    vocabulary_size=20000,
    sequence_length=64,
    wordpiece="",
    augment=True,
    task="",
    direction="AtoB",
    audio=None,
):
    """Loads the data named by `spec` as train/validation/test splits.

    Args:
        spec: `digits`, `breast_cancer`, `wine` or `iris` (bundled with
            scikit-learn, offline), `nuclei` (bundled with kerasdl, offline:
            64 real 64x64 fluorescence tiles of cell nuclei and their
            nucleus/background masks, `kerasdl/data/nuclei/README.md`),
            `nuclei_boxes` (the same tiles with a box per nucleus, for
            detection), `colorize` (grey photo to colour photo, offline:
            seeded crops of four CC0 or public-domain photos that ship inside
            scikit-image, a demonstration, `kerasdl.data.colorize`),
            `images:DIR` (one sub-folder of images per class), `masks:DIR`
            (images in `DIR/images` and their segmentation masks in
            `DIR/masks`, streamed from disk), `boxes:DIR` (photos and their
            object boxes: YOLO txt, Pascal VOC or COCO JSON, streamed from
            disk, `kerasdl.data.boxes`), `pairs:DIR` (image pairs for
            image-to-image translation: `DIR/A` and `DIR/B`, or images with
            the two halves side by side, streamed from disk,
            `kerasdl.data.pairs`), `audio:DIR` (WAV clips labelled by
            sub-folder or file name, streamed from disk,
            `kerasdl.data.audio`), `tfrecord:DIR` (an image folder `kerasdl
            prepare` wrote as TFRecord files), `csv:FILE` (numeric features
            and a label column), `text:FILE` (TSV/CSV of labels and texts)
            or `text:DIR` (a sub-folder of .txt files per class), or
            `tfds:NAME[:CONFIG]` (TensorFlow Datasets: images or texts,
            images and segmentation masks such as `tfds:oxford_iiit_pet`,
            or photos and object boxes such as `tfds:voc/2007`).
        seed: seeds the stratified splits.
        validation_fraction: share of all examples for validation.
        test_fraction: share of all examples for the test split.
        image_size: side of the square images are resized to, or "auto"
            (`dataset.image_side`).
        label: the label column of `csv:` and `text:` tables; empty picks one.
        text_column: the text column of a `text:` table; empty picks one.
        vocabulary_size: most token ids of text data.
        sequence_length: token ids per text.
        wordpiece: tokenise text with this keras-hub BERT preset's WordPiece
            tokeniser instead of a word vocabulary of the training split.
        augment: `masks:`, `nuclei` and TFDS segmentation data: training
            batches get random flips, rotations and zooms, the same for an
            image and its mask; `boxes:` and TFDS detection data: flips,
            moves, zooms and colour changes, the boxes moved with the pixels;
            `pairs:` and `colorize`: pix2pix's random jitter (enlarge, crop
            back, mirror), the same for an input and its target.
        task: the run's task, if known: a `tfds:` set whose labels are
            another task's is refused in one line before it is read (which
            task a TFDS set is for shows only in its features).
        direction: `pairs:` data: "AtoB" (A, the left half, is the input
            and B the target) or "BtoA".
        audio: `audio:` data: a dict of `load_audio_folder`'s keywords
            (`sample_rate`, `clip_seconds`, `label_pattern`,
            `group_pattern`); None takes their defaults.

    Returns:
        A `Dataset`.

    Example:
        >>> load_dataset("iris").info.class_names
        ['setosa', 'versicolor', 'virginica']
    """
    if spec in BUNDLED:
        return load_bundled(spec, seed, validation_fraction, test_fraction)
    if spec == NUCLEI:
        # An installed package is a folder on disk, so the paths stay valid
        # while the splits stream from them.
        folder = str(resources.files("kerasdl.data") / NUCLEI)
        dataset = load_mask_folder(folder, seed, validation_fraction, test_fraction, image_size, augment=augment)
        dataset.info.name = NUCLEI
        return dataset
    if spec == NUCLEI_BOXES:
        from kerasdl.data.boxes import load_box_folder

        folder = str(resources.files("kerasdl.data") / NUCLEI)
        dataset = load_box_folder(folder, seed, validation_fraction, test_fraction, image_size, augment=augment)
        dataset.info.name = NUCLEI_BOXES
        return dataset
    if spec == COLORIZE:
        from kerasdl.data.colorize import load_colorize

        return load_colorize(seed, validation_fraction, test_fraction, image_size, augment=augment)
    if spec.startswith("images:"):
        return load_image_folder(spec[len("images:") :], seed, validation_fraction, test_fraction, image_size)
    if spec.startswith("tfrecord:"):
        from kerasdl.data.tfrecords import load_tfrecord_folder

        return load_tfrecord_folder(spec[len("tfrecord:") :], seed, validation_fraction, test_fraction, image_size)
    if spec.startswith("masks:"):
        return load_mask_folder(
            spec[len("masks:") :], seed, validation_fraction, test_fraction, image_size, augment=augment
        )
    if spec.startswith("pairs:"):
        return load_pair_folder(
            spec[len("pairs:") :],
            seed,
            validation_fraction,
            test_fraction,
            image_size,
            augment=augment,
            direction=direction,
        )
    if spec.startswith("audio:"):
        from kerasdl.data.audio import load_audio_folder

        return load_audio_folder(spec[len("audio:") :], seed, validation_fraction, test_fraction, **(audio or {}))
    if spec.startswith("boxes:"):
        from kerasdl.data.boxes import load_box_folder

        return load_box_folder(
            spec[len("boxes:") :], seed, validation_fraction, test_fraction, image_size, augment=augment
        )
    if spec.startswith("csv:"):
        return load_csv_table(spec[len("csv:") :], seed, validation_fraction, test_fraction, label)
    if spec.startswith("text:"):
        return load_text(
            spec[len("text:") :],
            seed,
            validation_fraction,
            test_fraction,
            vocabulary_size,
            sequence_length,
            wordpiece,
            label=label,
            text_column=text_column,
        )
    if spec.startswith("tfds:"):
        from kerasdl.data.tfds import load_tfds

        return load_tfds(
            spec,
            seed,
            validation_fraction,
            test_fraction,
            image_size,
            vocabulary_size,
            sequence_length,
            wordpiece,
            augment=augment,
            task=task,
        )
    raise UserError(
        f"Unknown dataset {spec!r}; choose one of: {', '.join(BUNDLED)}, {NUCLEI}, {NUCLEI_BOXES}, {COLORIZE}, "
        "images:DIR, tfrecord:DIR, masks:DIR, boxes:DIR, pairs:DIR, audio:DIR, csv:FILE, text:FILE, text:DIR, "
        "tfds:NAME"
    )


def load_dataset_for(config):
    """The dataset a run's `Config` names, with its seed, fractions and data settings."""
    dataset = load_dataset(
        config.data,
        config.seed,
        config.validation_fraction,
        config.test_fraction,
        config.image_size,
        config.label,
        config.text_column,
        config.vocabulary_size,
        config.sequence_length,
        # BERT reads text with its own pretrained vocabulary.
        config.model_params.get("preset", "") if config.model == "bert" else "",
        task=config.task,
        # The translate task's key; getattr while other configs lack it.
        direction=getattr(config, "direction", "AtoB"),
        audio={key: getattr(config, key) for key in AUDIO_KEYS if hasattr(config, key)},
    )
    if isinstance(dataset, FileDataset):
        dataset.cache = getattr(config, "cache", "auto")  # getattr: a stand-in config may lack it
    if config.mosaic:  # detection data only: the config refuses mosaic for other tasks
        dataset.mosaic = config.mosaic
    if config.task == "synthesize":  # a next-sample model reads stretches of the clips
        from kerasdl.data.next_sample import NextSampleData
        from kerasdl.tasks.synthesize import receptive_field_of

        dataset = NextSampleData(dataset, config.window, config.seed, receptive_field_of(config) - 1)
    return dataset
