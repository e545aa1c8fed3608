"""What TensorBoard shows of a segmentation run each epoch: a few fixed
validation images as input | true mask | predicted mask.

Imports Keras and TensorFlow: import this module only once the backend is
chosen (`segment.sample_callbacks` imports it inside the function).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kerasdl.tasks.mask_images import side_by_side

# The summaries go to their own folder beside Keras's `train/` and
# `validation/`: TensorBoard lists it as "samples" next to them under the
# same run. Not inside `validation/`: TensorBoard polls only the newest event
# file of a folder, so a second writer there would hide one of the two.
SAMPLES_FOLDER = "samples"


class SegmentationSamples(keras.callbacks.Callback):
    """Writes one `samples/<i>` image summary per example at the end of each epoch.

    Args:
        log_dir: the run's TensorBoard folder (the `log_dir` of its
            `keras.callbacks.TensorBoard`); the summaries go to
            `log_dir/samples`.
        images: float32 `(N, H, W, C)` raw images, as the model takes them.
        masks: uint8 `(N, H, W)` true masks.

    Example:
        >>> samples = SegmentationSamples("runs/unet/logs", images, masks)
        >>> model.fit(batches, epochs=10, callbacks=[samples])  # TensorBoard: samples/0, samples/1, ...
    """

    def __init__(self, log_dir, images, masks):
        super().__init__()
        images = np.asarray(images, dtype=np.float32)
        masks = np.asarray(masks)
        if images.ndim != 4:
            raise ValueError(f"images must be (count, height, width, channels), got shape {images.shape}")
        if masks.shape != images.shape[:3]:
            raise ValueError(f"masks must be {images.shape[:3]} to match the images, got shape {masks.shape}")
        self.log_dir = os.path.join(os.fspath(log_dir), SAMPLES_FOLDER)
        self.images = images
        self.masks = masks.astype(np.uint8)
        self._writer = None

    def on_train_begin(self, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:  # used outside fit()'s usual order of calls
            self.on_train_begin()
        predictions = self.predicted_masks()
        with self._writer.as_default(step=epoch):
            for index, (image, truth, prediction) in enumerate(zip(self.images, self.masks, predictions, strict=True)):
                picture = side_by_side(image, truth, prediction)
                tf.summary.image(f"samples/{index}", picture[np.newaxis], max_outputs=1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def predicted_masks(self):
        """The model's uint8 `(N, H, W)` masks for the sample images."""
        from kerasdl.inspection.summaries import model_outputs

        probabilities = model_outputs(self.model, self.images, len(self.images))
        if probabilities.shape[-1] == 1:  # one sigmoid channel: the probability of class 1
            return (probabilities[..., 0] > 0.5).astype(np.uint8)
        return probabilities.argmax(axis=-1).astype(np.uint8)
