"""The Ultralytics side of `scripts/bench_detection.py`, run by Ultralytics' own interpreter.

Trains YOLOv8n from scratch (`yolov8n.yaml`, no downloaded weights) as a
user of `yolo detect train` would, with Ultralytics' defaults (its
optimizer choice, mosaic and the rest of its augmentation, best.pt chosen
on the validation split) and only the shared settings changed: epochs,
image size, batch, seed, CPU. Then, on the test images:

- the final detections of best.pt (`predict`, conf 0.001, IoU 0.7, at most
  100 a photo: kerasdl's scoring settings), in the photos' pixels, for
  `bench_detection.py` to score with pycocotools as it scores kerasdl's;
- Ultralytics' own `val` on the test split, for reference;
- the int8 TFLite export (`export(format="tflite", int8=True)`, which
  Ultralytics 8.4 makes with litert-torch, calibrated on the validation
  split's images, its default) and the same detections and `val` through
  it. That file takes channels-first input (1x3xSxS) and leaves NMS to
  Ultralytics' Python.

Writes `OUT/ultralytics.json`. Needs `ultralytics`, torch and litert-torch
(`make bench-detect` installs them into `.venv-ultralytics`, apart from
kerasdl's interpreter: Ultralytics would otherwise try to install its
export requirements into it at run time).
"""

import argparse
import json
import time
from pathlib import Path

SCORING = {"conf": 0.001, "iou": 0.7, "max_det": 100}


def detections(model, images, image_size):
    """`{image path: [[x1, y1, x2, y2, score, class], ...]}` in each photo's pixels."""
    found = {}
    for path in images:
        (result,) = model.predict(path, imgsz=image_size, device="cpu", verbose=False, **SCORING)
        boxes = result.boxes
        rows = [
            [*map(float, box), float(score), int(kind)]
            for box, score, kind in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True)
        ]
        found[str(path)] = rows
    return found


def own_val(model, data, image_size, batch):
    metrics = model.val(data=data, split="test", imgsz=image_size, batch=batch, device="cpu", plots=False, **SCORING)
    return {"map50": float(metrics.box.map50), "map50_95": float(metrics.box.map)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the dataset YAML (train, val and test image folders)")
    parser.add_argument("--test-images", required=True, help="a file listing the test images, one path a line")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import ultralytics
    from ultralytics import YOLO

    images = Path(args.test_images).read_text().split()
    result = {"ultralytics": ultralytics.__version__}
    model = YOLO("yolov8n.yaml")
    started = time.time()
    model.train(
        data=args.data,
        epochs=args.epochs,
        imgsz=args.image_size,
        batch=args.batch,
        seed=args.seed,
        device="cpu",
        workers=2,
        pretrained=False,
        amp=False,
        plots=False,
        project=str(args.out),
        name="train",
        exist_ok=True,
    )
    result["training_seconds"] = time.time() - started
    best = Path(model.trainer.best)
    trained = YOLO(str(best))
    result["keras_equivalent"] = "best.pt"
    result["pytorch"] = {"detections": detections(trained, images, args.image_size)}
    result["pytorch"]["own_val"] = own_val(trained, args.data, args.image_size, args.batch)
    try:
        exported = trained.export(format="tflite", int8=True, data=args.data, imgsz=args.image_size, device="cpu")
        int8 = YOLO(str(exported), task="detect")
        result["int8"] = {"file": str(exported), "size_bytes": Path(exported).stat().st_size}
        result["int8"]["detections"] = detections(int8, images, args.image_size)
        result["int8"]["own_val"] = own_val(int8, args.data, args.image_size, 1)
    except Exception as error:  # the converter chain fails in many ways; the bench reports which
        result["int8"] = {"error": f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ultralytics.json").write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
