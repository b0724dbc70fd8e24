"""What the "auto" precision means on this machine: bfloat16 compute only where the CPU runs it natively.

Without native bfloat16 (AVX512-BF16 or AMX), oneDNN and Eigen emulate it and training is many times slower; where
it is native, bfloat16 trains faster at the same accuracy (bench/ONE_EPOCH.md). So presets ask for "auto" and each
run records what it used.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mnist_core.model.config import TrainConfig

AUTO, FLOAT32, MIXED_BFLOAT16 = "auto", "float32", "mixed_bfloat16"
NATIVE_BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # as Linux names them in /proc/cpuinfo
CPUINFO = Path("/proc/cpuinfo")


def cpu_field(field: str, cpuinfo: Path = CPUINFO) -> str:
    """The first value of ``field`` (e.g. "flags", "model name") in Linux's CPU description; empty where there is no
    such file or field. TensorFlow's CPU builds run on Linux (and WSL2); elsewhere "auto" is float32, which is never
    the slow choice."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == field:
            return value.strip()
    return ""


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them."""
    return frozenset(cpu_field("flags", cpuinfo).split())


@functools.cache
def machine_flags() -> frozenset[str]:
    """This machine's CPU flags, read once."""
    return cpu_flags()


def resolved_precision(precision: str, flags: frozenset[str] | None = None) -> str:
    """The Keras dtype policy to train with: "auto" becomes ``mixed_bfloat16`` where the CPU (``flags``, by default
    this machine's) computes in bfloat16 natively, else ``float32``; any other policy is kept as asked."""
    if precision != AUTO:
        return precision
    native = NATIVE_BFLOAT16_FLAGS & (machine_flags() if flags is None else flags)
    return MIXED_BFLOAT16 if native else FLOAT32


def with_resolved_precision(config: TrainConfig) -> TrainConfig:
    """``config`` with its precision as the run will compute in, so that the run's record says what was used."""
    return config.replace(precision=resolved_precision(config.precision))


def in_native_precision(model, flags: frozenset[str] | None = None):
    """``model`` itself, or, where its layers compute in ``mixed_bfloat16`` and the CPU (``flags``, by default this
    machine's) has no native bfloat16, a copy computing in float32 with the same weights (mixed precision keeps them
    in float32, so nothing is lost): emulated bfloat16 would make every prediction and fine-tune slower."""
    if resolved_precision(AUTO, flags) == MIXED_BFLOAT16:
        return model
    if not any(layer.dtype_policy.name == MIXED_BFLOAT16 for layer in model.layers):
        return model
    import keras

    def in_float32(layer):
        config = layer.get_config()
        if layer.dtype_policy.name == MIXED_BFLOAT16:
            config["dtype"] = FLOAT32
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=in_float32)
    copy.set_weights(model.get_weights())
    return copy
