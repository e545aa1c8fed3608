"""What TensorBoard shows of a detection run as it trains: the validation
split's mAP@0.5 and mAP@0.5:0.95, and a few validation images as true
boxes | detections, every few epochs and at the last.

Imports Keras and TensorFlow: import this module only once the backend is
chosen (`detect.sample_callbacks` imports it inside the function).
"""

import numpy as np
import tensorflow as tf

from kerasdl.inspection.summaries import PeriodicInspection, model_outputs

# Validation images whose mAP is computed at most (the first ones): they are
# held in memory for the run (100 letterboxed images at 320: 123 MB), and the
# decoding and NMS run per image; the cost must stay small beside an epoch.
MAX_IMAGES = 100


class DetectionSamples(PeriodicInspection):
    """Every `every` epochs (`inspect_every`; auto: about 8 a run) and at the last one,
    writes `map50`, `map50_95` and `samples/<i>` to `log_dir/inspection`.

    Args:
        log_dir: the run's TensorBoard folder.
        dataset: the run's `BoxDataset`; its validation split is read once.
        every: epochs between two inspections (>= 1).
        batch_size: images per predict batch.

    Example:
        >>> model.fit(batches, epochs=40, callbacks=[DetectionSamples("runs/yolo/logs", dataset, 5, 16)])
    """

    def __init__(self, log_dir, dataset, every, batch_size):
        from kerasdl.tasks.detect import SAMPLE_IMAGES

        super().__init__(log_dir, every)
        self.images, self.labels = dataset.sample("validation", MAX_IMAGES)
        self.class_names = dataset.info.class_names
        self.shown = SAMPLE_IMAGES
        self.batch_size = batch_size

    def write(self, epoch):
        from kerasdl.tasks.detect_images import truth_and_prediction
        from kerasdl.tasks.detect_nms import SHOW_SCORE, detections_from_heads
        from kerasdl.tasks.detect_score import mean_average_precision

        side = self.images.shape[1]
        found = detections_from_heads(model_outputs(self.model, self.images, self.batch_size), side)
        scores = mean_average_precision(found, self.labels, self.class_names)
        with self._writer.as_default(step=epoch):
            tf.summary.scalar("map50", scores["map50"])
            tf.summary.scalar("map50_95", scores["map50_95"])
            for index in range(min(self.shown, len(found))):
                picture = truth_and_prediction(
                    self.images[index], self.labels[index], found[index], self.class_names, SHOW_SCORE
                )
                tf.summary.image(f"samples/{index}", picture[np.newaxis], max_outputs=1)
        self._writer.flush()
