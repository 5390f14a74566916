"""References from torchvision for taxa's parity tests (run by the Rust
tests through the project's Python environment).

  keys OUT.json                     state-dict keys and shapes of every architecture
  parity OUT_DIR ARCH[,ARCH...]     seeded random weights, input and eval logits
  load-check ARCH N WEIGHTS IO      torchvision loads taxa-saved weights strictly
  check-onnx MODEL INPUT OUT        onnx.checker (full) + onnxruntime logits
"""
import json
import sys

import torch
import torchvision

ARCHS = [
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201",
    "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "resnext50_32x4d", "resnext101_32x8d",
    "mobilenet_v2",
]


def keys(out):
    torch.manual_seed(0)
    result = {}
    for arch in ARCHS:
        model = getattr(torchvision.models, arch)(weights=None)
        result[arch] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    with open(out, "w") as f:
        json.dump(result, f)


def randomise_batch_norm(model, generator):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.normal_(0.0, 0.1, generator=generator)
                m.running_mean.normal_(0.0, 0.1, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
                m.num_batches_tracked.fill_(7)


def parity(out_dir, archs):
    from safetensors.torch import save_file

    for index, arch in enumerate(archs.split(",")):
        torch.manual_seed(1234 + index)
        model = getattr(torchvision.models, arch)(weights=None, num_classes=10)
        randomise_batch_norm(model, torch.Generator().manual_seed(99 + index))
        model.eval()
        x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            logits = model(x)
        # Both weight formats are exercised: safetensors, and a PyTorch .pth
        # holding the OrderedDict that state_dict() returns, as torchvision ships.
        if index % 2 == 0:
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/{arch}.safetensors")
        else:
            torch.save(model.state_dict(), f"{out_dir}/{arch}.pth")
        save_file({"input": x, "logits": logits}, f"{out_dir}/{arch}.io.safetensors")


def load_check(arch, num_classes, weights, io_path):
    """Loads taxa-saved safetensors into torchvision strictly; compares logits."""
    from safetensors.torch import load_file

    model = getattr(torchvision.models, arch)(weights=None, num_classes=int(num_classes))
    model.load_state_dict(load_file(weights), strict=True)
    model.eval()
    io = load_file(io_path)
    with torch.no_grad():
        logits = model(io["input"])
    err = (logits - io["logits"]).abs().max() / io["logits"].abs().max()
    print(json.dumps({"relative_error": float(err)}))


def check_onnx(model_path, input_path, out_path):
    import numpy as np
    import onnx
    import onnxruntime as ort
    from safetensors.numpy import load_file, save_file

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    inputs = load_file(input_path)
    outputs = {}
    for name, x in inputs.items():
        (logits,) = sess.run(["logits"], {"image": x.astype(np.float32)})
        outputs[name] = logits
    save_file(outputs, out_path)
    print(json.dumps({"opset": model.opset_import[0].version, "checked": True}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"keys": keys, "parity": parity, "load-check": load_check, "check-onnx": check_onnx}[command](*args)
