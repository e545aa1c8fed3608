"""What the export adds to a run for inspection, from the Keras model's
test-split outputs it already computes: `plots/`, report.md's pictures and
report.html, the test split in TensorBoard, and the run's HParams session.
"""

from kerasdl.export.report import markdown_report
from kerasdl.export.report_html import html_report
from kerasdl.finetune import PHASE_MARKER
from kerasdl.inspection.plots import write_plots
from kerasdl.tasks import checkpoint_rule


def write_reports(staging, run_dir, card, config, inspection, history):
    """Writes `plots/`, report.md and report.html into `staging`."""
    monitor = checkpoint_rule(config.model, config.monitor)
    plots = write_plots(staging / "plots", inspection, history, monitor, fine_tune_start(run_dir))
    report = markdown_report(card, plots, inspection.texts if inspection is not None else None)
    (staging / "report.md").write_text(report)
    (staging / "report.html").write_text(html_report(report, staging), encoding="utf-8")


def write_tensorboard(run_dir, config, inspection, metrics):
    """The test split's pictures and metrics, and the run's hyperparameters,
    in `run_dir/logs` (after the export's files are in place)."""
    from kerasdl.inspection.summaries import write_hyperparameters, write_test_summaries

    epochs = len(metrics.get("history", {}).get("loss", []))
    write_test_summaries(run_dir / "logs", inspection, metrics["test"], step=max(0, epochs - 1))
    write_hyperparameters(run_dir / "logs", config, trial_id=run_dir.name)


def fine_tune_start(run_dir):
    """Epochs before a transfer run's fine-tuning phase, or None."""
    marker = run_dir / "checkpoints" / PHASE_MARKER
    try:
        return int(marker.read_text())
    except (OSError, ValueError):
        return None
