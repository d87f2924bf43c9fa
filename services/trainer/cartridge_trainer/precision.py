"""The arithmetic the trainer computes in: bf16 autocast where the CPU does bf16 natively, fp32 elsewhere.

Measured on the 2-core development machine (Xeon with AVX512-BF16 and AMX; bench.bench_trainer, one thread,
the default 64x4 network, batch 128): fp32 trains about 900 samples/s, fp32 with channels_last about 1,100,
bf16 autocast with channels_last about 2,600 (docs/benchmarks.md, "Trainer throughput"). oneDNN runs bf16
convolutions on AMX tiles or AVX512-BF16 instructions; without them it emulates bf16 and is slower than fp32, so
``auto`` asks the CPU first. The weights, the optimiser's state and the losses stay fp32 (autocast only lowers
the convolutions' and matrix products' inputs), so checkpoints and the ONNX export are the same as under fp32,
and bf16 needs no loss scaling (its exponent range is fp32's).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("auto", "bf16", "fp32")


def native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX tiles), as oneDNN needs to gain from it.

    ``torch.cpu``'s probes are private (torch/cpu/__init__.py: ``_is_avx512_bf16_supported``,
    ``_is_amx_tile_supported``, both reading cpuinfo); a torch without them counts as no."""
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe is not None and probe() for probe in probes)


def resolve(setting: str) -> str:
    """``TRAINER_PRECISION`` to what the trainer uses: ``auto`` is bf16 on a CPU with native bf16, else fp32."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {setting!r}")
    if setting == "auto":
        return "bf16" if native_bf16() else "fp32"
    return setting


@contextlib.contextmanager
def compute(precision: str) -> Iterator[None]:
    """The forward pass's context: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield
