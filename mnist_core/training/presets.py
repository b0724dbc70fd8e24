"""Named architectures with the training settings they were measured with. What each gives (test accuracy, seconds
of training) is measured by ``bench/bench_presets.py`` and read from ``measured.json``, never written here."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.model.config import TrainConfig


@dataclass(frozen=True)
class Preset:
    """A model spec, its recommended settings, a one-line description and the tutorial it comes from."""

    name: str
    title: str
    description: str
    source: str
    spec: list
    config: TrainConfig

    def __repr__(self) -> str:
        return f"Preset({self.name!r})"


def dense(units: int, activation: str = "relu") -> dict:
    return {"type": "Dense", "units": units, "activation": activation}


def dropout(rate: float) -> dict:
    return {"type": "Dropout", "rate": rate}


def conv(filters: int, kernel: int, strides: int = 1, padding: str = "valid") -> dict:
    return {"type": "Conv2D", "filters": filters, "kernel_size": kernel, "strides": strides, "padding": padding,
            "activation": "relu"}


def pool(size: int = 2) -> dict:
    return {"type": "MaxPooling2D", "pool_size": size}


FLATTEN = {"type": "Flatten"}
BATCH_NORM = {"type": "BatchNormalization"}
SHIFT_AND_ROTATE = [{"type": "RandomRotation", "factor": 0.03}, {"type": "RandomTranslation", "factor": 0.08}]
BEST_CNN_SPEC = [*SHIFT_AND_ROTATE, conv(32, 3), conv(32, 3), BATCH_NORM, pool(), dropout(0.1), conv(64, 3),
                 conv(64, 3), BATCH_NORM, pool(), dropout(0.2), FLATTEN, dense(256), dropout(0.3)]
BEST_CNN_CONFIG = TrainConfig(optimizer="adam", learning_rate=3e-3, lr_schedule="one-cycle", batch_size=128, epochs=30,
                              validation_split=0.0, steps_per_execution=8, precision="auto")

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset(
        "softmax-regression", "Softmax regression",
        "784→10 linear softmax, SGD: the simplest baseline.",
        "seed 003 (SGD, batch 128, validation 0.2)",
        [], TrainConfig(optimizer="sgd", learning_rate=0.1, batch_size=128, epochs=20, validation_split=0.2)),
    Preset(
        "dense32-rmsprop", "One hidden layer of 32",
        "Dense(32, relu) → softmax with RMSprop, 25k params.",
        "seed 000 (RMSprop, batch 64, validation 0.05)",
        [dense(32)], TrainConfig(optimizer="rmsprop", learning_rate=1e-3, batch_size=64, epochs=10,
                                 validation_split=0.05)),
    Preset(
        "mlp-784", "One hidden layer of 784",
        "Dense(784, relu) → softmax with Adam, 623k params.",
        "seed 001 (baseline network)",
        [dense(784)], TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=10)),
    Preset(
        "mlp-784x3-dropout", "Three hidden layers of 784 with dropout",
        "3 × (Dense(784, relu), Dropout 0.2) with Adam, 1.85M params.",
        "seeds 001 and 004 (deeper networks with dropout)",
        [dense(784), dropout(0.2), dense(784), dropout(0.2), dense(784), dropout(0.2)],
        TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=10)),
    Preset(
        "keras-docs-cnn", "Keras-docs CNN",
        "Conv32-Conv64-MaxPool-Dropout.25-Dense128-Dropout.5 with Adam, 1.2M params (seed 002 reports 99.19% "
        "after 10 epochs).",
        "seed 002 (Keras example CNN, 10 epochs → 99.19%)",
        [conv(32, 3), conv(64, 3), pool(), dropout(0.25), FLATTEN, dense(128), dropout(0.5)],
        TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=10)),
    Preset(
        "fast-cnn", "Fast CNN (speed to 99% on CPU)",
        "Conv16 5×5 → MaxPool → Conv32 5×5 → MaxPool → Dense128 (80k params): one epoch of one-cycle Adam with label "
        "smoothing 0.1 and bfloat16 compute where the CPU has it: chosen for seconds to 99% on CPU.",
        "new (small 2-conv net on a one-cycle schedule)",
        [conv(16, 5), pool(), conv(32, 5), pool(), FLATTEN, dense(128)],
        TrainConfig(optimizer="adam", learning_rate=1.2e-2, lr_schedule="one-cycle", batch_size=160, epochs=1,
                    validation_split=0.0, steps_per_execution=32, precision="auto", label_smoothing=0.1)),
    Preset(
        "best-cnn", "Best CNN (augmented)",
        "Random shifts/rotations, Conv32-Conv32-BatchNorm-MaxPool-Conv64-Conv64-BatchNorm-MaxPool-Dense256 with "
        "dropout, one-cycle Adam, 30 epochs, bfloat16 compute where the CPU has it.",
        "new (augmentation for robustness to hand-drawn digits)",
        BEST_CNN_SPEC, BEST_CNN_CONFIG),
    Preset(
        "drawn-cnn", "Best CNN for drawings",
        "The best CNN trained on MNIST and 1,500 synthetic drawing-pad digits per class (everyday styles: flagged and "
        "footed 1s, crossed 7s, open 4s, straight-stem 9s, slants, thick and thin strokes), 24 epochs: the shipped "
        "default model, made to read what people draw on the pad.",
        "new (canvas-like training drawings, mnist_core.training.drawings)",
        BEST_CNN_SPEC, BEST_CNN_CONFIG.replace(epochs=24, drawings_per_digit=1500)),
)}
SPEED_PRESET = "fast-cnn"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]
