"""Pictures of segmentation masks: what `kerasdl predict` writes and what
TensorBoard shows for a segmentation model.

NumPy and PIL only, so `predict` can render without loading TensorFlow.
A mask is a uint8 `(H, W)` array of class indices; 255 means "ignore"
(Pascal VOC's convention, as in `kerasdl.data.masks`).
"""

import colorsys

import numpy as np
from PIL import Image

IGNORE_INDEX = 255

# Width in pixels of the grey bars between the panels of `side_by_side`.
SEPARATOR_WIDTH = 2
SEPARATOR_COLOUR = (128, 128, 128)

# Tableau 10 (matplotlib's tab10) without its grey, then the lighter tab20
# partners of the same hues: the scheme most people already read as "one
# colour per category". Grey is left out because it is hard to tell from the
# black background and the white "ignore" in an overlay.
_QUALITATIVE = (
    "1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b e377c2 bcbd22 17becf "
    "aec7e8 ffbb78 98df8a ff9896 c5b0d5 c49c94 f7b6d2 dbdb8d 9edae5"
).split()


def _palette():
    """256 RGB rows: black background, the qualitative scheme, generated
    colours for the remaining classes, white for 255 (ignore)."""
    colours = [(0, 0, 0)]
    colours += [tuple(int(code[i : i + 2], 16) for i in (0, 2, 4)) for code in _QUALITATIVE]
    # Beyond the scheme: hues a golden angle apart (never two close hues in a
    # row), cycling through three saturation/brightness levels so that hues
    # that do come back differ in shade. None is near black or white.
    levels = ((0.85, 0.95), (0.55, 0.80), (0.95, 0.60))
    index = 0
    while len(colours) < IGNORE_INDEX:
        hue = (0.13 + index * 0.618033988749895) % 1.0
        saturation, value = levels[index % len(levels)]
        rgb = tuple(round(channel * 255) for channel in colorsys.hsv_to_rgb(hue, saturation, value))
        if rgb not in colours:
            colours.append(rgb)
        index += 1
    colours.append((255, 255, 255))
    return np.array(colours, dtype=np.uint8)


# PALETTE[class index] is that class's RGB colour; PALETTE[255] (ignore) is white.
PALETTE = _palette()


def colorize(mask):
    """The RGB picture of a class-index mask: each pixel its class's colour.

    Args:
        mask: uint8 `(H, W)` class indices.

    Returns:
        A uint8 `(H, W, 3)` array.

    Example:
        >>> colorize(np.array([[0, 1]], np.uint8)).tolist()
        [[[0, 0, 0], [31, 119, 180]]]
    """
    return PALETTE[_checked_mask(mask)]


def write_mask_png(mask, path):
    """Writes a mask as a palette PNG: the pixel values are the class indices
    (PIL and `np.asarray` read them back as such), the palette makes the file
    viewable in any image viewer.

    Args:
        mask: uint8 `(H, W)` class indices.
        path: where to write the PNG.

    Example:
        >>> write_mask_png(np.array([[0, 1], [2, 255]], np.uint8), "/tmp/mask.png")
        >>> np.asarray(Image.open("/tmp/mask.png")).tolist()
        [[0, 1], [2, 255]]
    """
    image = Image.fromarray(np.ascontiguousarray(_checked_mask(mask)))
    image.putpalette(PALETTE.tobytes())  # "L" becomes "P": same bytes, now read as palette indices
    image.save(path, format="PNG")


def resize_mask(mask, size):
    """A mask resized with nearest-neighbour sampling, so no class index is
    invented at the borders between classes.

    Args:
        mask: uint8 `(H, W)` class indices.
        size: `(width, height)` of the result, PIL's order (the photo's `.size`).

    Returns:
        A uint8 `(height, width)` mask whose values all occur in `mask`.

    Example:
        >>> resize_mask(np.array([[0, 1]], np.uint8), (4, 2)).tolist()
        [[0, 0, 1, 1], [0, 0, 1, 1]]
    """
    mask = _checked_mask(mask)
    if len(size) != 2 or not all(isinstance(side, (int, np.integer)) and side > 0 for side in size):
        raise ValueError(f"size must be (width, height) of positive integers, got {size!r}")
    resized = Image.fromarray(np.ascontiguousarray(mask)).resize(tuple(int(side) for side in size), Image.NEAREST)
    return np.asarray(resized, dtype=np.uint8)


def write_overlay(photo, mask, path, alpha=0.45):
    """Writes the photo with each pixel tinted by its class colour, as an RGB PNG.

    Background (class 0) is left as it is, so the objects stand out.

    Args:
        photo: uint8 `(H, W, 3)`, `(H, W, 1)` or `(H, W)` array at the mask's size.
        mask: uint8 `(H, W)` class indices.
        path: where to write the PNG.
        alpha: how much of the class colour to mix in, 0 to 1 (default 0.45).

    Example:
        >>> photo = np.full((2, 2, 3), 200, np.uint8)
        >>> write_overlay(photo, np.array([[0, 1], [1, 0]], np.uint8), "/tmp/overlay.png")
    """
    Image.fromarray(overlay(photo, mask, alpha)).save(path, format="PNG")


