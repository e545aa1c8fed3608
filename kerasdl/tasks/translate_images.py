"""Pictures of a translation model: what `kerasdl predict` writes and what
TensorBoard and the report show.

NumPy and PIL only, so `predict` can render without loading TensorFlow.
Inputs are raw pixels (uint8, or floats 0-255 as the model takes them);
targets and outputs are floats in [0, 1].
"""

from pathlib import Path

import numpy as np
from PIL import Image

from kerasdl.tasks.mask_images import SEPARATOR_COLOUR, SEPARATOR_WIDTH

# Row height of a contact sheet: large enough to judge texture, small enough
# that a sheet of a dozen inputs stays a few megabytes.
SHEET_ROW_HEIGHT = 256


def to_uint8(image, scale):
    """`(H, W, C)` or `(H, W)` values times `scale` as uint8 RGB `(H, W, 3)`."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., np.newaxis]
    pixels = np.clip(np.rint(image * scale), 0, 255).astype(np.uint8)
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


def beside(*panels):
    """Panels of the same height side by side, with thin grey bars between."""
    separator = np.empty((panels[0].shape[0], SEPARATOR_WIDTH, 3), np.uint8)
    separator[...] = SEPARATOR_COLOUR
    parts = [panels[0]]
    for panel in panels[1:]:
        parts += [separator, panel]
    return np.concatenate(parts, axis=1)


def triple(inputs, target, output):
    """Input (raw 0-255) | target | output (both 0-1), as one uint8 RGB picture.

    Example:
        >>> triple(np.zeros((8, 8, 1)), np.zeros((8, 8, 3)), np.ones((8, 8, 3))).shape
        (8, 28, 3)
    """
    return beside(to_uint8(inputs, 1.0), to_uint8(target, 255.0), to_uint8(output, 255.0))


def write_outputs(outputs, sources, out_dir=None):
    """Writes each output as `NAME.out.png`, at its photo's size when the
    input is an image file. Returns, per input, the path written, its size
    and the two pictures (uint8 RGB) for a contact sheet."""
    results = []
    for output, source in zip(outputs, sources, strict=True):
        path = Path(source)
        folder = Path(out_dir) if out_dir else (path.parent if path.is_file() else Path("."))
        folder.mkdir(parents=True, exist_ok=True)
        stem = path.stem if path.is_file() else "".join(c if c.isalnum() else "_" for c in str(source))
        picture = Image.fromarray(to_uint8(output, 255.0))
        if np.asarray(output).shape[-1] == 1:
            picture = picture.convert("L")
        photo = None
        if path.is_file():
            with Image.open(path) as opened:
                photo = np.asarray(opened.convert("RGB"))
            picture = picture.resize((photo.shape[1], photo.shape[0]), Image.Resampling.BILINEAR)
        target = folder / f"{stem}.out.png"
        picture.save(target)
        shown = np.asarray(picture.convert("RGB"))
        results.append({"image": str(target), "size": picture.size, "input": photo, "output": shown})
    return results


def write_contact_sheet(inputs, outputs, path):
    """One row per input, input | output, each scaled to `SHEET_ROW_HEIGHT`
    rows; inputs that are not pictures (a `.npy`) show as grey panels."""
    rows = []
    for photo, output in zip(inputs, outputs, strict=True):
        photo = photo if photo is not None else np.full_like(output, 128)
        rows.append(beside(_row_height(photo), _row_height(output)))
        rows.append(np.full((SEPARATOR_WIDTH, rows[-1].shape[1], 3), 255, np.uint8))
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows[:-1]]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(padded)).save(path)


def _row_height(picture):
    height, width = picture.shape[:2]
    size = (max(1, round(width * SHEET_ROW_HEIGHT / height)), SHEET_ROW_HEIGHT)
    return np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BILINEAR))
