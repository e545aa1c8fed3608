"""Image sizes and channels read from file headers, without decoding pixels.

A file source must know its images' channels (grey or colour) and largest
side before training, and which files are not images at all. Reading only
the headers (PIL opens a file lazily) costs a small read per file, so the
pixels are decoded once, by the input pipeline; a file that passes here but
fails to decode there (a truncated download) is skipped and counted by the
pipeline (`kerasdl.data.streaming`).
"""

import concurrent.futures

from kerasdl.data.dataset import usable_threads

# Channels TensorFlow's decoders give each PIL mode: a palette image
# decodes to its colours, a CMYK JPEG to 4 channels.
MODE_CHANNELS = {"1": 1, "L": 1, "I": 1, "I;16": 1, "F": 1, "LA": 2, "La": 2, "P": 3, "PA": 4, "RGB": 3}

# Files are read by this many threads: each waits on the disk, not the CPU.
HEADER_THREADS = 16


def image_headers(paths):
    """`(height, width, channels)` of each image, by index, from its header;
    and the indices of the files that are not readable images.

    Example:
        >>> shapes, unreadable = image_headers(["a.png", "notes.png"])
        >>> shapes, unreadable
        ({0: (28, 28, 1)}, [1])
    """
    from PIL import Image

    def header(path):
        try:
            with Image.open(path) as image:
                width, height = image.size
                return height, width, MODE_CHANNELS.get(image.mode, 4 if "A" in image.mode else 3)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None

    with concurrent.futures.ThreadPoolExecutor(max(HEADER_THREADS, usable_threads())) as pool:
        found = list(pool.map(header, [str(path) for path in paths], chunksize=64))
    shapes = {index: shape for index, shape in enumerate(found) if shape is not None}
    return shapes, [index for index, shape in enumerate(found) if shape is None]
