"""`plots/` in a run directory, for people who never open TensorBoard: the
training curves (matplotlib, Agg: no display needed) and the test split's
pictures (`Inspection`) as PNG files.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from kerasdl.history import LAST_EPOCH, best_epoch

CURVES_FILE = "training_curves.png"


def write_plots(folder, inspection, history, monitor, fine_tune_start=None):
    """Writes the PNGs into `folder` (made if missing).

    Args:
        folder: where they go (the export's staging copy of `plots/`).
        inspection: the test split's `Inspection`, or None.
        history: `{metric: [value per epoch]}` of the run (`history.csv`).
        monitor: the metric that chose the best epoch, e.g. `val_loss`.
        fine_tune_start: epochs before the fine-tuning phase, if there was one.

    Returns:
        `[(title, file name), ...]` in the order a report shows them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if history.get("loss"):
        training_curves(history, monitor, fine_tune_start).savefig(folder / CURVES_FILE, dpi=100)
        written.append(("Training curves", CURVES_FILE))
    if inspection is not None:
        for name, picture in inspection.pictures.items():
            Image.fromarray(picture).save(folder / f"{name}.png")
            written.append((f"{inspection.split.capitalize()} split: {name.replace('_', ' ')}", f"{name}.png"))
    return written


def training_curves(history, monitor, fine_tune_start=None):
    """A matplotlib `Figure`: loss, and the task's metric(s), train and
    validation by epoch; the best epoch marked, the fine-tuning phase shaded."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    epochs = np.arange(1, len(history["loss"]) + 1)
    measures = ["loss"] + [
        key for key in history if key not in ("loss", "epoch", "learning_rate") and not key.startswith("val_")
    ]
    figure = Figure(figsize=(5.2 * len(measures), 3.8))
    # Fixed margins, not a layout engine: "constrained" made the figure take
    # 0.36 s to save against 0.21 s (Xeon), and the panels are alike.
    figure.subplots_adjust(left=0.6 / (5.2 * len(measures)), right=0.98, bottom=0.13, top=0.92, wspace=0.18)
    axes = figure.subplots(1, len(measures), squeeze=False)[0]
    best = best_epoch(history.get(monitor, history["loss"]), monitor)
    for axis, measure in zip(axes, measures, strict=True):
        axis.plot(epochs, history[measure], label="train", color="tab:blue")
        if history.get(f"val_{measure}"):
            axis.plot(
                epochs[: len(history[f"val_{measure}"])],
                history[f"val_{measure}"],
                label="validation",
                color="tab:orange",
            )
        if fine_tune_start:
            axis.axvspan(fine_tune_start + 0.5, epochs[-1] + 0.5, color="tab:green", alpha=0.12, label="fine-tuning")
        if best:
            kept = f"best epoch ({best}, by {monitor})" if monitor != LAST_EPOCH else f"kept: the last epoch ({best})"
            axis.axvline(best, color="grey", linestyle="--", linewidth=1, label=kept)
        axis.set_xlabel("epoch")
        axis.set_title(measure.replace("_", " "))
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    return figure
