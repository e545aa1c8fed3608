"""Issue 19's translation bar on real aligned pairs: Pix2Pix against its
L1-only baseline on the ISBI 2012 EM membranes, label map -> EM image.

The shape of the paper's facades problem (labels -> photo): the input is a
membrane map (255 cell interior, 0 membrane), the target the EM section it
was drawn on. The 30 pairs are not in the repository: pass their folder
(`images/`, `masks/`), by default `../shared/data/isbi_membranes` beside
the checkout. They are written as side-by-side files (map left, image
right), images 0-23 in `train/` (kerasdl keeps validation_fraction of them
for validation) and 24-29 in `test/`.

Both models train for the same time: `pix2pix` for `--epochs`, `l1_unet`
(the same generator, L1 only) for as many epochs as fit in the time
pix2pix's steps took, from the two models' step times measured here side
by side. The bar: pix2pix's sharpness ratio within [0.8, 1.25] while its
SSIM is at most 0.05 below the baseline's, training within 20 minutes,
every shipped TFLite variant within its parity bar. Results go to
`bench/quality_translation.json`, a contact sheet of the test outputs to
`bench/quality_translation.png`, and a table is printed.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "isbi_membranes"
BAR = {"sharpness": (0.8, 1.25), "ssim_below_baseline": 0.05, "minutes": 20}
TRAIN_IMAGES = 24  # 0-23 train (and validate); 24-29 test, as issue 19 asks


def write_pairs(data, folder):
    """ISBI's 30 pairs as side-by-side files, map | image, in train/ and test/."""
    for index in range(30):
        split = folder / ("train" if index < TRAIN_IMAGES else "test")
        split.mkdir(parents=True, exist_ok=True)
        with Image.open(data / "masks" / f"{index}.png") as labels, Image.open(data / "images" / f"{index}.png") as em:
            pair = np.concatenate([np.asarray(labels.convert("L")), np.asarray(em.convert("L"))], axis=1)
        Image.fromarray(pair).save(split / f"{index}.png")


def step_seconds(pairs, settings):
    """Seconds per training step of pix2pix and l1_unet, measured alternately on the same batch."""
    import keras

    from kerasdl.data import load_dataset
    from kerasdl.models import build_model
    from kerasdl.tasks import translate

    keras.mixed_precision.set_global_policy(settings["precision"])
    dataset = load_dataset(f"pairs:{pairs}", image_size=settings["image_size"])
    inputs, targets = dataset.sample("train", 1)
    times = {}
    for family in ("pix2pix", "l1_unet"):
        model = build_model(family, dataset.info, filters=int(settings["model.filters"]))
        model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), **translate.compile_arguments(None, model))
        model.train_on_batch(inputs, targets)  # traced
        start = time.perf_counter()
        for _ in range(10):
            model.train_on_batch(inputs, targets)
        times[family] = (time.perf_counter() - start) / 10
    return times


