"""Measures the export quality bar: size, agreement, accuracy and latency per variant.

Trains each preset with its defaults (seeded) into bench/runs/, then reads the
model card that the export wrote: every figure below was measured in this
one run, on this machine, the Keras and LiteRT latencies side by side.
Results go to bench/export.json and bench/export.md.

    .venv/bin/python scripts/bench_export.py [--presets digits_cnn,digits_rnn+fused_lstm=true]

A preset may carry overrides after `+` (`digits_rnn+fused_lstm=true`).
"""

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="digits_cnn,breast_cancer_ann,digits_rnn,digits_rnn+fused_lstm=true")
    args = parser.parse_args()

    from kerasdl.quiet import quiet_tensorflow

    quiet_tensorflow()
    from kerasdl.training import train

    rows = []
    for spec in args.presets.split(","):
        preset, *pairs = spec.split("+")
        overrides = dict(pair.split("=", 1) for pair in pairs)
        run_dir = OUT / "runs" / spec.replace("+", "_").replace("=", "-")
        shutil.rmtree(run_dir, ignore_errors=True)
        settings = {"run_dir": str(run_dir), "verbose": "0"} | overrides
        result = train(preset, settings, log=lambda line: None)
        preset = spec
        card = result.card
        keras_ms = card["keras_latency_ms"]["median_ms"]
        accuracy = result.metrics["test"]["accuracy"]
        for name, entry in card["variants"].items():
            if "rejected" in entry:
                rows.append({"preset": preset, "variant": name, "rejected": entry["rejected"]})
                continue
            latency = entry["latency_ms"]
            rows.append(
                {
                    "preset": preset,
                    "variant": name,
                    "size_kib": entry["size_bytes"] / 1024,
                    "size_vs_float32": entry["size_vs_float32"],
                    "top1_agreement": entry["parity"]["top1_agreement"],
                    "accuracy": entry["parity"]["accuracy"],
                    "accuracy_change_points": (entry["parity"]["accuracy"] - accuracy) * 100,
                    "latency_1_thread_ms": latency["1_thread"]["median_ms"],
                    "latency_2_threads_ms": latency["2_threads"]["median_ms"],
                    "keras_single_example_ms": keras_ms,
                    "keras_over_tflite": keras_ms / latency["1_thread"]["median_ms"],
                    "builtins_only": entry["builtins_only"],
                }
            )
        print(f"{preset}: done (test accuracy {accuracy:.2%})", flush=True)

    machine = f"{os.cpu_count()} cores, {platform.machine()}, {platform.processor() or 'cpu'}"
    OUT.mkdir(exist_ok=True)
    (OUT / "export.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    header = (
        "| preset | variant | size | vs float32 | top-1 agreement | accuracy change | LiteRT 1 thread | "
        "LiteRT 2 threads | Keras one example | Keras / LiteRT | builtins only |"
    )
    lines = [f"Measured on {machine}.", "", header, "|" + "---|" * 11]
    for row in rows:
        if "rejected" in row:
            lines.append(f"| {row['preset']} | {row['variant']} | left out: {row['rejected']} |" + " |" * 8)
            continue
        lines.append(
            f"| {row['preset']} | {row['variant']} | {row['size_kib']:.1f} KiB | {row['size_vs_float32']:.3f}x | "
            f"{row['top1_agreement']:.2%} | {row['accuracy_change_points']:+.2f} pt | "
            f"{row['latency_1_thread_ms'] * 1000:.0f} us | {row['latency_2_threads_ms'] * 1000:.0f} us | "
            f"{row['keras_single_example_ms']:.2f} ms | {row['keras_over_tflite']:.0f}x | "
            f"{'yes' if row['builtins_only'] else 'no'} |"
        )
    table = "\n".join(lines) + "\n"
    (OUT / "export.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
