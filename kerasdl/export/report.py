"""The per-variant table: printed by `kerasdl export`, written to report.md.
The parity columns are the task's (`kerasdl.tasks`)."""

from kerasdl import tasks

PARITY_METHOD = (
    "Every variant was run with the LiteRT interpreter on the whole test split and compared with the "
    "Keras model computing in float32; latency is one example per call."
)


def columns(task):
    return (
        "variant",
        "file",
        "size",
        "vs float32",
        *task.PARITY_COLUMNS,
        "ms, 1 thread (median/p90)",
        "ms, 2 threads",
        "builtins only",
    )


def variant_rows(card):
    """One row of strings per variant, in `columns(task)` order."""
    task = tasks.for_card(card)
    width = len(columns(task))
    rows = []
    for name, entry in card["variants"].items():
        parity = entry.get("parity")
        if "rejected" in entry:
            cells = task.parity_cells(parity) if parity else []
            rows.append([name, "left out: " + entry["rejected"], "", "", *cells] + [""] * (width - 4 - len(cells)))
            continue
        latency = entry["latency_ms"]
        rows.append(
            [
                name,
                entry["file"],
                f"{entry['size_bytes'] / 1024:.1f} KiB",
                f"{entry.get('size_vs_float32', 1.0):.3f}x",
                *task.parity_cells(parity),
                f"{latency['1_thread']['median_ms']:.3f}/{latency['1_thread']['p90_ms']:.3f}",
                f"{latency['2_threads']['median_ms']:.3f}/{latency['2_threads']['p90_ms']:.3f}",
                "yes" if entry["builtins_only"] else "no (Flex)",
            ]
        )
    return rows


def text_table(card):
    """The table as aligned plain text for the terminal."""
    rows = [list(columns(tasks.for_card(card)))] + variant_rows(card)
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    keras = card.get("keras_latency_ms")
    if keras:
        lines.append(f"Keras model(x, training=False) on one example: {keras['median_ms']:.3f} ms median")
    return "\n".join(lines)


def held_out_examples(card):
    """The test examples the card's test metrics count: the task's own
    count (a WaveNet's samples), else the test split's, else (a card from
    before the split was counted) the parity's."""
    test = card["metrics"]["test"]
    parity_examples = card["variants"]["float32"]["parity"]["examples"]
    return test.get("test_examples", card["metrics"].get("test_examples", parity_examples))


def markdown_report(card, plots=(), texts=None):
    """report.md: what was exported and how well each variant matches Keras,
    then the run's pictures.

    Args:
        card: the model card.
        plots: `[(title, file name in plots/), ...]` (`write_plots`).
        texts: `{name: Markdown}` of the test split's inspection (a
            classifier's per-class table, its worst mistakes as text).
    """
    test = card["metrics"]["test"]
    parity_examples = card["variants"]["float32"]["parity"]["examples"]
    held_out = held_out_examples(card)
    task = tasks.for_card(card)
    heading = columns(task)
    lines = [
        f"# {card['name']}: export report",
        "",
        f"Keras model: test {' '.join(task.headline(test))} on {held_out} held-out examples; "
        f"input `{card['input']['name']}` {card['input']['shape']} {card['input'].get('dtype', 'float32')} in "
        f"{card['input']['value_range']}.",
        getattr(task, "PARITY_METHOD", PARITY_METHOD),
        "",
        "| " + " | ".join(heading) + " |",
        "|" + "---|" * len(heading),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in variant_rows(card)]
    keras = card.get("keras_latency_ms")
    if keras:
        lines += [
            "",
            f"Keras `model(x, training=False)` on one example: {keras['median_ms']:.3f} ms median, "
            f"{keras['p90_ms']:.3f} ms p90.",
        ]
    for entry in card["variants"].values():
        if entry.get("input", {}).get("preprocessing") == "standardise":
            lines += [
                "",
                f"`{entry['file']}` takes standardised features: (x - mean) / sqrt(variance) with the "
                "mean and variance in `model_card.json` (`input.normalisation_inside_model`).",
            ]
        if "quantization" in entry.get("input", {}):
            quant = entry["input"]["quantization"]
            lines += [
                "",
                f"`{entry['file']}` takes {entry['input']['dtype']}: q = round(x / {quant['scale']:.6g}) + "
                f"{quant['zero_point']}.",
            ]
    if "test_examples" in card["metrics"] and parity_examples < held_out:
        lines += [
            "",
            f"The variants were checked, and the test views below drawn, on {parity_examples:,} of the "
            f"{held_out:,} test examples, a seeded sample (`kerasdl/export/parity_sample.py`).",
        ]
    lines += pictures_section(plots, texts or {})
    versions = ", ".join(f"{name} {version}" for name, version in card["versions"].items())
    lines += ["", f"Produced with {versions}.", ""]
    return "\n".join(lines)


def pictures_section(plots, texts):
    """The report's part after the table: each picture of `plots/` under its
    title, then the inspection's texts."""
    lines = []
    for title, name in plots:
        lines += ["", f"## {title}", "", f"![{title}](plots/{name})"]
    for name, text in texts.items():
        lines += ["", f"## Test split: {name.replace('_', ' ')}", "", text]
    return lines
