"""Builds the bundled `nuclei` segmentation set from the stardist wheel.

The stardist 0.9.2 wheel ships one real 512x512 fluorescence image of cell
nuclei from the 2018 Data Science Bowl (`stardist/data/images/img2d.tif`)
and its instance label mask (`mask2d.tif`). This script turns them into
`kerasdl/data/nuclei/`, the folder `load_dataset("nuclei")` reads:

- the image, 16-bit TIFF, becomes 8-bit grey by a percentile stretch: the
  1st percentile maps to 0, the 99.8th to 255, values beyond are clipped
  (the usual normalisation for fluorescence: a few saturated pixels do not
  set the scale);
- the instance labels become nucleus (label > 0) vs background: 1 and 0;
- both are cut into 64 non-overlapping 64x64 tiles, `tile_NN.png` with
  NN = row * 8 + column of the 8x8 grid;
- each tile's nuclei become boxes for detection (`data=nuclei_boxes`):
  `labels/tile_NN.txt` in the Ultralytics YOLO layout (class 0, centre,
  width, height, normalised), one line a nucleus: the bounding box of its
  pixels inside the tile. A nucleus the tile edge cuts keeps its box when
  the part inside is at least `MIN_VISIBLE_AREA` of its whole box's area
  and `MIN_VISIBLE_SIDE` pixels wide and high, the rule Ultralytics applies
  to boxes its crops cut (`box_candidates`: area ratio 0.1, sides 2 px);
  `data.yaml` names the class.

Only PIL and numpy are needed (PIL reads these uncompressed 16-bit TIFFs
exactly as tifffile does). Rerun with the wheel or its extracted folder:

    pip download --no-deps stardist==0.9.2 -d /tmp/stardist
    .venv/bin/python scripts/make_nuclei_tiles.py /tmp/stardist/stardist-0.9.2-*.whl
"""

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "kerasdl" / "data" / "nuclei"
MEMBERS = {"image": "stardist/data/images/img2d.tif", "mask": "stardist/data/images/mask2d.tif"}
SIDE = 512
TILE = 64
LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.8
CLASS_NAMES = ("background", "nucleus")
MIN_VISIBLE_AREA, MIN_VISIBLE_SIDE = 0.1, 2


def read_sources(source):
    """The raw bytes of img2d.tif and mask2d.tif from a wheel or a folder."""
    source = Path(source)
    if source.is_file() and source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            return {name: wheel.read(member) for name, member in MEMBERS.items()}
    if source.is_dir():
        found = {}
        for name, member in MEMBERS.items():
            # The folder the wheel was unzipped into, or any folder above or below `stardist/`.
            candidates = [source / member, *sorted(source.rglob(Path(member).name))]
            path = next((candidate for candidate in candidates if candidate.is_file()), None)
            if path is None:
                sys.exit(
                    f"No {Path(member).name} under {str(source)!r}; pass the stardist wheel or its unzipped folder"
                )
            found[name] = path.read_bytes()
        return found
    sys.exit(f"Source {str(source)!r} is neither a .whl file nor a folder; pass the stardist 0.9.2 wheel")


def decode(data, name):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image)
    if array.shape != (SIDE, SIDE):
        sys.exit(f"{name} is {array.shape}, expected ({SIDE}, {SIDE}); is this stardist 0.9.2?")
    return array


def to_grey(image):
    """Percentile stretch of a 16-bit (or float) image to 0-255 uint8."""
    low, high = np.percentile(image, [LOW_PERCENTILE, HIGH_PERCENTILE])
    scaled = (image.astype("float64") - low) / max(high - low, 1e-12)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype("uint8"), (low, high)


