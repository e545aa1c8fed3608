"""kerasdl's YOLO against Ultralytics YOLOv8n, both from scratch, side by side on one split.

Issue 18's comparison, on the BCCD blood cells (Pascal VOC layout, by
default `../shared/data/bccd`): kerasdl's `yolo_detect` and Ultralytics'
`yolov8n.yaml` train on the same images (kerasdl's training split: BCCD's
train less a seeded tenth held out), validate on the same held-out tenth,
and are scored on the same test images (BCCD's val) at the same image size,
batch and epochs, one after the other on this machine. Each keeps its own
defaults otherwise (optimizer, schedule, augmentation: Ultralytics adds
mosaic), as their users get them.

Both are scored by kerasdl's pycocotools COCO mAP on final detections made
with the same thresholds (score down to 0.001, NMS IoU 0.7, at most 100 a
photo), in each photo's pixels (AP does not change under the letterbox's
scale and shift); Ultralytics' own `val` figures are reported beside. The
phone models compared are each tool's int8 TFLite file: kerasdl's
verified variant (NMS inside), Ultralytics' `export(format="tflite",
int8=True)` (NMS in Python after it).

Ultralytics runs in its own interpreter (`--ultralytics-python`, default
`.venv-ultralytics/bin/python`, which `make bench-detect` creates with
`pip install ultralytics`): its int8 export installs a converter chain
(onnx2tf and a TensorFlow of its choosing) that must not replace kerasdl's.
Writes `bench/bench_detection.json` and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from quality_detection import DEFAULT_DATA, _cpu, _last_epoch_end  # noqa: E402

SPLITS = ("train", "validation", "test")


def write_yolo_copy(dataset, out):
    """kerasdl's splits of `dataset` as an Ultralytics folder: images linked,
    boxes as normalised YOLO lines; returns the YAML's path."""
    from PIL import Image

    names = dataset.info.class_names
    for split in SPLITS:
        images, labels = out / "images" / split, out / "labels" / split
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        paths, rows = dataset.splits[split]
        for path, boxes in zip(paths, rows, strict=True):
            path = Path(str(path))
            link = images / path.name
            if not link.exists():
                link.symlink_to(path.resolve())
            with Image.open(path) as photo:
                width, height = photo.size
            lines = [
                f"{int(kind)} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n"
                for kind, x1, y1, x2, y2 in boxes[boxes[:, 0] >= 0]
            ]
            (labels / f"{path.stem}.txt").write_text("".join(lines))
    entries = [
        f"path: {out.resolve()}",
        *(f"{split[:3] if split == 'validation' else split}: images/{split}" for split in SPLITS),
    ]
    entries.append("names:")
    entries += [f"  {index}: {name}" for index, name in enumerate(names)]
    yaml = out / "data.yaml"
    yaml.write_text("\n".join(entries) + "\n")
    return yaml


def score(found, dataset):
    """COCO mAP (kerasdl's pycocotools scorer) of `{photo: [[x1, y1, x2, y2, score, class]]}` on the test split."""
    from kerasdl.tasks.detect_score import mean_average_precision

    paths, labels = dataset.splits["test"]
    rows = max(1, max(len(found[str(path)]) for path in paths))
    detections = np.zeros((len(paths), rows, 6), "float32")
    for index, path in enumerate(paths):
        boxes = np.asarray(found[str(path)], "float32").reshape(-1, 6)
        detections[index, : len(boxes)] = boxes
    return mean_average_precision(detections, labels, dataset.info.class_names)


