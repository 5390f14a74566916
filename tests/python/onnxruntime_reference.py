"""onnxruntime (one thread, CPU) on one input tensor, the reference for
plain ONNX models taxa imports or classifies.

    python onnxruntime_reference.py --model M.onnx --input X.bin --shape 1,3,224,224 [--dtype float32|uint8]
        [--no-optimizations]

X.bin holds the input's raw little-endian values. Prints JSON: the first
output, flattened.
"""

import argparse
import json
import sys

import numpy as np
import onnxruntime as ort


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--shape", required=True)
    parser.add_argument("--dtype", default="float32", choices=["float32", "uint8"])
    parser.add_argument("--no-optimizations", action="store_true")
    args = parser.parse_args()
    shape = [int(d) for d in args.shape.split(",")]
    x = np.fromfile(args.input, dtype=args.dtype).reshape(shape)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if args.no_optimizations:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    output = session.run(None, {name: x})[0]
    json.dump({"output": output.reshape(-1).astype(np.float64).tolist()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