def write_tiles(grey, labels, output):
    from PIL import Image

    binary = (labels > 0).astype("uint8")
    per_side = SIDE // TILE
    for folder in ("images", "masks", "labels"):
        (output / folder).mkdir(parents=True, exist_ok=True)
        for stale in (output / folder).glob("tile_*.*"):
            stale.unlink()
    nuclei_share = []
    for row in range(per_side):
        for column in range(per_side):
            index = row * per_side + column
            window = np.s_[row * TILE : (row + 1) * TILE, column * TILE : (column + 1) * TILE]
            Image.fromarray(grey[window]).save(output / "images" / f"tile_{index:02d}.png", optimize=True)
            Image.fromarray(binary[window]).save(output / "masks" / f"tile_{index:02d}.png", optimize=True)
            nuclei_share.append(binary[window].mean())
            lines = [yolo_line(box) for box in tile_boxes(labels, window)]
            (output / "labels" / f"tile_{index:02d}.txt").write_text("".join(lines))
    (output / "classes.txt").write_text("".join(f"{name}\n" for name in CLASS_NAMES))
    (output / "data.yaml").write_text(
        "# boxes of the nuclei (data=nuclei_boxes); classes.txt names the mask classes\nnames: [nucleus]\n"
    )
    return np.asarray(nuclei_share)


def instance_boxes(labels):
    """`{instance: (x1, y1, x2, y2)}`, each instance's pixels' bounding box (x2, y2 exclusive)."""
    boxes = {}
    for instance in np.unique(labels[labels > 0]):
        ys, xs = np.nonzero(labels == instance)
        boxes[int(instance)] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return boxes


def tile_boxes(labels, window):
    """The boxes of the nuclei in one tile, in tile pixels, cut ones kept by
    Ultralytics' rule (see the module docstring)."""
    whole = instance_boxes(labels)
    rows, columns = window
    kept = []
    for instance, (x1, y1, x2, y2) in instance_boxes(labels[window]).items():
        left, top, right, bottom = whole[instance]
        full = (right - left) * (bottom - top)
        ox, oy = columns.start, rows.start
        cut = left < ox or top < oy or right > ox + TILE or bottom > oy + TILE
        width, height = x2 - x1, y2 - y1
        if not cut or (width * height >= MIN_VISIBLE_AREA * full and min(width, height) >= MIN_VISIBLE_SIDE):
            kept.append((x1, y1, x2, y2))
    return kept


def yolo_line(box):
    x1, y1, x2, y2 = box
    return f"0 {(x1 + x2) / 2 / TILE:.6f} {(y1 + y2) / 2 / TILE:.6f} {(x2 - x1) / TILE:.6f} {(y2 - y1) / TILE:.6f}\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the stardist 0.9.2 wheel, or the folder it was unzipped into")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT.relative_to(ROOT)}")
    arguments = parser.parse_args()

    sources = read_sources(arguments.source)
    for name, data in sources.items():
        print(f"{Path(MEMBERS[name]).name}: sha256 {hashlib.sha256(data).hexdigest()}")
    image, labels = decode(sources["image"], "img2d.tif"), decode(sources["mask"], "mask2d.tif")
    grey, (low, high) = to_grey(image)
    print(
        f"image {image.dtype} {image.min()}-{image.max()}; stretched {low:g} (p{LOW_PERCENTILE:g}) .. "
        f"{high:g} (p{HIGH_PERCENTILE:g}) to 0..255"
    )
    print(f"mask: {len(np.unique(labels)) - 1} nuclei, {np.mean(labels > 0):.1%} of pixels")
    shares = write_tiles(grey, labels, arguments.output)
    size = sum(path.stat().st_size for path in arguments.output.rglob("*") if path.is_file())
    print(
        f"{len(shares)} tiles of {TILE}x{TILE} in {arguments.output}; nucleus share per tile "
        f"{shares.min():.0%}-{shares.max():.0%}, {np.sum(shares == 0)} without nuclei; folder {size / 1024:.0f} KiB"
    )
    boxes = [
        len((arguments.output / "labels" / f"tile_{index:02d}.txt").read_text().splitlines())
        for index in range(len(shares))
    ]
    print(f"{sum(boxes)} nucleus boxes in labels/ ({min(boxes)}-{max(boxes)} a tile)")


if __name__ == "__main__":
    main()
