"""The detection bench's hand-over to Ultralytics and its scoring, without training either."""

import sys
from pathlib import Path

import numpy as np
from detection_data import make_yolo_folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import bench_detection as bench  # noqa: E402

from kerasdl.data import load_dataset  # noqa: E402


def test_the_ultralytics_copy_holds_kerasdls_splits_and_boxes_and_truth_scores_one(tmp_path):
    truth = make_yolo_folder(tmp_path / "folder", count=20)
    dataset = load_dataset(f"boxes:{tmp_path / 'folder'}", seed=3, augment=False)
    yaml = bench.write_yolo_copy(dataset, tmp_path / "copy")
    text = yaml.read_text()
    assert "val: images/validation" in text and "  0: red" in text and "  1: green" in text
    for split in bench.SPLITS:
        paths = dataset.splits[split][0]
        linked = sorted(path.name for path in (tmp_path / "copy" / "images" / split).iterdir())
        assert linked == sorted(Path(str(path)).name for path in paths)  # the same photos, split for split
    # Every YOLO line comes back to the folder's own box, in pixels (photos are 80x64).
    for label in (tmp_path / "copy" / "labels").rglob("*.txt"):
        rows = np.loadtxt(label, ndmin=2)
        boxes = sorted(
            (
                int(kind),
                round((cx - w / 2) * 80),
                round((cy - h / 2) * 64),
                round((cx + w / 2) * 80),
                round((cy + h / 2) * 64),
            )
            for kind, cx, cy, w, h in rows
        )
        assert boxes == sorted(truth[label.stem])
    # The true boxes as detections (score 1) score 1.0 by the bench's pycocotools scorer.
    found = {
        str(path): [[*rows[1:5], 1.0, rows[0]] for rows in labels[labels[:, 0] >= 0]]
        for path, labels in zip(*dataset.splits["test"], strict=True)
    }
    scores = bench.score(found, dataset)
    assert scores["map50_95"] == scores["map50"] == 1.0
