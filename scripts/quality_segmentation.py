"""Issue 16's segmentation bar on real data: `unet_segment` with its
defaults on the ISBI 2012 EM membranes, the data of the U-Net paper.

The 30 annotated 512x512 images (masks: 255 cell interior, 0 membrane) are
not in the repository: pass their folder (`images/`, `masks/`), by default
`../shared/data/isbi_membranes` beside the checkout. kerasdl's seeded split
(seed 42 unless `--seed`) keeps 6 for the test (test_fraction 0.2) and 3 for
validation; the other 21 train. The bar: pixel accuracy >= 0.90 and mean
IoU >= 0.75 on the 6, training within 15 minutes. Every TFLite variant's
figures are reported too. Results go to `bench/quality_segmentation.json`
and are printed as a table.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "isbi_membranes"
BAR = {"pixel_accuracy": 0.90, "mean_iou": 0.75, "minutes": 15}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder with images/ and masks/")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where the run and the JSON go")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not (data / "images").is_dir() or not (data / "masks").is_dir():
        raise SystemExit(f"{str(data)!r} has no images/ and masks/; pass --data DIR (the ISBI 2012 membranes)")
    run_dir = out / "quality-runs" / f"unet_segment-isbi-seed{args.seed}"
    command = [str(ROOT / ".venv/bin/kerasdl"), "train", "unet_segment", f"data=masks:{data}"]
    command += [f"run_dir={run_dir}", f"seed={args.seed}", "overwrite=true", "verbose=2"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    metrics = json.loads((run_dir / "metrics.json").read_text())
    card = json.loads((run_dir / "model_card.json").read_text())
    test = metrics["test"]
    result = {
        "data": str(data),
        "seed": args.seed,
        "cpu": _cpu(run_dir),
        "seconds": seconds,
        "test": test,
        "met": test["pixel_accuracy"] >= BAR["pixel_accuracy"]
        and test["mean_iou"] >= BAR["mean_iou"]
        and seconds <= BAR["minutes"] * 60,
        "variants": {
            name: entry.get("parity", {}) | {"rejected": entry.get("rejected")}
            for name, entry in card["variants"].items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_segmentation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def _cpu(run_dir):
    import yaml

    return yaml.safe_load((run_dir / "config.yaml").read_text())["resolved"]["cpu"]


def table(result):
    """The result as markdown: the Keras model's figures, then each variant's."""
    test = result["test"]
    iou = ", ".join(f"{name} {value:.3f}" for name, value in test["iou"].items() if value is not None)
    lines = [
        f"unet_segment on ISBI 2012 membranes, seed {result['seed']}, {result['cpu']}: "
        f"{result['seconds'] / 60:.1f} min to a verified export; bar met: {'yes' if result['met'] else 'no'}",
        "",
        "| model | mean IoU | pixel accuracy / agreement | IoU per class |",
        "|---|---|---|---|",
        f"| Keras | {test['mean_iou']:.3f} | {test['pixel_accuracy']:.2%} | {iou} |",
    ]
    for name, parity in result["variants"].items():
        if parity.get("rejected"):
            lines.append(f"| {name} TFLite | left out: {parity['rejected']} | | |")
        elif parity:
            lines.append(
                f"| {name} TFLite | {parity['mean_iou']:.3f} | agrees on {parity['pixel_agreement']:.2%} of pixels | |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
