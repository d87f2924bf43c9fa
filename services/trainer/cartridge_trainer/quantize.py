"""Int8 publication: the exported network, statically quantized, so actors and the web spend less per position.

On one CPU core the default network is compute-bound even at batch 1 (fp32 runs near the core's
FMA peak), so batching alone cannot make inference much cheaper; int8 (per-channel weights,
activations calibrated on real replay positions, QDQ format that ONNX Runtime fuses into integer
convolutions) does: about 3x fewer microseconds per position where VNNI or AMX is available.

The quantized model keeps the ONNX interface (``obs`` -> ``policy_logits``, ``value``) and the
dynamic batch axis, so readers need nothing new. It is published only if it agrees with the
PyTorch network on held-out positions; otherwise the fp32 export is published and the reason logged.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# Largest acceptable disagreement with PyTorch on held-out positions: move probabilities and value
# are what MCTS uses, and differences of this size change no search materially.
MAX_POLICY_ERROR = 0.05
MAX_VALUE_ERROR = 0.10
HEADS = ("/policy_head/", "/value_head/")  # node names of PolicyValueNet's heads in the torch export


@dataclass(frozen=True)
class Agreement:
    policy_error: float  # max |p_int8 - p_torch| over positions and moves
    value_error: float  # max |v_int8 - v_torch|

    @property
    def ok(self) -> bool:
        return self.policy_error <= MAX_POLICY_ERROR and self.value_error <= MAX_VALUE_ERROR


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def quantize_int8(model: bytes, calibration: np.ndarray) -> bytes:
    """Static int8 quantization of an fp32 ONNX model; activation ranges come from ``calibration``
    (N, planes, rows, cols): positions from the replay buffer."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) == 0:
        raise ValueError("int8 quantization needs at least one calibration position")
    batches = [
        {"obs": np.ascontiguousarray(calibration[i : i + 64], dtype=np.float32)} for i in range(0, len(calibration), 64)
    ]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict | None:
            return next(self._batches, None)

    with tempfile.TemporaryDirectory(prefix="cartridge-quantize-") as tmp:
        fp32, prepared, int8 = (Path(tmp) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        fp32.write_bytes(model)
        # Shape inference and ONNX Runtime's graph optimizations first, as its quantization guide advises.
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        # The heads stay fp32: they are a few percent of the work, and their 1- and 2-channel layers
        # are where int8 rounding would move the value and the move probabilities most.
        heads = [n.name for n in onnx.load(str(prepared)).graph.node if n.name.startswith(HEADS)]
        quantize_static(
            str(prepared),
            str(int8),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=heads,
        )
        return int8.read_bytes()


def agreement(model: bytes, net: torch.nn.Module, positions: np.ndarray) -> Agreement:
    """How far ``model`` (run by ONNX Runtime) is from ``net`` (PyTorch) on ``positions``."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    obs = np.ascontiguousarray(positions, dtype=np.float32)
    got_logits, got_value = session.run(None, {"obs": obs})
    net.eval()
    with torch.no_grad():
        want_logits, want_value = (t.numpy() for t in net(torch.from_numpy(obs)))
    return Agreement(
        policy_error=float(np.abs(_softmax(got_logits) - _softmax(want_logits)).max()),
        value_error=float(np.abs(got_value.reshape(-1) - want_value.reshape(-1)).max()),
    )
