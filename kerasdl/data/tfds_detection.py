"""TFDS detection sets (`tfds:voc/2007`, `tfds:voc/2012`, `tfds:coco/2017`),
streamed from their records as `boxes:DIR` streams files.

A dataset with an `Image` and an `objects` sequence holding a `bbox`
(`BBoxFeature`) and a `label` (`ClassLabel`) is a detection set. Its classes
are the label's names. TFDS stores a box as `ymin, xmin, ymax, xmax`,
fractions of the photo's height and width; the reader turns it into x1, y1,
x2, y2 in the photo's pixels, and from there `boxes.letterboxed` makes the
input and the labels exactly as for `boxes:DIR` (`TfdsBoxDataset`), and
training batches get `boxes:DIR`'s augmentation. Crowd objects (COCO's
`is_crowd`) are left out, as for COCO JSON in a folder.

Splits: TFDS's own where it has them (VOC 2007: train 2,501, validation
2,510, test 4,952 photos). A test split without labels (COCO 2017's and VOC
2012's: their annotations are not public) is not used: TFDS's validation
split is then the test split, and validation is carved from train.
"""

import dataclasses
import time

from kerasdl.data.boxes import AUTO_SIDE_MAX, BoxDataset, box_info, detection_side, letterboxed
from kerasdl.data.masks import STATS_SAMPLE
from kerasdl.data.tfds_download import load_splits
from kerasdl.data.tfds_records import TfdsRecords, tfds_splits
from kerasdl.errors import UserError

# The feature that makes a TFDS dataset a detection set: a sequence of
# objects, each a `bbox` and a `label` (and for COCO `is_crowd`).
OBJECTS = "objects"
CROWD = "is_crowd"

# `image_size=auto` when TFDS leaves the photos' size open (VOC and COCO
# photos are of any size, about 500 and 640 pixels across): 320, the
# largest side `boxes:DIR` chooses by itself. Finding the largest photo
# would decode every photo before training starts.
PHOTO_SIDE = AUTO_SIDE_MAX

# A test split whose first this many records hold no object at all has no
# labels (COCO 2017's and VOC 2012's); the check stops there instead of
# reading the whole split.
UNLABELLED_PEEK = 64


def detection_image_key(features, name):
    """The image feature of a detection set (an `Image` and an `objects`
    sequence of `bbox` and `label`), or None for any other set.

    Example:
        >>> detection_image_key(tfds.builder("voc/2007").info.features, "voc/2007")
        'image'
    """
    features = dict(features.items())
    objects = features.get(OBJECTS)
    if type(objects).__name__ != "Sequence" or type(objects.feature).__name__ != "FeaturesDict":
        return None
    kinds = {key: type(feature).__name__ for key, feature in objects.feature.items()}
    if kinds.get("bbox") != "BBoxFeature" or kinds.get("label") != "ClassLabel":
        return None
    images = [key for key, feature in features.items() if type(feature).__name__ == "Image"]
    if len(images) != 1:
        raise UserError(
            f"tfds:{name} has {OBJECTS} and {len(images)} image features ({', '.join(images) or 'none'}); "
            "kerasdl reads detection sets with one image per set of objects"
        )
    return images[0]


def load_detection(
    spec, builder, name, data_dir, image_key, seed, validation_fraction, test_fraction, image_size, augment
):
    """A TFDS detection set as a `TfdsBoxDataset` (see `load_tfds`)."""
    import tensorflow_datasets as tfds

    crowds = CROWD in builder.info.features[OBJECTS].feature
    # The image as encoded bytes until a split's examples are chosen, and of
    # the objects only what becomes a label.
    encoded = tfds.decode.PartialDecoding(
        {image_key: True, OBJECTS: {"bbox": True, "label": True} | ({CROWD: True} if crowds else {})},
        decoders={image_key: tfds.decode.SkipDecoding()},
    )
    loaded, builder = load_splits(builder, name, data_dir, decoders=encoded, shuffle_files=False)
    unlabelled = {"validation", "test"} <= set(loaded) and not _holds_objects(loaded["test"].take(UNLABELLED_PEEK))
    if unlabelled:
        loaded["test"] = loaded.pop("validation")
    # MAX_BOXES needs the most objects of any photo, and TFDS does not keep
    # it: every record is read once for its objects (photos stay encoded).
    # For COCO 2017's 123,287 records that is about 19 GB off the disk, at
    # the start of every run; the note below says what it cost.
    started = time.perf_counter()
    counted = {split: _object_counts(data) for split, data in loaded.items()}
    counts = {split: examples for split, (examples, _, _) in counted.items()}
    rows = max(1, *(most for _, most, _ in counted.values()))
    notes = [
        f"read the objects of {sum(counts.values()):,} TFDS records in {time.perf_counter() - started:.1f} s "
        f"(every run does, for the label rows): at most {rows} object(s) per photo"
    ]
    left_out = sum(crowd for _, _, crowd in counted.values())
    if left_out:
        notes.append(
            f"left out {left_out} crowd annotation(s) ({CROWD}) of tfds:{name}: they outline groups, not objects"
        )

    features = builder.info.features
    image_feature = features[image_key]
    records = {split: data.map(_photo_and_objects(image_key)) for split, data in loaded.items()}

    def decode(image, boxes, classes):
        return photo_boxes(image_feature.decode_example(image), boxes, classes)

    fixed_sides = [side for side in image_feature.shape[:2] if side]
    side = detection_side(image_size, max(fixed_sides) if len(fixed_sides) == 2 else PHOTO_SIDE)
    info = box_info(spec, side, features[OBJECTS]["label"].names)
    splits = tfds_splits(counts, seed, validation_fraction, test_fraction)
    if unlabelled:
        notes.append(
            f"tfds:{name}'s test split has no labels: scoring on its validation split ({counts['test']:,} photos); "
            "validation is drawn from train"
        )
    dataset = TfdsBoxDataset(
        info=info, splits=splits, notes=notes, augment=augment, max_boxes=rows, records=records, decode=decode
    )
    dataset.set_statistics(STATS_SAMPLE, seed)
    return dataset


