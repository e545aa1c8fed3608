"""A classifier's mistakes as pictures: the confusion matrix and a grid of
the worst-classified images, drawn with Pillow into RGB arrays.

Pillow, not matplotlib: TensorBoard gets these every few epochs, and a
matplotlib figure took 0.2-0.3 s to draw here (Xeon, 10 classes) against a
few milliseconds for these.
"""

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# White to dark blue, by the share of a true class's examples in a cell.
_LIGHT, _DARK = np.array([247, 251, 255]), np.array([8, 48, 107])
MARGIN = 8


@functools.lru_cache(maxsize=8)
def font(size):
    """Pillow's bundled scalable font at `size` pixels (its bitmap font where Pillow lacks FreeType)."""
    return ImageFont.load_default(size=size)


def confusion_picture(report, title="", max_labelled=40):
    """The confusion matrix of `report` (a `ClassReport`) as an RGB uint8 array.

    Rows are the true classes, columns the predicted ones; a cell's shade is
    its share of the row (so rare classes show as clearly as common ones),
    its number the count. Beyond `max_labelled` classes the names and
    numbers are left out and the shades remain.
    """
    matrix = report.matrix
    classes = len(matrix)
    cell = int(np.clip(480 // max(classes, 1), 6, 56))
    labelled = classes <= max_labelled
    names = [_shortened(name, 14) for name in report.class_names] if labelled else [""] * classes
    text = font(max(9, min(16, cell // 3)))
    name_width = max((_text_size(name, text)[0] for name in names), default=0) + MARGIN
    heading = font(14)
    title = title or "confusion matrix"
    lines = [title, f"rows: true class, columns: predicted; accuracy {report.accuracy:.2%}"]
    top = MARGIN + len(lines) * 18 + MARGIN + (_text_size("0", text)[1] + MARGIN if labelled else 0)
    indexed = labelled and names != [str(index) for index in range(classes)]
    left = MARGIN + name_width + (_text_size(str(classes), text)[0] + MARGIN if indexed else 0)
    width = max(left + classes * cell + MARGIN, max(_text_size(line, heading)[0] for line in lines) + 2 * MARGIN)
    height = top + classes * cell + MARGIN + 18
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    for row, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + row * 18), line, fill="black", font=heading)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    for row in range(classes):
        for column in range(classes):
            x, y = left + column * cell, top + row * cell
            colour = tuple(int(v) for v in _LIGHT + (_DARK - _LIGHT) * shares[row, column])
            draw.rectangle(
                [x, y, x + cell - 1, y + cell - 1], fill=colour, outline=(220, 220, 220) if cell >= 14 else None
            )
            if labelled and matrix[row, column]:
                ink = "white" if shares[row, column] > 0.5 else "black"
                draw.text((x + cell / 2, y + cell / 2), str(matrix[row, column]), fill=ink, font=text, anchor="mm")
        if labelled:
            draw.text((left - MARGIN, top + row * cell + cell / 2), names[row], fill="black", font=text, anchor="rm")
    if labelled:
        for column in range(classes):
            # Column heads by index: names side by side would overlap; the
            # row names say which index is which class.
            draw.text(
                (left + column * cell + cell / 2, top - MARGIN), str(column), fill="black", font=text, anchor="md"
            )
        if indexed:  # the index too, where the names are not it
            for row in range(classes):
                draw.text((MARGIN, top + row * cell + cell / 2), str(row), fill="grey", font=text, anchor="lm")
    draw.text((left, top + classes * cell + 4), "predicted class index", fill="grey", font=font(12))
    return np.asarray(picture)


def mistakes_picture(images, captions, value_range, title="", columns=6, tile=96):
    """Images in a grid, each with its caption lines below, as an RGB uint8 array.

    Args:
        images: `(N, H, W, C)` raw images (C 1 or 3) in `value_range`.
        captions: per image, a list of short lines (true label, prediction).
        value_range: `(low, high)` of the raw values.
        title: a line above the grid.
        columns: tiles a row.
        tile: the side of the square an image is scaled into.
    """
    count = len(images)
    small = font(12)
    caption_lines = max((len(lines) for lines in captions), default=0)
    tile_height = tile + caption_lines * 15 + MARGIN
    columns = max(1, min(columns, count))
    rows = -(-count // columns) if count else 0
    width = max(columns * (tile + MARGIN) + MARGIN, 320)
    top = MARGIN + 20
    picture = Image.new("RGB", (width, top + rows * tile_height + MARGIN), "white")
    draw = ImageDraw.Draw(picture)
    draw.text((MARGIN, MARGIN), title or f"{count} examples", fill="black", font=font(14))
    for index, (image, lines) in enumerate(zip(images, captions, strict=True)):
        x = MARGIN + index % columns * (tile + MARGIN)
        y = top + index // columns * tile_height
        picture.paste(_scaled(image, value_range, tile), (x, y))
        for line_number, line in enumerate(lines):
            draw.text((x, y + tile + 2 + line_number * 15), _shortened(line, 18), fill="black", font=small)
    return np.asarray(picture)


def _scaled(image, value_range, tile):
    low, high = (float(v) for v in value_range)
    values = (np.asarray(image, dtype=np.float32) - low) / max(high - low, 1e-12)
    pixels = (np.clip(values, 0.0, 1.0) * 255).round().astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    elif pixels.shape[-1] != 3:
        pixels = np.repeat(pixels[..., :1], 3, axis=-1)  # other channel counts: the first, in grey
    scale = tile / max(pixels.shape[:2])
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    # Nearest neighbour up (8x8 digits stay crisp), bilinear down (photos).
    scaled = Image.fromarray(pixels).resize(size, Image.NEAREST if scale >= 1 else Image.BILINEAR)
    framed = Image.new("RGB", (tile, tile), (235, 235, 235))
    framed.paste(scaled, ((tile - size[0]) // 2, (tile - size[1]) // 2))
    return framed


def _text_size(text, text_font):
    left, top, right, bottom = text_font.getbbox(text or " ")
    return right - left, bottom - top


def _shortened(text, length):
    text = str(text)
    return text if len(text) <= length else text[: length - 1] + "…"