def train(family, pairs, run_dir, settings, epochs):
    command = [str(ROOT / ".venv/bin/kerasdl"), "train", "pix2pix_pairs", f"data=pairs:{pairs}", f"model={family}"]
    command += [f"{key}={value}" for key, value in settings.items()]
    command += [f"epochs={epochs}", f"run_dir={run_dir}", "overwrite=true", "verbose=2"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    card = json.loads((run_dir / "model_card.json").read_text())
    return {
        "epochs": epochs,
        "seconds": seconds,
        "test": json.loads((run_dir / "metrics.json").read_text())["test"],
        "variants": {
            name: entry.get("parity", {}) | {"rejected": entry.get("rejected")}
            for name, entry in card["variants"].items()
        },
    }


def contact_sheet(pairs, runs, path):
    """Test pairs as rows: input | target | pix2pix | l1_unet, at the models' size."""
    from kerasdl.prediction import predict
    from kerasdl.tasks.translate_images import beside

    rows = []
    for source in sorted((pairs / "test").glob("*.png"), key=lambda p: int(p.stem)):
        with Image.open(source) as pair:
            pair = np.asarray(pair.convert("L"))
        half = pair.shape[1] // 2
        panels = [pair[:, :half], pair[:, half:]]
        single = path.parent / "quality_translation_inputs" / source.name  # the input alone, as predict takes it
        single.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(panels[0]).save(single)
        for run_dir in runs:
            ((_, result),) = predict(run_dir, [str(single)], out_dir=single.parent / run_dir.name)
            with Image.open(result["image"]) as output:
                panels.append(np.asarray(output.convert("L")))
        side = 256
        shown = [np.asarray(Image.fromarray(panel).resize((side, side), Image.Resampling.BILINEAR)) for panel in panels]
        rows.append(beside(*[np.repeat(panel[..., np.newaxis], 3, axis=-1) for panel in shown]))
    Image.fromarray(np.concatenate(rows)).save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder with images/ and masks/")
    parser.add_argument("--epochs", type=int, default=200, help="pix2pix's epochs (default 200)")
    parser.add_argument("--image-size", default="128")
    parser.add_argument("--filters", default="32")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where the runs, the JSON and the sheet go")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not (data / "images").is_dir() or not (data / "masks").is_dir():
        raise SystemExit(f"{str(data)!r} has no images/ and masks/; pass --data DIR (the ISBI 2012 membranes)")
    pairs = out / "quality-data" / "isbi_pairs"
    write_pairs(data, pairs)
    # One precision for both runs and the step times: bfloat16 where the CPU
    # has it natively (the probe picked it for pix2pix, 1.5x faster on AMD).
    from kerasdl.cpu import cpu_flags

    precision = "mixed_bfloat16" if "avx512_bf16" in cpu_flags() else "float32"
    settings = {"image_size": args.image_size, "model.filters": args.filters, "seed": args.seed}
    settings["precision"] = precision
    times = step_seconds(pairs, settings)
    baseline_epochs = round(args.epochs * times["pix2pix"] / times["l1_unet"])
    runs = out / "quality-runs"
    result = {"data": str(data), "seed": args.seed, "step_seconds": times, "settings": settings}
    result["pix2pix"] = train("pix2pix", pairs, runs / "pix2pix-isbi", settings, args.epochs)
    result["l1_unet"] = train("l1_unet", pairs, runs / "l1_unet-isbi", settings, baseline_epochs)
    gan, baseline = result["pix2pix"]["test"], result["l1_unet"]["test"]
    low, high = BAR["sharpness"]
    result["met"] = (
        low <= gan["sharpness"] <= high
        and gan["ssim"] >= baseline["ssim"] - BAR["ssim_below_baseline"]
        and result["pix2pix"]["seconds"] <= BAR["minutes"] * 60
    )
    result["cpu"] = _cpu(runs / "pix2pix-isbi")
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_translation.json").write_text(json.dumps(result, indent=2) + "\n")
    contact_sheet(pairs, [runs / "pix2pix-isbi", runs / "l1_unet-isbi"], out / "quality_translation.png")
    print(table(result))


def _cpu(run_dir):
    import yaml

    return yaml.safe_load((run_dir / "config.yaml").read_text())["resolved"]["cpu"]


def table(result):
    """The result as markdown: both models' test figures, then each variant's parity."""
    lines = [
        f"pix2pix vs l1_unet on ISBI labels -> EM, {result['settings']['image_size']} px, seed {result['seed']}, "
        f"{result['cpu']}; bar met: {'yes' if result['met'] else 'no'}",
        "",
        "| model | epochs | minutes (run) | L1 | PSNR | SSIM | sharpness |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("pix2pix", "l1_unet"):
        run, test = result[name], result[name]["test"]
        lines.append(
            f"| {name} | {run['epochs']} | {run['seconds'] / 60:.1f} | {test['l1']:.4f} | {test['psnr']:.2f} dB | "
            f"{test['ssim']:.3f} | {test['sharpness']:.2f} |"
        )
    lines += ["", "| model | variant | PSNR to Keras | test SSIM (Keras) | shipped |", "|---|---|---|---|---|"]
    for name in ("pix2pix", "l1_unet"):
        for variant, parity in result[name]["variants"].items():
            shipped = "no: " + parity["rejected"] if parity.get("rejected") else "yes"
            psnr = f"{parity['psnr_db']:.1f} dB" if "psnr_db" in parity else "-"
            ssim = f"{parity['ssim']:.3f} ({parity['keras_ssim']:.3f})" if "ssim" in parity else "-"
            lines.append(f"| {name} | {variant} | {psnr} | {ssim} | {shipped} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
