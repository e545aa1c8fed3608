"""The peak-memory part of `bench_segmentation.py` (`--only memory`).

`--count` (2,000) generated 512x512 grey PNGs with blob masks (seeded,
cached in `bench/seg-data/`), and a folder of 40 of the kind for the peak
that does not depend on the data; each trained with `kerasdl train
unet_segment image_size=128 epochs=1 variants=float32`; the peak resident
set of the command's process, by `/usr/bin/time -v` (without it, getrusage
of the finished command); and the Markdown table with the bar (under 2 GB
with 2,000 images: the folder streams from disk).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MEMORY_BAR_BYTES = 2e9
# The small folder beside the large one: the peak that does not depend on the data.
FLOOR_IMAGES = 40
MIB = 2**20
TIME_TOOL = Path("/usr/bin/time")  # GNU time: -v reports the peak resident set


def blob_example(rng, side):
    """One grey image and its 0/255 mask: a few smooth elliptic blobs (the
    mask: where they stand out) over an uneven background, with noise."""
    axis = np.arange(side, dtype="float32")
    field = np.zeros((side, side), dtype="float32")
    for _ in range(rng.integers(3, 9)):
        centre_y, centre_x = rng.uniform(0, side, 2)
        radius_y, radius_x = rng.uniform(side / 40, side / 10, 2)
        # A Gaussian is separable: the outer product of two 1-D ones.
        along_y = np.exp(-0.5 * ((axis - centre_y) / radius_y) ** 2)
        along_x = np.exp(-0.5 * ((axis - centre_x) / radius_x) ** 2)
        field = np.maximum(field, np.outer(along_y, along_x))
    tilt_y, tilt_x = rng.uniform(-1, 1, 2)
    background = 70 + 25 * (tilt_y * axis[:, None] + tilt_x * axis[None, :]) / side
    image = background + 110 * field + rng.normal(0, 12, (side, side))
    mask = np.where(field > 0.5, 255, 0).astype("uint8")
    return np.clip(image, 0, 255).astype("uint8"), mask


def reuse_or_clear(folder, wanted):
    """True if `folder` holds a complete generated set made with the settings
    `wanted` (its `complete.json`); else it is emptied for a new one."""
    marker = Path(folder) / "complete.json"
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return True
    shutil.rmtree(folder, ignore_errors=True)
    return False


def mark_complete(folder, wanted):
    """Records that `folder` holds the whole set made with `wanted`."""
    (Path(folder) / "complete.json").write_text(json.dumps(wanted) + "\n")


def write_blob_folder(folder, count, side, seed=0):
    """Writes `count` images and masks into `folder/images` and
    `folder/masks` (`0000.png`, ...), unless a complete set with the same
    settings is there already (`folder/complete.json`). Returns `folder`.

    Example:
        >>> write_blob_folder(Path("bench/seg-data/blobs-40x512"), 40, 512)
    """
    from PIL import Image

    folder = Path(folder)
    wanted = {"count": count, "side": side, "seed": seed}
    if reuse_or_clear(folder, wanted):
        return folder
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        image, mask = blob_example(rng, side)
        Image.fromarray(image, mode="L").save(folder / "images" / f"{index:04d}.png")
        Image.fromarray(mask, mode="L").save(folder / "masks" / f"{index:04d}.png")
    mark_complete(folder, wanted)
    return folder


def peak_rss_bytes(command, log, env=None):
    """Runs `command` (with `env`), its output into `log`; returns the peak
    resident set of its process (the largest one, if it starts others) in
    bytes and how that was measured."""
    if TIME_TOOL.exists():
        with Path(log).open("w") as output:
            finished = subprocess.run(
                [str(TIME_TOOL), "-v", *command], stdout=output, stderr=subprocess.STDOUT, env=env
            )
        text = Path(log).read_text()
        if finished.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{text[-3000:]}")
        return max_rss_from_time(text) * 1024, "/usr/bin/time -v"
    # A fresh Python process runs the command, so that its children's peak
    # is this command's alone.
    report = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print('maxrss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
    )
    with Path(log).open("w") as output:
        finished = subprocess.run(
            [sys.executable, "-c", report, *command], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    text = Path(log).read_text()
    if finished.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{text[-3000:]}")
    kib = int(re.findall(r"^maxrss_kib (\d+)$", text, flags=re.MULTILINE)[-1])
    return kib * 1024, "getrusage(RUSAGE_CHILDREN) of the finished command"


def max_rss_from_time(text):
    """KiB from GNU time's `Maximum resident set size (kbytes): N` line."""
    found = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not found:
        raise ValueError("no 'Maximum resident set size' line in the output of /usr/bin/time -v")
    return int(found[-1])


