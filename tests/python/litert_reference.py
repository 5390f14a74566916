"""LiteRT (ai-edge-litert, XNNPACK, one thread) on a TFLite classifier, the
reference runtime for `taxa import`.

    python litert_reference.py --model M.tflite --pixels P.rgb [--threads 1]

`P.rgb` holds the model input as raw 8-bit pixels, height × width × RGB
(what taxa's contract makes of a photo). A uint8 model takes them as they
are; a float model gets them normalised with --mean/--std (pixel units).
Prints JSON: the output dequantised to real scores, one per class, and
LiteRT's raw output type.
"""

import argparse
import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--pixels", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mean", type=float, default=127.5)
    parser.add_argument("--std", type=float, default=127.5)
    args = parser.parse_args()

    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    out = interpreter.get_output_details()[0]
    _, height, width, channels = inp["shape"]
    pixels = np.fromfile(args.pixels, dtype=np.uint8)
    if pixels.size != height * width * channels:
        print(f"{args.pixels}: {pixels.size} bytes, the model takes {height}x{width}x{channels}", file=sys.stderr)
        return 2
    pixels = pixels.reshape(1, height, width, channels)
    if inp["dtype"] == np.uint8:
        tensor = pixels
    else:
        tensor = ((pixels.astype(np.float32) - args.mean) / args.std).astype(inp["dtype"])
    interpreter.set_tensor(inp["index"], tensor)
    interpreter.invoke()
    raw = interpreter.get_tensor(out["index"]).reshape(-1)
    scale, zero = out["quantization"]
    scores = (raw.astype(np.float64) - zero) * scale if scale else raw.astype(np.float64)
    json.dump({"scores": scores.tolist(), "output_dtype": str(raw.dtype), "output_scale": scale}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
