"""Where one epoch of the speed preset goes on this CPU, i.e. what bounds "99% in one epoch in 3 s" here: the input
pipeline alone, Keras's one-time tracing of the training step (first fit minus a second fit of the same
model), the steady cost per image of the whole training step, and the cost per image of the costliest layer (the 5×5
16→32 convolution, forward and backward) on 1 and on 2 threads next to a large matrix product on 1 and 2 threads (what
the cores can do). Writes ``bench/EPOCH_FLOOR.md`` with the load average.

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_epoch_floor.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import AT_START, write_atomic  # noqa: E402  (first: the load is read before TensorFlow adds to it)

TABLE = Path(__file__).with_name("EPOCH_FLOOR.md")
MATMUL_SIDE, CONV_REPEATS, MATMUL_REPEATS = 2048, 400, 20


def fit_seconds() -> dict:
    """One epoch of the speed preset with the product's model, optimizer and pipeline, then a second epoch of the same
    model (its training step already traced): the difference is the one-time cost every run pays."""
    import keras

    from mnist_core.data.sources import load_mnist
    from mnist_core.model.architectures import build_model
    from mnist_core.training.loop import compile_model, training_dataset
    from mnist_core.training.presets import SPEED_PRESET, get_preset

    data, preset = load_mnist(), get_preset(SPEED_PRESET)
    config = preset.config
    keras.utils.set_random_seed(config.seed)
    model = build_model(preset.spec, precision=config.precision)
    steps = -(-len(data.y_train) // config.batch_size)
    compile_model(model, config, 2 * steps)
    dataset = training_dataset(data.x_train, data.y_train, config, model)
    started, first_batch = time.perf_counter(), None
    for _ in dataset:
        first_batch = first_batch or time.perf_counter() - started
    pipeline = time.perf_counter() - started
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # the pipeline shuffles
        seconds.append(time.perf_counter() - started)
    return {"first": seconds[0], "second": seconds[1], "images": len(data.y_train), "pipeline": pipeline,
            "first_batch": first_batch}


def kernel_costs(threads: int) -> dict:
    """Microseconds per image of the 5×5 16→32 convolution's forward and backward pass (batch 64 and 256, float32
    and bfloat16) and GFLOP/s of a large matrix product, with TensorFlow limited to ``threads`` threads."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)

    @tf.function
    def conv_step(images, kernel):
        with tf.GradientTape() as tape:
            tape.watch([images, kernel])
            out = tf.reduce_sum(tf.cast(tf.nn.relu(tf.nn.conv2d(images, kernel, 1, "VALID")), tf.float32))
        return tape.gradient(out, [images, kernel])

    costs = {}
    for dtype in (tf.float32, tf.bfloat16):
        kernel = tf.cast(tf.random.normal((5, 5, 16, 32)), dtype)
        for batch in (64, 256):
            images = tf.cast(tf.random.normal((batch, 12, 12, 16)), dtype)
            costs[f"conv {dtype.name} batch {batch}"] = timed(CONV_REPEATS, conv_step, images, kernel) / batch * 1e6
        matrix = tf.cast(tf.random.normal((MATMUL_SIDE, MATMUL_SIDE)), dtype)
        seconds = timed(MATMUL_REPEATS, tf.matmul, matrix, matrix)
        costs[f"matmul {dtype.name} GFLOP/s"] = 2 * MATMUL_SIDE**3 / seconds / 1e9
    return costs


def timed(repeats: int, function, *args) -> float:
    """Seconds per call of ``function(*args)`` (a tensor or a list of them) over ``repeats`` calls, after one
    warm-up call."""

    def finish(result):
        (result[0] if isinstance(result, list) else result).numpy()

    finish(function(*args))
    started = time.perf_counter()
    for _ in range(repeats):
        result = function(*args)
    finish(result)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernels-on", type=int, metavar="THREADS", help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.kernels_on:
        print(json.dumps(kernel_costs(args.kernels_on)))
        return
    state = AT_START
    fit = fit_seconds()
    per_image_us = fit["second"] / fit["images"] * 1e6
    kernels = {threads: json.loads(subprocess.run(
        [sys.executable, __file__, "--kernels-on", str(threads)], capture_output=True, text=True,
        check=True).stdout.strip().splitlines()[-1]) for threads in (1, 2)}
    rows = [f"| input pipeline alone, one epoch (first batch after) | {fit['pipeline']:.2f} s "
            f"({fit['first_batch'] * 1e3:.0f} ms) |",
            f"| one epoch, first fit (traces the step) | {fit['first']:.2f} s |",
            f"| one epoch, second fit of the same model | {fit['second']:.2f} s |",
            f"| one-time cost (tracing, first executions) | {fit['first'] - fit['second']:.2f} s |",
            f"| steady training step per image | {per_image_us:.1f} µs |"]
    rows += [f"| {name}, {threads} thread(s) | {value:.1f} {'' if 'GFLOP' in name else 'µs/image'} |"
             for threads, costs in kernels.items() for name, value in costs.items()]
    for row in rows:
        print(row.strip("| ").replace(" | ", ": "), flush=True)
    write_atomic(TABLE, "\n".join([
        "# Where one epoch of the speed preset goes", "",
        f"Written by `{state['command']}` on {state['date']}, {state['machine']}, load {state['load']:.2f} "
        "(figures taken at load >= 0.5 do not count). Settings: the speed preset's (fast-cnn, one epoch).", "",
        "| what | measured |", "| --- | --- |", *rows, ""]))


if __name__ == "__main__":
    main()
