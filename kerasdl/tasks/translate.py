"""Image-to-image translation: a label is an image; the model outputs an image (Pix2Pix).

Answers the questions every task answers (see `kerasdl.tasks.classify`).
A pair is an input image (raw 0-255 pixels, as every image model here
takes them) and a target image in [0, 1]; the model's output is an image in
[0, 1] of the target's shape. Scores are averaged over the test images:
L1, PSNR and SSIM as `tf.image` computes them, and the sharpness ratio
(`translate_metrics`). `model=pix2pix` trains a conditional GAN
(`kerasdl.models.pix2pix_gan`); `model=l1_unet`, the same generator with L1
alone, is the baseline its figures are compared with.
"""

import dataclasses

import numpy as np

MODEL_FAMILIES = ("pix2pix", "l1_unet")
OUTPUT = "image"
TEST_METRIC = "ssim"  # the test metric that sums a run up (`kerasdl runs`, HParams)
LOSSES = ("l1",)  # pix2pix adds its adversarial loss (`pix2pix_gan`)
DATA_SPECS = ("pairs:", "colorize")
# A GAN's best checkpoint is its last epoch, as the paper and its
# implementations keep the generator training ended with: its validation
# loss includes the adversarial term, measured by a discriminator that
# changes every epoch, so it ranks no two epochs. The baseline keeps its
# lowest val_loss. (`tasks.checkpoint_rule`)
LAST_EPOCH_MODELS = ("pix2pix",)
# The paper's Adam: beta_1 0.5 instead of 0.9, for the generator and the
# discriminator alike (and for the L1 baseline, trained the same way).
ADAM_BETA_1 = 0.5

# The bars for a TFLite variant, as PSNR of its output against the Keras
# model's on the test inputs (both in [0, 1]). float32 only reorders
# arithmetic: 50 dB is an RMS difference of 0.3% of the range, under one
# grey level of 256. A quantized variant ships at 30 dB (RMS under 3.2%,
# about 8 grey levels), and only if its SSIM to the targets is within 0.02
# of the Keras model's: the picture must not get worse where it counts.
MIN_PSNR_DB = {"float32": 50.0, "float16": 30.0, "dynamic": 30.0, "int8": 30.0}
MAX_SSIM_LOSS = 0.02


def compile_arguments(config, model):
    """L1 for the baseline (the GAN model computes its own losses); PSNR,
    SSIM, sharpness and, for the baseline, L1 as a metric named like the
    GAN's tracker, so both runs log the same scalars."""
    import keras

    from kerasdl.tasks.translate_metrics import image_metrics

    if hasattr(model, "discriminator"):
        return {"metrics": image_metrics()}
    return {
        "loss": keras.losses.MeanAbsoluteError(),
        "metrics": [keras.metrics.MeanAbsoluteError(name="l1"), *image_metrics()],
    }


def keras_objects():
    """The metrics and model class a saved translation model names."""
    from kerasdl.models.pix2pix_gan import Pix2Pix
    from kerasdl.tasks.translate_metrics import PSNR, SSIM, Sharpness

    return {"kerasdl>PSNR": PSNR, "kerasdl>SSIM": SSIM, "kerasdl>Sharpness": Sharpness, "kerasdl>Pix2Pix": Pix2Pix}


def exported_model(model):
    """What is exported: the generator alone (a phone has no use for the discriminator)."""
    return getattr(model, "generator", model)


def score(model, batches, info):
    """L1, PSNR, SSIM (means over the test images) and the sharpness ratio."""
    from kerasdl.tasks.translate_metrics import image_scores

    generator = exported_model(model)
    targets, outputs = [], []
    for inputs, truth in batches:
        # NumPy: JAX's compiled predict step takes no TensorFlow tensors.
        outputs.append(np.asarray(generator.predict_on_batch(np.asarray(inputs)), dtype=np.float32))
        targets.append(np.asarray(truth, dtype=np.float32))
    return image_scores(np.concatenate(targets), np.concatenate(outputs))


@dataclasses.dataclass
class Parity:
    """How closely a TFLite model's images match the Keras model's on the test split."""

    examples: int
    psnr_db: float  # of all TFLite outputs against the Keras outputs: 10 log10(1 / MSE)
    worst_psnr_db: float  # of the image that differs most
    max_abs_diff: float
    ssim: float  # of the TFLite outputs to the targets
    keras_ssim: float

    def as_dict(self):
        return dataclasses.asdict(self)


def parity(expected, actual, labels):
    """Compares TFLite images `actual` with the Keras ones `expected`, and both with the targets `labels`."""
    from kerasdl.tasks.translate_metrics import MIN_MSE, image_scores

    errors = np.mean(np.square(expected.astype(np.float64) - actual), axis=(1, 2, 3))
    return Parity(
        examples=len(expected),
        psnr_db=_db(max(float(errors.mean()), MIN_MSE)),
        worst_psnr_db=_db(max(float(errors.max()), MIN_MSE)),
        max_abs_diff=float(np.max(np.abs(expected - actual))),
        ssim=image_scores(labels, actual)["ssim"],
        keras_ssim=image_scores(labels, expected)["ssim"],
    )


