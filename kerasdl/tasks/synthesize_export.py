"""A WaveNet's export: the full model for Keras, its step model for servers and phones.

What ships besides `model.keras`: the step model (`kerasdl.models.wavenet_step`)
as a SavedModel and TFLite variants, builtin ops only, stateless (the queues
are inputs and outputs). Every variant is checked along a teacher-forced
rollout of test clips against the full Keras model computing in float32:
the distributions it gives after each true sample (`synthesize.parity`).
Files are staged and moved into place as `kerasdl.export.export_run` does.
"""

import functools
import json
import shutil
import time
from pathlib import Path

import numpy as np

from kerasdl import tasks
from kerasdl.errors import RunFailed
from kerasdl.export.card import labels_text
from kerasdl.interrupts import raise_if_interrupted
from kerasdl.stage_line import StageLine

# Teacher-forced steps every variant is compared on (whole test clips until
# at least this many), and steps whose inputs calibrate the int8 variant.
ROLLOUT_STEPS = 4000
CALIBRATION_STEPS = 300


def export_step_model(run_dir, model, dataset, config, metrics, log=print):
    """Writes `model.keras`, the step model's SavedModel and TFLite variants,
    labels, card and report; returns the card (see `kerasdl.export.export_run`)."""
    from kerasdl.export import land, new_staging
    from kerasdl.export.inspection import write_reports, write_tensorboard
    from kerasdl.export.portable import portable_copy
    from kerasdl.models.wavenet_step import step_model
    from kerasdl.versions import library_versions

    run_dir = Path(run_dir)
    staging = new_staging(run_dir)
    task = tasks.get(config.task)
    line = StageLine("export", enabled=bool(config.verbose))
    try:
        line.say("the Keras file and the step model's SavedModel")
        model.save(staging / "model.keras")
        reference = portable_copy(model)  # float32: the served computation
        step = step_model(reference)
        write_step_saved_model(step, staging / "saved_model")
        line.say("the Keras model on whole test clips, the reference")
        rollout = Rollout(reference, dataset)
        variants = {}
        names = config.variant_names()
        for number, name in enumerate(names, start=1):
            raise_if_interrupted()
            line.say(
                f"TFLite step model {name} ({number}/{len(names)}): converting, a {len(rollout.targets)}-step rollout"
            )
            variants[name] = _variant(name, staging, rollout, config, task, log)
        float32_size = variants["float32"]["size_bytes"]
        for entry in variants.values():
            if "size_bytes" in entry:
                entry["size_vs_float32"] = round(entry["size_bytes"] / float32_size, 4)
        raise_if_interrupted()
        line.say("the model card and the report")
        card = step_card(model, step, dataset.info, config, metrics, variants, library_versions())
        (staging / "labels.txt").write_text(labels_text(dataset.info))
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
        write_reports(staging, run_dir, card, config, None, metrics.get("history", {}))
        land(staging, run_dir, variants)
    finally:
        line.close()
        shutil.rmtree(staging, ignore_errors=True)
    write_tensorboard(run_dir, config, None, metrics)
    return card


def write_step_saved_model(step, path):
    """The step model as a SavedModel: `serving_default` takes `sample`,
    `condition` (int32, batch 1) and `queue0`... and returns `next_sample`
    and the updated queues."""
    import keras
    import tensorflow as tf

    from kerasdl.models.wavenet_step import queue_inputs

    specs = [tf.TensorSpec((1,), tf.int32, name="sample"), tf.TensorSpec((1,), tf.int32, name="condition")]
    specs += [tf.TensorSpec((1, *tensor.shape[1:]), tf.float32, name=tensor.name) for tensor in queue_inputs(step)]
    names = [spec.name for spec in specs]
    archive = keras.export.ExportArchive()
    archive.track(step)

    def serve(*inputs):
        return step(dict(zip(names, inputs, strict=True)), training=False)

    archive.add_endpoint(name="serving_default", fn=serve, input_signature=specs)
    archive.write_out(str(path), verbose=False)


class Rollout:
    """Whole test clips, in order, until `ROLLOUT_STEPS` real samples: the
    full Keras model's next-sample distributions after each true sample
    (`expected`), the true next samples (`targets`), and how to replay them
    through a step model."""

    def __init__(self, model, dataset):
        from kerasdl.data.next_sample import clip_classes

        clips, labels = dataset.arrays("test")
        self.clips, expected, targets = [], [], []
        for clip, label in zip(clips, labels, strict=True):
            classes = clip_classes(clip)
            if len(classes) < 2:
                continue
            inputs = {"samples": classes[None, :-1], "condition": np.array([label], np.int32)}
            expected.append(np.asarray(model.predict_on_batch(inputs), np.float32)[0])
            targets.append(classes[1:])
            self.clips.append((classes[:-1], int(label)))
            if sum(len(part) for part in targets) >= ROLLOUT_STEPS:
                break
        if not targets:
            raise RunFailed("no test clip holds two samples of audio: the step model cannot be checked")
        self.expected, self.targets = np.concatenate(expected), np.concatenate(targets)

    def replay(self, step, keep=()):
        """`(distributions, seconds per step, inputs at the steps in keep)`: the rollout through `step`."""
        kept, outputs, position = [], [], 0
        keep = set(keep)
        began = time.perf_counter()
        for classes, label in self.clips:
            queues = [np.zeros((1, *shape), np.float32) for shape in step.queue_shapes]
            condition = np.array([label], np.int32)
            for sample in classes:
                if position in keep:
                    kept.append({"sample": np.array([sample], np.int32), "condition": condition} | _named(queues))
                probabilities, queues = step(np.array([sample], np.int32), condition, queues)
                outputs.append(probabilities[0])
                position += 1
        seconds = (time.perf_counter() - began) / max(position, 1)
        return np.stack(outputs).astype(np.float32), seconds, kept