def run_kerasdl(data, settings, out, seed):
    run_dir = out / "detect-runs" / f"kerasdl-seed{seed}"
    command = [str(ROOT / ".venv/bin/kerasdl"), "train", "yolo_detect", f"data=boxes:{data}", f"run_dir={run_dir}"]
    command += [f"seed={seed}", "overwrite=true", "verbose=2", *settings]
    started = time.time()
    subprocess.run(command, check=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    card = json.loads((run_dir / "model_card.json").read_text())
    int8 = card["variants"].get("int8", {})
    return {
        "run_dir": str(run_dir),
        "cpu": _cpu(run_dir),
        "training_seconds": _last_epoch_end(run_dir) - started,
        "test": {key: metrics["test"][key] for key in ("map50", "map50_95")},
        "int8": int8.get("parity", {}) | {"size_bytes": int8.get("size_bytes"), "rejected": int8.get("rejected")},
    }


def run_ultralytics(python, yaml, dataset, settings, out, seed):
    paths = out / "detect-runs" / "test_images.txt"
    paths.write_text("".join(f"{path}\n" for path in dataset.splits["test"][0]))
    folder = out / "detect-runs" / f"ultralytics-seed{seed}"
    command = [python, str(ROOT / "scripts" / "bench_ultralytics.py"), "--data", str(yaml), "--test-images", str(paths)]
    command += ["--epochs", str(settings["epochs"]), "--image-size", str(settings["image_size"])]
    command += ["--batch", str(settings["batch_size"]), "--seed", str(seed), "--out", str(folder)]
    # Offline: no settings sync, no hub checks, no font downloads for plots.
    environment = os.environ | {"YOLO_OFFLINE": "1", "YOLO_VERBOSE": "True"}
    subprocess.run(command, check=True, env=environment)
    result = json.loads((folder / "ultralytics.json").read_text())
    report = {
        "version": result["ultralytics"],
        "training_seconds": result["training_seconds"],
        "test": score(result["pytorch"]["detections"], dataset),
        "own_val": result["pytorch"]["own_val"],
    }
    int8 = result["int8"]
    if "error" in int8:
        report["int8"] = {"error": int8["error"]}
    else:
        report["int8"] = score(int8["detections"], dataset) | {
            "size_bytes": int8["size_bytes"],
            "own_val": int8["own_val"],
        }
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a detection folder (BCCD's Pascal VOC layout)")
    parser.add_argument("--epochs", type=int, default=60, help="both tools (yolo_detect's default: 60)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ultralytics-python", default=str(ROOT / ".venv-ultralytics" / "bin" / "python"))
    parser.add_argument("--out", default=str(ROOT / "bench"))
    parser.add_argument("--skip-kerasdl", action="store_true", help="reuse the last kerasdl run's figures")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not data.is_dir():
        raise SystemExit(f"{str(data)!r} does not exist; pass --data DIR (the BCCD blood cells)")
    if not Path(args.ultralytics_python).is_file():
        raise SystemExit(
            f"{args.ultralytics_python} does not exist; make bench-detect creates it (pip install ultralytics)"
        )

    from kerasdl.config import make_config
    from kerasdl.data import load_dataset

    config = make_config("yolo_detect", {"data": f"boxes:{data}", "seed": str(args.seed), "epochs": str(args.epochs)})
    dataset = load_dataset(
        config.data,
        seed=config.seed,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        image_size=config.image_size,
        augment=False,
    )
    side = dataset.info.input_shape[0]
    shared = {"epochs": args.epochs, "image_size": side, "batch_size": config.batch_size}
    counts = {split: len(dataset.splits[split][0]) for split in SPLITS}
    yaml = write_yolo_copy(dataset, out / "detect-yolo-data")
    previous = out / "bench_detection.json"
    if args.skip_kerasdl and previous.exists():
        ours = json.loads(previous.read_text())["kerasdl"]
    else:
        ours = run_kerasdl(data, [f"epochs={args.epochs}", f"image_size={side}"], out, args.seed)
    theirs = run_ultralytics(args.ultralytics_python, yaml, dataset, shared, out, args.seed)
    result = {"data": str(data), "splits": counts, "shared": shared, "kerasdl": ours, "ultralytics": theirs}
    for entry in (ours, theirs):
        entry["images_per_second"] = counts["train"] * args.epochs / entry["training_seconds"]
    previous.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def table(result):
    ours, theirs = result["kerasdl"], result["ultralytics"]
    shared = result["shared"]

    def int8(entry):
        if "error" in entry or entry.get("rejected"):
            return f"none ({entry.get('error') or entry.get('rejected')})", ""
        return f"{entry['map50_95']:.3f}", f"{entry['size_bytes'] / 2**20:.1f} MiB"

    lines = [
        f"BCCD, train {result['splits']['train']} / validation {result['splits']['validation']} / test "
        f"{result['splits']['test']} images, {shared['image_size']}x{shared['image_size']}, batch "
        f"{shared['batch_size']}, {shared['epochs']} epochs, from scratch; {ours['cpu']}",
        "",
        "| | training images/s | training min | test mAP@0.5:0.95 | test mAP@0.5 | int8 TFLite mAP@0.5:0.95 "
        "| int8 size |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in (("kerasdl yolo_detect (yolo n)", ours), (f"Ultralytics {theirs['version']} YOLOv8n", theirs)):
        mark, size = int8(entry["int8"])
        lines.append(
            f"| {name} | {entry['images_per_second']:.1f} | {entry['training_seconds'] / 60:.1f} | "
            f"{entry['test']['map50_95']:.3f} | {entry['test']['map50']:.3f} | {mark} | {size} |"
        )
    own = theirs["own_val"]
    lines.append("")
    lines.append(
        f"Ultralytics' own val on the test split: mAP@0.5:0.95 {own['map50_95']:.3f}, mAP@0.5 {own['map50']:.3f}"
    )
    if "own_val" in theirs["int8"]:
        own = theirs["int8"]["own_val"]
        lines.append(
            f"... through its int8 TFLite file: mAP@0.5:0.95 {own['map50_95']:.3f}, mAP@0.5 {own['map50']:.3f}"
        )
    ratio = ours["images_per_second"] / theirs["images_per_second"]
    lines.append(f"kerasdl trains at {ratio:.2f}x Ultralytics' images/s (validation each epoch included in both)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