@dataclasses.dataclass
class TfdsBoxDataset(TfdsRecords, BoxDataset):
    """A TFDS detection set, streamed from its records as `BoxDataset`
    streams files; `size`, `sample`, `arrays` and `pipeline` are
    `BoxDataset`'s, training augmentation included.

    `splits[name]` is `(sources, positions)`: for each example, the TFDS
    split it is read from and its position in that split's stored order
    (`kerasdl.data.tfds_records`).

    Args:
        records: `{TFDS split: tf.data.Dataset}` of `(image bytes, boxes,
            classes)`, in stored order, crowd objects left out; boxes as
            TFDS stores them.
        decode: `(image bytes, boxes, classes) -> (image, boxes, classes)`
            (`photo_boxes`).
    """

    def _reader(self, augmenting=False):
        """`(image bytes, boxes, classes) -> (image, labels)`, letterboxed."""
        side, _, channels = self.info.input_shape
        rows, decode = self.max_boxes, self.decode

        def read(image, boxes, classes):
            return letterboxed(*decode(image, boxes, classes), side, channels, rows)

        return read


def photo_boxes(image, boxes, classes):
    """A photo's TFDS boxes (`ymin, xmin, ymax, xmax`, fractions of its
    height and width) as x1, y1, x2, y2 in its pixels, what
    `boxes.letterboxed` takes. A box under a pixel wide or high is left
    out, as `boxes:DIR` skips one.

    Returns:
        `(image, boxes float32 (k, 4), classes int32 (k,))`.

    Example:
        >>> photo = np.zeros((100, 200, 3), np.uint8)  # 200 wide, 100 high
        >>> photo_boxes(photo, [[0.1, 0.25, 0.5, 0.75]], [3])[1].numpy()
        array([[ 50.,  10., 150.,  50.]], dtype=float32)
    """
    import tensorflow as tf

    height, width = tf.unstack(tf.cast(tf.shape(image)[:2], tf.float32))
    corners = tf.gather(tf.cast(boxes, tf.float32), [1, 0, 3, 2], axis=1) * tf.stack([width, height, width, height])
    kept = tf.reduce_all(corners[:, 2:] - corners[:, :2] >= 1.0, axis=1)
    return image, tf.boolean_mask(corners, kept), tf.boolean_mask(tf.cast(classes, tf.int32), kept)


def _photo_and_objects(image_key):
    """A record as `(image bytes, boxes, classes)`, its crowd objects left out."""
    import tensorflow as tf

    def split(example):
        objects = example[OBJECTS]
        kept = tf.logical_not(objects[CROWD]) if CROWD in objects else tf.ones_like(objects["label"], tf.bool)
        return example[image_key], tf.boolean_mask(objects["bbox"], kept), tf.boolean_mask(objects["label"], kept)

    return split


def _object_counts(data):
    """`(records, most objects in one, crowd objects)` of a TFDS split,
    from the objects alone: photos are not decoded."""
    import tensorflow as tf

    def counts(example):
        objects = example[OBJECTS]
        crowd = tf.reduce_sum(tf.cast(objects[CROWD], tf.int64)) if CROWD in objects else tf.constant(0, tf.int64)
        return tf.size(objects["label"], out_type=tf.int64) - crowd, crowd

    def add(total, one):
        return total[0] + 1, tf.maximum(total[1], one[0]), total[2] + one[1]

    start = tuple(tf.constant(0, tf.int64) for _ in range(3))
    data = data.map(counts, num_parallel_calls=tf.data.AUTOTUNE)
    return tuple(int(value) for value in data.reduce(start, add))


def _holds_objects(data):
    """Whether any record of `data` has an object."""
    import tensorflow as tf

    sizes = data.map(lambda example: tf.size(example[OBJECTS]["label"], out_type=tf.int64))
    return int(sizes.reduce(tf.constant(0, tf.int64), lambda total, size: total + size)) > 0