def _named(queues):
    return {f"queue{index}": queue for index, queue in enumerate(queues)}


def _variant(variant, staging, rollout, config, task, log):
    """Converts, checks and times one step-model variant; writes its file if it ships."""
    from kerasdl.export.tflite import convert_variant, flex_ops
    from kerasdl.export.variants import VARIANT_FILES
    from kerasdl.tasks.synthesize_generate import TFLiteStep

    representative = None
    if variant == "int8":
        float32 = TFLiteStep((staging / VARIANT_FILES["float32"]).read_bytes(), hold_state=False)
        chosen = np.linspace(0, len(rollout.targets) - 1, CALIBRATION_STEPS).astype(int)
        _, _, examples = rollout.replay(float32, keep=chosen)

        def representative():
            yield from examples

    try:
        flatbuffer, ops = convert_variant(
            staging / "saved_model", variant, representative, allow_flex=config.allow_flex
        )
    except RunFailed as error:
        if variant == "float32":
            raise
        log(f"warning: TFLite variant {variant} left out: {error}")
        return {"rejected": str(error)}
    step = TFLiteStep(flatbuffer)
    actual, seconds, _ = rollout.replay(step)
    parity = task.parity(rollout.expected, actual, rollout.targets)
    parity.clips = len(rollout.clips)
    problem = task.parity_problem(variant, parity)
    if problem and variant == "float32":
        raise RunFailed(f"The TFLite step model disagrees with the Keras model: {problem}; nothing was exported")
    rate = config_rate(config)
    measured = parity.as_dict() | {"real_time_factor": seconds * rate, "compared_with": "the full Keras model, float32"}
    if problem:
        log(f"warning: TFLite variant {variant} left out: {problem}")
        return {"rejected": problem, "parity": measured}
    if flex_ops(ops):
        log(f"warning: {variant} uses TensorFlow ops ({', '.join(flex_ops(ops))}); a phone app needs the Flex delegate")
    (staging / VARIANT_FILES[variant]).write_bytes(flatbuffer)
    return {
        "file": VARIANT_FILES[variant],
        "size_bytes": len(flatbuffer),
        "ops": ops,
        "builtins_only": not flex_ops(ops),
        "parity": measured,
        "latency_ms": step_latency(flatbuffer, rollout),
        "xnnpack": True,
    }


def config_rate(config):
    from kerasdl.wav import checked_sample_rate

    return checked_sample_rate(config.sample_rate)


def step_latency(flatbuffer, rollout, threads=(1, 2)):
    """Milliseconds of one step call (inputs set, invoke, outputs read), as the report's latency columns."""
    from kerasdl.export.latency import _time
    from kerasdl.tasks.synthesize_generate import TFLiteStep

    classes, label = rollout.clips[0]
    results = {}
    for count in threads:
        step = TFLiteStep(flatbuffer, num_threads=count)
        sample, condition = classes[:1].astype(np.int32), np.array([label], np.int32)
        step(sample, condition, [np.zeros((1, *shape), np.float32) for shape in step.queue_shapes])
        call = functools.partial(step, sample, condition, step.HELD)  # as a generation loop calls it
        results[f"{count}_thread{'s' if count > 1 else ''}"] = _time(call, 500, 50)
    return results


def step_card(model, step, info, config, metrics, variants, versions):
    """The model card (`kerasdl.export.card.model_card`) of a WaveNet: its
    input is the step model's, and it spells out the generation loop."""
    from kerasdl.export.card import model_card
    from kerasdl.models.wavenet_step import queue_inputs

    task = tasks.get(config.task)
    queues = [[1, *tensor.shape[1:]] for tensor in queue_inputs(step)]
    card = model_card(model, info, config, metrics, variants, versions)
    card["model"]["receptive_field_samples"] = task.receptive_field_of(config)
    card["input"] = {
        "name": "sample",
        "shape": [1],
        "dtype": "int32",
        "value_range": [0, 255],
        "meaning": "the mu-law class of the last sample (128, silence, on the first call)",
        "inputs": [
            {"name": "sample", "shape": [1], "dtype": "int32"},
            {"name": "condition", "shape": [1], "dtype": "int32", "meaning": "index of the label in labels.txt"},
            *({"name": f"queue{i}", "shape": shape, "dtype": "float32"} for i, shape in enumerate(queues)),
        ],
    }
    card["output"]["queues"] = "queue0, queue1, ...: the inputs of the next call"
    card["generation"] = {
        "sample_rate": info.sample_rate,
        "loop": [
            "set every queue to zeros and sample to 128",
            "call the model with sample, the condition and the queues",
            "draw a class c from next_sample (probabilities p; temperature t: p ** (1 / t), renormalised)",
            "the audio sample is mu_law_decode(c); feed c as sample and the returned queues back; repeat",
        ],
        "mu_law_decode": "y = 2 c / 255 - 1; x = sign(y) ((1 + 255) ** |y| - 1) / 255",
    }
    return card
