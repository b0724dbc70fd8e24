"""precision: "auto" is bfloat16 only on CPUs whose flags (from /proc/cpuinfo) say it is native; elsewhere a loaded
bfloat16 model runs as a float32 copy with the same weights."""

import numpy as np
import pytest

from mnist_core.model.architectures import build_model
from mnist_core.model.precision import cpu_field, cpu_flags, in_native_precision, resolved_precision

# The head of /proc/cpuinfo on two machines: a Sapphire Rapids (AMX and AVX512-BF16) and a Zen 3 (AVX2 only).
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8
bugs\t\t: spectre_v1
"""
ZEN_3 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 fma avx avx2 vaes vpclmulqdq
"""


@pytest.mark.parametrize(("cpuinfo", "expected"), [(SAPPHIRE_RAPIDS, "mixed_bfloat16"), (ZEN_3, "float32")])
def test_auto_is_bfloat16_only_where_the_cpu_flags_say_it_is_native(tmp_path, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert resolved_precision("auto", cpu_flags(path)) == expected


def test_a_policy_asked_for_by_name_is_kept_whatever_the_cpu():
    for policy in ("float32", "mixed_bfloat16"):
        assert resolved_precision(policy, frozenset()) == resolved_precision(policy, frozenset({"amx_bf16"})) == policy


def test_flags_are_read_from_the_flags_line_only_and_are_empty_without_one(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(SAPPHIRE_RAPIDS)
    flags = cpu_flags(path)
    assert {"avx2", "amx_bf16"} <= flags and "spectre_v1" not in flags and "Intel(R)" not in flags
    path.write_text("processor\t: 0\nmodel name\t: a CPU with no flags line\n")
    assert cpu_flags(path) == frozenset()
    assert cpu_flags(tmp_path / "missing") == frozenset()  # not Linux: "auto" is float32



def test_a_field_is_its_first_value_and_empty_when_absent(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(ZEN_3 + "\nprocessor\t: 1\nmodel name\t: another CPU\n")
    assert cpu_field("model name", path) == "AMD EPYC" and cpu_field("microcode", path) == ""


def test_a_bfloat16_model_runs_in_float32_with_the_same_weights_only_where_bfloat16_is_not_native(mnist):
    model = build_model([{"type": "Conv2D", "filters": 4}, {"type": "Flatten"}, {"type": "Dense", "units": 16}],
                        precision="mixed_bfloat16")
    native = frozenset({"avx512_bf16"})
    assert in_native_precision(model, native) is model
    copy = in_native_precision(model, frozenset({"avx2"}))
    assert [layer.dtype_policy.name for layer in copy.layers] == ["float32"] * len(model.layers)
    assert all(np.array_equal(ours, theirs) for ours, theirs in zip(copy.get_weights(), model.get_weights(),
                                                                    strict=True))
    assert model.layers[0].dtype_policy.name == "mixed_bfloat16"  # the original is left as it was
    images = mnist.x_test[:64, :, :, None] / 255.0
    assert np.allclose(copy(images).numpy(), model(images).numpy(), atol=0.02)  # bfloat16 keeps ~3 digits
    float32_model = build_model([{"type": "Dense", "units": 8}])
    assert in_native_precision(float32_model, frozenset()) is float32_model