def overlay(photo, mask, alpha=0.45):
    """The picture `write_overlay` writes, as a uint8 `(H, W, 3)` array."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    mask = _checked_mask(mask)
    photo = _rgb(photo, "photo")
    if photo.dtype != np.uint8:
        raise ValueError(f"photo must be uint8, got {photo.dtype}")
    if photo.shape[:2] != mask.shape:
        raise ValueError(
            f"photo is {photo.shape[1]}x{photo.shape[0]} but the mask is {mask.shape[1]}x{mask.shape[0]}; "
            "resize the mask to the photo first (resize_mask)"
        )
    tinted = photo.astype(np.float32) * (1.0 - alpha) + PALETTE[mask].astype(np.float32) * alpha
    result = np.where((mask != 0)[..., np.newaxis], np.rint(tinted), photo)
    return np.clip(result, 0, 255).astype(np.uint8)


def class_shares(mask, class_names):
    """The share of the pixels each class covers, ignored pixels (255) left out.

    Args:
        mask: uint8 `(H, W)` class indices.
        class_names: the names of classes 0, 1, ...

    Returns:
        `{name: share}` for every class, in class order; the shares sum to 1
        (all are 0 when every pixel is ignored).

    Example:
        >>> class_shares(np.array([[0, 1, 1, 255]], np.uint8), ["background", "cat"])
        {'background': 0.3333333333333333, 'cat': 0.6666666666666666}
    """
    mask = _checked_mask(mask)
    counts = np.bincount(mask.ravel(), minlength=256)
    unknown = [index for index in np.flatnonzero(counts) if len(class_names) <= index != IGNORE_INDEX]
    if unknown:
        raise ValueError(
            f"mask has class {unknown[0]} but only {len(class_names)} class names "
            f"(0-{len(class_names) - 1}; {IGNORE_INDEX} means ignore)"
        )
    counted = counts[: len(class_names)].sum()
    return {name: float(counts[index] / counted) if counted else 0.0 for index, name in enumerate(class_names)}


def side_by_side(image, truth, prediction):
    """Input | true mask | predicted mask, as one picture (TensorBoard's samples).

    Args:
        image: `(H, W, 3)`, `(H, W, 1)` or `(H, W)`; uint8 is shown as is,
            anything else (raw floats, normalised values) is stretched from its
            own minimum and maximum to 0-255.
        truth: uint8 `(H, W)` class indices.
        prediction: uint8 `(H, W)` class indices.

    Returns:
        A uint8 `(H, 3 * W + 2 * SEPARATOR_WIDTH, 3)` array, the panels
        separated by thin grey bars.

    Example:
        >>> masks = np.zeros((8, 8), np.uint8)
        >>> side_by_side(np.zeros((8, 8, 1), np.float32), masks, masks).shape
        (8, 28, 3)
    """
    image = _rgb(image, "image")
    if image.dtype != np.uint8:
        image = _stretched(image)
    panels = [image, colorize(truth), colorize(prediction)]
    for name, panel in zip(("truth", "prediction"), panels[1:], strict=True):
        if panel.shape[:2] != image.shape[:2]:
            raise ValueError(
                f"{name} is {panel.shape[1]}x{panel.shape[0]} but the image is {image.shape[1]}x{image.shape[0]}"
            )
    separator = np.empty((image.shape[0], SEPARATOR_WIDTH, 3), np.uint8)
    separator[...] = SEPARATOR_COLOUR
    return np.concatenate([panels[0], separator, panels[1], separator, panels[2]], axis=1)


def _checked_mask(mask):
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (height, width) class indices, got shape {mask.shape}")
    if mask.dtype != np.uint8:
        if not np.issubdtype(mask.dtype, np.integer):
            raise ValueError(f"mask must hold integer class indices, got dtype {mask.dtype}")
        if mask.size and (mask.min() < 0 or mask.max() > 255):
            raise ValueError(f"mask values must be 0-255, got {mask.min()} to {mask.max()}")
        mask = mask.astype(np.uint8)
    return mask


def _rgb(picture, name):
    """`(H, W, 3)` from an RGB, one-channel or 2-D picture."""
    picture = np.asarray(picture)
    if picture.ndim == 2:
        picture = picture[..., np.newaxis]
    if picture.ndim != 3 or picture.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be (height, width, 3 or 1), got shape {picture.shape}")
    return np.repeat(picture, 3, axis=-1) if picture.shape[-1] == 1 else picture


def _stretched(picture):
    """Values scaled from their own min/max to 0-255 (a flat picture keeps its value)."""
    picture = picture.astype(np.float32)
    low, high = float(picture.min()), float(picture.max())
    if high > low:
        picture = (picture - low) * (255.0 / (high - low))
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)
