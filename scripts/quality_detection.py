"""Issue 18's detection bar on real data: `yolo_detect` with its defaults
on the BCCD blood cells (Pascal VOC layout, 3 classes).

The 292 images are not in the repository: pass their folder
(`JPEGImages/`, `Annotations/`, `ImageSets/Main/`), by default
`../shared/data/bccd` beside the checkout. The folder names train (205) and
val (87): kerasdl trains on train (a seeded tenth of all images held out
for validation) and scores on val. The bar: mAP@0.5 >= 0.80 and
mAP@0.5:0.95 >= 0.50 on val, training within 30 minutes; every TFLite
variant's mAP and LiteRT latency (1 and 2 threads) are reported. Results go
to `bench/quality_detection.json` and are printed as a table.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "bccd"
BAR = {"map50": 0.80, "map50_95": 0.50, "training_minutes": 30}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a detection folder (BCCD's Pascal VOC layout)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where the run and the JSON go")
    parser.add_argument("settings", nargs="*", help="KEY=VALUE settings over the preset's, e.g. epochs=40")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not data.is_dir():
        raise SystemExit(f"{str(data)!r} does not exist; pass --data DIR (the BCCD blood cells)")
    run_dir = out / "quality-runs" / f"yolo_detect-bccd-seed{args.seed}"
    command = [str(ROOT / ".venv/bin/kerasdl"), "train", "yolo_detect", f"data=boxes:{data}"]
    command += [f"run_dir={run_dir}", f"seed={args.seed}", "overwrite=true", "verbose=2", *args.settings]
    started = time.time()
    subprocess.run(command, check=True)
    seconds = time.time() - started
    metrics = json.loads((run_dir / "metrics.json").read_text())
    card = json.loads((run_dir / "model_card.json").read_text())
    test = metrics["test"]
    training = _last_epoch_end(run_dir) - started
    result = {
        "data": str(data),
        "seed": args.seed,
        "settings": args.settings,
        "cpu": _cpu(run_dir),
        "seconds": seconds,
        "training_seconds": training,
        "test": test,
        "met": test["map50"] >= BAR["map50"]
        and test["map50_95"] >= BAR["map50_95"]
        and training <= BAR["training_minutes"] * 60,
        "variants": {
            name: entry.get("parity", {}) | {key: entry.get(key) for key in ("rejected", "latency_ms", "size_bytes")}
            for name, entry in card["variants"].items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_detection.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def _cpu(run_dir):
    import yaml

    return yaml.safe_load((run_dir / "config.yaml").read_text())["resolved"]["cpu"]


def _last_epoch_end(run_dir):
    """When the last epoch's loss was written (TensorBoard's wall time): the
    command's start to this is the training time, data loading included."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "logs" / "train"), size_guidance={"tensors": 0})
    events.Reload()
    return max(event.wall_time for event in events.Tensors("epoch_loss"))


def table(result):
    """The result as markdown: the Keras model's figures, then each variant's."""
    test = result["test"]
    ap = ", ".join(f"{name} {value:.3f}" for name, value in test["ap50_95"].items() if value is not None)
    ap50 = ", ".join(f"{name} {value:.3f}" for name, value in test["ap50"].items() if value is not None)
    lines = [
        f"yolo_detect on BCCD (train -> val), seed {result['seed']}, {result['cpu']}: "
        f"training {result['training_seconds'] / 60:.1f} min, {result['seconds'] / 60:.1f} min to a verified export; "
        f"bar met: {'yes' if result['met'] else 'no'}",
        "",
        "| model | mAP@0.5:0.95 | mAP@0.5 | shown detections matched | ms, 1 / 2 threads (median) | size |",
        "|---|---|---|---|---|---|",
        f"| Keras | {test['map50_95']:.3f} | {test['map50']:.3f} | | | |",
    ]
    for name, entry in result["variants"].items():
        if entry.get("rejected"):
            lines.append(f"| {name} TFLite | left out: {entry['rejected']} | | | | |")
            continue
        latency = entry.get("latency_ms") or {}
        times = " / ".join(f"{latency[key]['median_ms']:.1f}" for key in sorted(latency) if "median_ms" in latency[key])
        lines.append(
            f"| {name} TFLite | {entry['map50_95']:.3f} | {entry['map50']:.3f} | {entry['matched']:.1%} | {times} "
            f"| {entry['size_bytes'] / 2**20:.1f} MiB |"
        )
    lines += ["", f"AP@0.5:0.95 per class: {ap}", f"AP@0.5 per class: {ap50}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