def _db(mse):
    return float(10 * np.log10(1.0 / mse))


def parity_problem(variant, parity):
    """Why `parity` is not good enough for `variant`, or None if it is."""
    needed = MIN_PSNR_DB[variant]
    if parity.psnr_db < needed:
        return f"its images are {parity.psnr_db:.1f} dB PSNR from the Keras model's, below {needed:g} dB"
    lost = parity.keras_ssim - parity.ssim
    if variant != "float32" and lost > MAX_SSIM_LOSS:
        return f"its SSIM to the targets, {parity.ssim:.3f}, is {lost:.3f} below the Keras model's"
    return None


PARITY_COLUMNS = ("PSNR to Keras", "worst image", "max abs diff", "test SSIM (change)")


def parity_cells(parity):
    """A variant's parity (a card's dict) as the report's cells, in `PARITY_COLUMNS` order."""
    change = parity["ssim"] - parity["keras_ssim"]
    return [
        f"{parity['psnr_db']:.1f} dB",
        f"{parity['worst_psnr_db']:.1f} dB",
        f"{parity['max_abs_diff']:.2g}",
        f"{parity['ssim']:.3f} ({change:+.4f})",
    ]


def agreement(parity):
    return f"its images are {parity['psnr_db']:.1f} dB PSNR from the Keras model's on the test inputs"


def headline(test):
    nan = float("nan")
    return "SSIM", (
        f"{test.get('ssim', nan):.3f} (PSNR {test.get('psnr', nan):.2f} dB, L1 {test.get('l1', nan):.4f}, "
        f"sharpness {test.get('sharpness', nan):.2f})"
    )


def description(info):
    return "image-to-image translation"


def card_output(info):
    height, width, channels = info.target_shape
    kind = "grey" if channels == 1 else "RGB"
    return {
        "name": OUTPUT,
        "shape": [1, height, width, channels],
        "dtype": "float32",
        "range": [0.0, 1.0],
        "layout": f"batch, {height} rows, {width} columns, {channels} channel{'s' if channels > 1 else ''} ({kind})",
        "meaning": (
            "the translated image, values in [0, 1]: multiply by 255 and round for 8-bit pixels; resize it to "
            "the photo's size if that differs. The SavedModel's serve_raw signature does both: uint8 image of "
            "any size in, uint8 image of the same size out"
        ),
    }


def serving_outputs(images):
    return {OUTPUT: images}


def serve_raw_outputs(images, photos):
    """`serve_raw`'s output: the image as uint8 at the photo's own size
    (bilinear), the channels the model makes. TensorFlow ops: this wrapper
    exists only in the exported graph."""
    import tensorflow as tf

    resized = tf.image.resize(images, tf.shape(photos)[1:3], method="bilinear")
    return {OUTPUT: tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 1.0) * 255.0), tf.uint8)}


# Validation pairs shown in TensorBoard each epoch, and test pairs in the
# sample sheet: enough to see what the model gets wrong, few enough that
# the summaries stay small; four also show whether outputs vary at all.
SAMPLE_IMAGES = 4


def sample_callbacks(log_dir, dataset, config):
    """Each epoch: fixed validation triples input | target | output, and the collapse guard."""
    from kerasdl.tasks.translate_samples import TranslationSamples

    inputs, targets = dataset.sample("validation", SAMPLE_IMAGES)
    return [TranslationSamples(log_dir, inputs, targets)]


def test_view(info, features, labels, outputs):
    """The sample sheet: the first few test pairs as input | target | output, one under another."""
    from kerasdl.inspection.views import Inspection
    from kerasdl.tasks.translate_images import triple

    rows = []
    for inputs, target, output in list(zip(features, labels, outputs, strict=True))[:SAMPLE_IMAGES]:
        rows += [triple(inputs, target, output)]
        rows += [np.full((4, rows[-1].shape[1], 3), 255, np.uint8)]  # a white gap between examples
    return Inspection("test", {"samples": np.concatenate(rows[:-1])}, {}) if rows else None


# `predict --grid`: a contact sheet of these panels, one row per input.
CONTACT_SHEET = ("input", "output")


def render(outputs, card, top=3, sources=(), out_dir=None, grid=None):
    """Per input, writes `NAME.out.png` (the output at the input photo's
    own size) into `out_dir` (default: beside the photo; the current folder
    for other inputs); with `grid`, also a contact sheet there, one row per
    input: input | output. Returns `{"image", "size"}` each. `top` is a
    classifier's and unused."""
    from kerasdl.tasks.translate_images import write_contact_sheet, write_outputs

    results = write_outputs(outputs, sources, out_dir)
    if grid:
        write_contact_sheet([result["input"] for result in results], [r["output"] for r in results], grid)
    return [{"image": result["image"], "size": result["size"], "grid": grid} for result in results]


def format_prediction(result):
    width, height = result["size"]
    sheet = f"; contact sheet {result['grid']}" if result.get("grid") else ""
    return f"wrote {result['image']} ({width}x{height}){sheet}"
