"""Mosaic augmentation for detection batches: four photos in one.

YOLOv4 introduced it and Ultralytics trains with it by default: four
training photos tiled 2x2, and a window of one photo's size cut from a
random place in the tiling, so one input holds parts of four scenes at
their own scale, objects cut by the edges, and more objects per image than
any one photo. Here it works on letterboxed batches, inside `tf.data`:
each image's partners are the next three of its (shuffled) batch, the
window's corner is uniform over the tiling, and a box keeps its place when
Ultralytics' `box_candidates` would keep it (at least `MIN_AREA_KEPT` of
its area inside, and `MIN_BOX_SIDE` pixels wide and high); at most `rows`
boxes per image are kept, the largest first.

`probability` of the images of a batch are replaced by mosaics; the others
pass unchanged, so the model also sees whole photos as at test time.
"""

from kerasdl.data.boxes import MIN_BOX_SIDE

MIN_AREA_KEPT = 0.1  # Ultralytics' box_candidates area_thr
PARTNERS = 4


def mosaic_batch(images, labels, generator, probability):
    """Mosaics of a batch of letterboxed images and their labels.

    Args:
        images: float32 `(batch, side, side, channels)`.
        labels: float32 `(batch, rows, 5)`: class, x1, y1, x2, y2 in input
            pixels, class -1 for unused rows.
        generator: a `tf.random.Generator`, drawn from in order (seeded runs
            repeat).
        probability: the share of images replaced by a mosaic, 0 to 1.

    Returns:
        `(images, labels)` of the same shapes and dtypes.
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    side, rows = images.shape[1], labels.shape[1]
    tiles = [tf.roll(images, -shift, axis=0) for shift in range(PARTNERS)]
    tiling = tf.concat([tf.concat(tiles[:2], axis=2), tf.concat(tiles[2:], axis=2)], axis=1)
    corners = tf.floor(generator.uniform([batch, 2], 0.0, side + 1.0))  # x, y of the window in the tiling
    windows = tf.concat([corners[:, ::-1], corners[:, ::-1] + side - 1], axis=1) / (2 * side - 1)
    # Exact pixels: a window of whole pixels, sampled at whole-pixel points.
    mosaics = tf.image.crop_and_resize(tiling, windows, tf.range(batch), [side, side], method="nearest")

    quadrants = tf.constant([[0, 0], [1, 0], [0, 1], [1, 1]], tf.float32) * side  # x, y of each tile
    boxes, classes = [], []
    for shift in range(PARTNERS):
        tile = tf.roll(labels, -shift, axis=0)
        shift_xy = quadrants[shift] - corners  # (batch, 2)
        boxes.append(tile[..., 1:] + tf.tile(shift_xy, [1, 2])[:, tf.newaxis, :])
        classes.append(tile[..., 0])
    boxes, classes = tf.concat(boxes, axis=1), tf.concat(classes, axis=1)  # (batch, 4 * rows, ...)
    clipped = tf.clip_by_value(boxes, 0.0, float(side))
    sizes, whole = clipped[..., 2:] - clipped[..., :2], boxes[..., 2:] - boxes[..., :2]
    area, whole_area = sizes[..., 0] * sizes[..., 1], whole[..., 0] * whole[..., 1]
    kept = (classes >= 0) & tf.reduce_all(sizes >= MIN_BOX_SIDE, axis=-1) & (area >= MIN_AREA_KEPT * whole_area)
    # The `rows` largest kept boxes (kept ones rank first), as labels rows.
    _, order = tf.math.top_k(tf.where(kept, area + 1.0, 0.0), k=rows)
    kept = tf.gather(kept, order, batch_dims=1)
    classes = tf.where(kept, tf.gather(classes, order, batch_dims=1), -1.0)
    clipped = tf.where(kept[..., tf.newaxis], tf.gather(clipped, order, batch_dims=1), 0.0)
    mosaic_labels = tf.concat([classes[..., tf.newaxis], clipped], axis=-1)

    chosen = generator.uniform([batch]) < probability
    images = tf.where(chosen[:, tf.newaxis, tf.newaxis, tf.newaxis], mosaics, images)
    labels = tf.where(chosen[:, tf.newaxis, tf.newaxis], mosaic_labels, labels)
    return images, labels