def measure_memory(args, out, kerasdl, machine):
    """Peak RSS of the command on `--count` images, and on `FLOOR_IMAGES` of
    the same kind: what the libraries, the model and the export cost
    whatever the folder's size. Streaming keeps the two close. `kerasdl`: the
    command's path; `machine()`: this machine in words."""
    counts = [args.count] + ([FLOOR_IMAGES] if args.count > FLOOR_IMAGES else [])
    runs = out / "seg-runs"
    runs.mkdir(parents=True, exist_ok=True)
    measured = []
    for count in counts:
        folder = write_blob_folder(out / "seg-data" / f"blobs-{count}x{args.side}", count, args.side)
        run_dir = runs / f"memory-{count}"
        command = [str(kerasdl), "train", "unet_segment", f"data=masks:{folder.resolve()}", "image_size=128"]
        command += ["epochs=1", "variants=float32", f"run_dir={run_dir}", "overwrite=true", "verbose=2"]
        # An empty cache: each run probes bfloat16 (a second model in memory)
        # as a first run on a machine does, rather than the second reading
        # the first one's answer.
        with tempfile.TemporaryDirectory(prefix="kerasdl-bench-cache-") as cache:
            peak, how = peak_rss_bytes(command, f"{run_dir}.log", env=os.environ | {"XDG_CACHE_HOME": cache})
        measured.append({"images": count, "peak_rss_bytes": peak, "command": " ".join(["kerasdl", *command[1:]])})
        print(f"{count} images: peak RSS {peak / MIB:,.0f} MiB ({how})", flush=True)
    return {
        "machine": machine(),
        "side": args.side,
        "runs": measured,
        "measured_by": how,
        "bar_bytes": MEMORY_BAR_BYTES,
        "met": measured[0]["peak_rss_bytes"] < MEMORY_BAR_BYTES,
    }


def memory_markdown(result):
    side, bar = result["side"], result["bar_bytes"]
    main = result["runs"][0]
    lines = [
        f"## Peak memory of U-Net training on {main['images']:,} generated {side}x{side} images; {result['machine']}",
        "",
        f"`{main['command']}`",
        "",
        "| images (grey PNGs, blob masks) | trained at | peak RSS |",
        "|---|---|---|",
    ]
    for run in result["runs"]:
        peak = run["peak_rss_bytes"]
        lines.append(
            f"| {run['images']:,} at {side}x{side} | 128x128, 1 epoch | {peak / MIB:,.0f} MiB ({peak / 1e9:.2f} GB) |"
        )
    lines += ["", f"Measured by {result['measured_by']}: the peak resident set of the command's process."]
    if len(result["runs"]) > 1:
        floor = result["runs"][1]
        growth = (main["peak_rss_bytes"] - floor["peak_rss_bytes"]) / MIB
        lines.append(f"{main['images'] - floor['images']:,} more images cost {growth:+,.0f} MiB of peak.")
    lines += [
        "",
        f"- [{'x' if result['met'] else ' '}] peak RSS under {bar / 1e9:.0f} GB with {main['images']:,} images",
    ]
    return "\n".join(lines) + "\n"
