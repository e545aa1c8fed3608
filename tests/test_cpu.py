"""The CPU's vector extensions and the oneDNN kernels they select, as doctor and config.yaml name them."""

from kerasdl.cpu import describe_cpu, kernel_class, vector_extensions

ZEN3 = {"sse4_2", "avx", "avx2", "fma"}
ZEN5 = ZEN3 | {"avx_vnni", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"}


def test_the_two_cpus_of_this_project_are_told_apart(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert vector_extensions(ZEN3) == "SSE4.2, AVX, AVX2, FMA"
    assert vector_extensions(ZEN5) == "SSE4.2, AVX, AVX2, FMA, AVX-VNNI, AVX-512 (F, DQ, BW, VL, VNNI, BF16)"
    assert kernel_class(ZEN3) == "AVX2"
    assert kernel_class(ZEN5) == "AVX-512 with BF16"
    assert kernel_class(ZEN5 - {"avx512_bf16"}) == "AVX-512"
    assert kernel_class(ZEN5 | {"amx_tile", "amx_bf16"}) == "AMX"
    assert vector_extensions(set()) == "unknown" and kernel_class(set()) == "SSE"


def test_onednn_s_own_cap_is_named(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert kernel_class(ZEN5) == "AVX-512 with BF16, capped by ONEDNN_MAX_CPU_ISA=AVX2"


def test_this_machine_is_described_in_one_line():
    line = describe_cpu()
    assert "oneDNN kernels: " in line and "\n" not in line
