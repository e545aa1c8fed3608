"""The keras.io U-Net recipe on kerasdl's own split of a `masks:DIR` folder.

"Image segmentation with a U-Net-like architecture" (keras-team/keras-io,
`examples/vision/oxford_pets_image_segmentation.py`), as its author wrote
it: the Xception-style model of `get_model`, the `tf.data` pipeline of
`get_dataset` (file paths, read, decode as 3-channel PNG, resize, batch: no
shuffle, no normalisation, no augmentation), `Adam(1e-4)` and
`sparse_categorical_crossentropy`, batches of 32, validation every epoch
and a best-only checkpoint, the model scored as `fit` leaves it.

Two changes, both forced by the data: the recipe's `target -= 1` (Oxford
Pets' trimaps hold 1, 2, 3) becomes the folder's own labels (0/255 masks
read as 0/1, as kerasdl reads them; other masks are class indices already),
and the files are kerasdl's train, validation and test splits of the folder
(`kerasdl.data.load_dataset` with the same seed and fractions), so both
sides learn from and are scored on the same images.

Measured here: training examples/s of `fit` and the test split's mean IoU
and pixel accuracy from the confusion matrix (`kerasdl.tasks.segment`), the
way kerasdl scores its own run, against the same truth masks.

Usage: python scripts/keras_io_unet.py DIR [--size 128] [--epochs 20] [--seed 1]
       [--batch-size 32] [--augment]
Prints one JSON line last.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH_SIZE = 32  # the recipe's


def get_model(img_size, num_classes):
    """The recipe's U-Net-like model: an Xception-style encoder (separable
    convolutions, residual projections) and a decoder of transposed
    convolutions and 2x upsampling, from 3-channel images to per-pixel
    softmax probabilities."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=img_size + (3,))

    # Entry block: halves the image.
    x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x

    # Downsampling: three blocks of two separable convolutions, each block
    # halving the image, with a strided 1x1 projection of its input added.
    for filters in [64, 128, 256]:
        for _ in range(2):
            x = layers.Activation("relu")(x)
            x = layers.SeparableConv2D(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])
        previous_block_activation = x

    # Upsampling: four blocks of two transposed convolutions, each block
    # doubling the image, with an upsampled 1x1 projection of its input added.
    for filters in [256, 128, 64, 32]:
        for _ in range(2):
            x = layers.Activation("relu")(x)
            x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])
        previous_block_activation = x

    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)
    return keras.Model(inputs, outputs)


def get_dataset(batch_size, img_size, input_img_paths, target_img_paths, binary):
    """The recipe's input pipeline: paths -> read, decode, resize -> batches.

    `binary`: the masks are 0/255 and 255 becomes class 1 (the recipe
    subtracted 1 from Oxford Pets' 1-3 trimaps instead).
    """
    from tensorflow import data as tf_data
    from tensorflow import image as tf_image
    from tensorflow import io as tf_io

    def load_img_masks(input_img_path, target_img_path):
        input_img = tf_io.read_file(input_img_path)
        input_img = tf_io.decode_png(input_img, channels=3)
        input_img = tf_image.resize(input_img, img_size)
        input_img = tf_image.convert_image_dtype(input_img, "float32")

        target_img = tf_io.read_file(target_img_path)
        target_img = tf_io.decode_png(target_img, channels=1)
        target_img = tf_image.resize(target_img, img_size, method="nearest")
        target_img = tf_image.convert_image_dtype(target_img, "uint8")
        if binary:
            target_img = target_img // 255
        return input_img, target_img

    dataset = tf_data.Dataset.from_tensor_slices((list(input_img_paths), list(target_img_paths)))
    dataset = dataset.map(load_img_masks, num_parallel_calls=tf_data.AUTOTUNE)
    return dataset.batch(batch_size)


def with_augmentation(batches, seed):
    """`batches` through kerasdl's own augmenter (flip, rotation, zoom, the
    same for image and mask), for a recipe that does the work kerasdl does:
    not part of the recipe."""
    import tensorflow as tf

    from kerasdl.data.masks import augmenter

    augment = augmenter(seed)

    def apply(images, targets):
        images, masks = augment(images, targets[..., 0])
        return images, masks[..., tf.newaxis]

    return batches.map(apply)


def epoch_clock():
    """A callback that records when `fit` starts and when each epoch ends
    (time.time(), as TensorBoard stamps kerasdl's events). Listed last, so an
    epoch's end includes its validation and checkpoint, as kerasdl's does."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.began = time.time()
            self.epoch_ends = []

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_ends.append(time.time())

    return EpochClock()


def run(folder, size, epochs, seed, batch_size=BATCH_SIZE, augment=False, validation_fraction=0.1, test_fraction=0.2):
    """Trains the recipe on kerasdl's splits of `folder`; returns what it measured."""
    import keras
    import numpy as np

    from kerasdl.data import load_dataset
    from kerasdl.tasks.segment import confusion, scores

    dataset = load_dataset(f"masks:{folder}", seed, validation_fraction, test_fraction, str(size))
    info = dataset.info
    # A masks: split is (image paths, mask paths), in the order kerasdl reads them.
    paths = {name: dataset.splits[name][:2] for name in ("train", "validation", "test")}
    img_size = (size, size)
    keras.utils.set_random_seed(seed)
    model = get_model(img_size, info.num_classes)
    train_dataset = get_dataset(batch_size, img_size, *paths["train"], dataset.binary)
    if augment:
        train_dataset = with_augmentation(train_dataset, seed)
    valid_dataset = get_dataset(batch_size, img_size, *paths["validation"], dataset.binary)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    clock = epoch_clock()
    with tempfile.TemporaryDirectory() as folder_for_checkpoint:
        callbacks = [
            keras.callbacks.ModelCheckpoint(
                os.path.join(folder_for_checkpoint, "oxford_segmentation.keras"), save_best_only=True
            ),
            clock,
        ]
        model.fit(train_dataset, epochs=epochs, validation_data=valid_dataset, callbacks=callbacks, verbose=2)
    # The same truth kerasdl scores against: its test masks, in split order.
    _, truth = dataset.arrays("test")
    test_dataset = get_dataset(batch_size, img_size, *paths["test"], dataset.binary)
    predicted = np.argmax(model.predict(test_dataset, verbose=0), axis=-1)
    test = scores(confusion(truth, predicted, info.num_classes), info.class_names)
    return {
        "train_examples": dataset.size("train"),
        "began": clock.began,
        "epoch_ends": clock.epoch_ends,
        "mean_iou": test["mean_iou"],
        "pixel_accuracy": test["pixel_accuracy"],
        "batch_size": batch_size,
        "augmented": augment,
        "parameters": model.count_params(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a masks:DIR folder (images/, masks/)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--augment", action="store_true", help="add kerasdl's augmentation (not the recipe's)")
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    args = parser.parse_args()
    measured = run(
        args.folder,
        args.size,
        args.epochs,
        args.seed,
        args.batch_size,
        args.augment,
        args.validation_fraction,
        args.test_fraction,
    )
    print(json.dumps(measured), flush=True)


if __name__ == "__main__":
    main()
