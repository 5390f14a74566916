"""Writes the models onnxruntime's quantizers make from one float ONNX
classifier (dynamic batch, `value_info` from shape inference): the kinds of
plain ONNX model users quantize (issue 24, onnx-value-info-dynamic-batch).

    python ort_quantize.py FLOAT.onnx OUT_DIR

Writes into OUT_DIR, each after onnxruntime's `quant_pre_process` (which
writes `value_info`, as the quantizers' own docs ask):
  dynamic.onnx               quantize_dynamic (QOperator: ConvInteger, MatMulInteger), per tensor
  dynamic_per_channel.onnx   quantize_dynamic, per channel
  static_qdq.onnx            quantize_static, QDQ format, per tensor
  static_qdq_per_channel.onnx  quantize_static, QDQ, per channel
  static_qoperator.onnx      quantize_static, QOperator format (QLinearConv, …)
Calibration: 8 seeded random inputs (normal, like normalised photos).
Prints the file names, one a line.
"""
import os
import sys

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process


class Seeded(CalibrationDataReader):
    def __init__(self, name, shape):
        rng = np.random.default_rng(7)
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.batches, None)


def main() -> int:
    source, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    prepared = os.path.join(out, "prepared.onnx")
    quant_pre_process(source, prepared, skip_symbolic_shape=False)
    model = onnx.load(prepared)
    graph_input = model.graph.input[0]
    shape = [d.dim_value if d.dim_value > 0 else 1 for d in graph_input.type.tensor_type.shape.dim]
    made = []
    for name, per_channel in [("dynamic", False), ("dynamic_per_channel", True)]:
        path = os.path.join(out, f"{name}.onnx")
        quantize_dynamic(prepared, path, weight_type=QuantType.QInt8, per_channel=per_channel)
        made.append(path)
    for name, fmt, per_channel in [
        ("static_qdq", QuantFormat.QDQ, False),
        ("static_qdq_per_channel", QuantFormat.QDQ, True),
        ("static_qoperator", QuantFormat.QOperator, False),
    ]:
        path = os.path.join(out, f"{name}.onnx")
        quantize_static(prepared, path, Seeded(graph_input.name, shape), quant_format=fmt, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        made.append(path)
    print("\n".join(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
