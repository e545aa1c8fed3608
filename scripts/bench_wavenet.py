"""WaveNet generation speed: the real-time factor (seconds of compute per
second of audio, one thread) of each way to generate, side by side.

- naive: the full Keras model run on the last receptive field of samples
  for every new sample (what the reference implementations do);
- the Keras step model (`kerasdl.models.wavenet_step`), one sample per call;
- each TFLite variant of the step model through the generation loop that
  `kerasdl predict --generate` runs (`kerasdl.tasks.synthesize_generate`:
  inputs set, invoke, outputs read, a class drawn), LiteRT on one thread.

The model is the `wavenet_speech` preset's (its hyperparameters, 10
conditions, 8 kHz), untrained and seeded: a step costs the same whatever
the weights. Rounds alternate between the generators so machine noise hits
all alike; each figure is the median over `--rounds`. The goal: under 1.0
for the float32 TFLite step model. Results go to bench/wavenet.json and
bench/wavenet.md.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench"
RATE = 8000
STEPS = {"naive": 40, "keras step": 300, "tflite": 4000}
# Before each timing: TensorFlow's worker threads keep spinning a moment
# after the Keras generators' calls, and on two cores they took the TFLite
# loop's (measured: 137 us a sample right after them, against 105 us alone).
PAUSE_SECONDS = 1.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="float32,float16,dynamic,int8")
    args = parser.parse_args()

    from kerasdl.quiet import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from kerasdl.config import make_config
    from kerasdl.cpu import describe_cpu
    from kerasdl.data.dataset import DataInfo
    from kerasdl.models.wavenet import build_wavenet, receptive_field
    from kerasdl.models.wavenet_step import step_model
    from kerasdl.tasks.synthesize_generate import KerasStep, TFLiteStep, generate

    keras.utils.set_random_seed(0)
    params = make_config("wavenet_speech").model_params
    info = DataInfo(
        name="bench", kind="audio", input_shape=(RATE,), class_names=[str(d) for d in range(10)],
        value_range=(-1.0, 1.0), mean=np.zeros(1), variance=np.ones(1), sample_rate=RATE,
    )  # fmt: skip
    model = build_wavenet(info, **params)
    step = step_model(model)
    field = receptive_field(**{k: v for k, v in params.items() if k in ("layers_per_stack", "stacks")})
    generators = {"naive full recompute": Naive(model, field), "Keras step model": KerasStep(step)}
    for variant, flatbuffer in tflite_variants(step, args.variants.split(",")).items():
        generators[f"TFLite {variant}"] = TFLiteStep(flatbuffer, num_threads=1)

    seconds = {name: [] for name in generators}
    for _ in range(args.rounds):
        for name, generator in generators.items():
            steps = STEPS["naive"] if name.startswith("naive") else STEPS["keras step" if "Keras" in name else "tflite"]
            generate(generator, [3], 5)  # warm
            time.sleep(PAUSE_SECONDS)
            began = time.perf_counter()
            generate(generator, [3], steps, seed=1)
            seconds[name].append((time.perf_counter() - began) / steps)
        print(".", end="", flush=True)
    print()
    reference = float(np.median(seconds["TFLite float32"])) if "TFLite float32" in seconds else None
    rows = [
        {
            "generator": name,
            "ms_per_sample": float(np.median(values)) * 1000,
            "real_time_factor": float(np.median(values)) * RATE,
            "times_float32_tflite": float(np.median(values)) / reference if reference else None,
        }
        for name, values in seconds.items()
    ]
    result = {"cpu": describe_cpu(), "model": params, "receptive_field": field, "rounds": args.rounds, "rows": rows}
    OUT.mkdir(exist_ok=True)
    (OUT / "wavenet.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"WaveNet generation at {RATE} Hz, wavenet_speech's model (receptive field {field} samples), one thread, "
        f"{result['cpu']}; medians of {args.rounds} alternating rounds.",
        "",
        "| generator | ms per sample | real-time factor | x float32 TFLite |",
        "|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['times_float32_tflite']:.1f}" if row["times_float32_tflite"] else ""
        lines.append(f"| {row['generator']} | {row['ms_per_sample']:.3f} | {row['real_time_factor']:.2f} | {ratio} |")
    (OUT / "wavenet.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


class Naive:
    """Generation without queues: the full model on the last `field` samples, for each new one."""

    queue_shapes = ()

    def __init__(self, model, field):
        self.model, self.field, self.history = model, field, None

    def __call__(self, samples, conditions, queues):
        from kerasdl.tasks.synthesize_generate import SILENCE

        if self.history is None or not queues:
            self.history = np.full((len(samples), self.field), SILENCE, np.int32)
        self.history = np.concatenate([self.history[:, 1:], samples[:, None]], axis=1)
        probabilities = self.model.predict_on_batch({"samples": self.history, "condition": conditions})
        return np.asarray(probabilities)[:, -1], [np.zeros(0)]


def tflite_variants(step, names):
    """`{variant: flatbuffer}` of the step model; int8 calibrated on a float32 rollout's inputs."""
    from kerasdl.export.tflite import convert_variant
    from kerasdl.tasks.synthesize_export import write_step_saved_model
    from kerasdl.tasks.synthesize_generate import TFLiteStep, draw

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "step"
        write_step_saved_model(step, source)
        float32, _ = convert_variant(source, "float32")
        runner, rng = TFLiteStep(float32, hold_state=False), np.random.default_rng(0)
        queues = [np.zeros((1, *shape), np.float32) for shape in runner.queue_shapes]
        sample, examples = np.array([128], np.int32), []
        for _ in range(300):
            named = {f"queue{i}": queue for i, queue in enumerate(queues)}
            examples.append({"sample": sample, "condition": np.array([3], np.int32)} | named)
            probabilities, queues = runner(sample, np.array([3], np.int32), queues)
            sample = draw(probabilities, 1.0, rng)
        built = {"float32": float32}
        for name in names:
            if name != "float32":
                built[name], _ = convert_variant(source, name, representative=lambda: iter(examples))
        return {name: built[name] for name in names}


if __name__ == "__main__":
    main()
