"""What CPU this is, and which of oneDNN's kernels its vector extensions select.

TensorFlow's convolutions and matrix products on x86-64 run oneDNN kernels
chosen at run time by the CPU's vector extensions (AVX2, AVX-512, its BF16
and VNNI parts, AMX). Other kernels add in another order, so the same seeded
run ends a few test examples apart on two kinds of CPU: `digits_cnn`'s seed
42 scored 358 of 360 test digits with AVX-512 kernels and 356 with AVX2
ones. A run repeats exactly on CPUs that pick the same kernels, with the
same library versions; `kerasdl doctor` and every run's `config.yaml` say
which kind this was.
"""

import os
import platform
from pathlib import Path

# (flag in /proc/cpuinfo, name shown) for the extensions that select kernels.
_EXTENSIONS = (("sse4_2", "SSE4.2"), ("avx", "AVX"), ("avx2", "AVX2"), ("fma", "FMA"), ("avx_vnni", "AVX-VNNI"))
_AVX512 = (
    ("avx512f", "F"),
    ("avx512dq", "DQ"),
    ("avx512bw", "BW"),
    ("avx512vl", "VL"),
    ("avx512_vnni", "VNNI"),
    ("avx512_bf16", "BF16"),
)
_AMX = (("amx_tile", "tile"), ("amx_bf16", "BF16"), ("amx_int8", "INT8"))


def _cpuinfo(key):
    """The first `key : value` of /proc/cpuinfo, or None (not Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == key:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags():
    """The CPU's feature flags (Linux), lower-case; empty where unknown."""
    return set((_cpuinfo("flags") or "").split())


def cpu_model():
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def vector_extensions(flags):
    """`"AVX2, FMA, AVX-512 (F, DQ, BW, VL, VNNI, BF16)"` for a set of flags; `"unknown"` for none."""
    names = [name for flag, name in _EXTENSIONS if flag in flags]
    for group, parts in (("AVX-512", _AVX512), ("AMX", _AMX)):
        present = [name for flag, name in parts if flag in flags]
        if present:
            names.append(f"{group} ({', '.join(present)})")
    return ", ".join(names) or "unknown"


def kernel_class(flags):
    """The widest kernels oneDNN runs here: `AMX`, `AVX-512 with BF16`, `AVX-512`, `AVX2` or `SSE`.

    `ONEDNN_MAX_CPU_ISA` (oneDNN's own setting) caps it: `ONEDNN_MAX_CPU_ISA=AVX2`
    makes an AVX-512 CPU compute as an AVX2 one does.
    """
    if {"amx_tile", "amx_bf16"} <= flags:
        widest = "AMX"
    elif {"avx512f", "avx512bw", "avx512vl", "avx512_bf16"} <= flags:
        widest = "AVX-512 with BF16"
    elif {"avx512f", "avx512bw", "avx512vl"} <= flags:
        widest = "AVX-512"
    elif "avx2" in flags:
        widest = "AVX2"
    else:
        widest = "SSE"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return f"{widest}, capped by ONEDNN_MAX_CPU_ISA={cap}" if cap else widest


def describe_cpu():
    """One line for `config.yaml` and `doctor`: model, family, kernels.

    Example:
        >>> describe_cpu()
        'AMD EPYC (family 26), oneDNN kernels: AVX-512 with BF16'
    """
    family = _cpuinfo("cpu family")
    flags = cpu_flags()
    return f"{cpu_model()}{f' (family {family})' if family else ''}, oneDNN kernels: {kernel_class(flags)}"
