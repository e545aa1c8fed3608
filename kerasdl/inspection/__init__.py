"""Inspection: what a run shows of how it went and what it got wrong.

- `classes`: a classifier's confusion matrix, per-class precision, recall and
  F1, and its most confident mistakes (NumPy, scikit-learn);
- `pictures`: those as images (Pillow: cheap enough for every few epochs);
- `views`: one split as an `Inspection` (pictures and Markdown texts), the
  form every task hands to TensorBoard, `plots/` and the report;
- `summaries`: TensorBoard (the validation split every `inspect_every`
  epochs, the test split at the end, the HParams session);
- `plots`: `plots/` in the run directory (matplotlib training curves and the
  test split's pictures);
- what the export writes of them: `kerasdl.export.inspection`.
"""
