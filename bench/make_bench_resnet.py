#!/usr/bin/python3
"""Export a randomly initialised ResNet-18 (ImageNet size: 224x224 input, 1000 classes) for the image benchmarks.

    /usr/bin/python3 bench/make_bench_resnet.py [out.onnx]   (default bench/models/resnet18.onnx)

The architecture is torchvision's resnet18 (BasicBlock [2, 2, 2, 2]), written out by hand in
scripts/fixtures/vision_modules.py (torchvision is not installed), with the same module names, so a torchvision
state dict would load. Weights: torch.manual_seed(0) and torchvision's init (kaiming_normal_ fan_out convs, BN
weight 1 / bias 0, nn.Linear default); the BatchNorm running statistics are then set to those of a batch of 8
seeded N(0, 1) images (train-mode forward, cumulative average), so that the activations are normalised as in a
trained model and the BN folding is not the identity.

Writes:
    <out>                        fp32 ONNX, opset 17, input "pixel_values" [batch_size, 3, 224, 224], output
                                 "logits" [batch_size, 1000], dynamic batch_size. Plain eval-mode export: the
                                 exporter folds every BatchNormalization into its Conv (as in real-world ResNet
                                 exports); about 47 MB.
    <out without .onnx>.pt       the state dict (for bench/torch_image_ig.py: the same weights)
    <out without .onnx>.json     {"model", "opset", "inputs", "outputs", "input_shape", "num_labels",
                                  "gradcam_layer" (the tensor that feeds GlobalAveragePool), "weights"}
"""

import json
import os
import sys

import onnx
import torch
from torch import nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from vision_modules import ResNet18  # noqa: E402

OPSET = 17
IMAGE = 224


def build():
    torch.manual_seed(0)
    model = ResNet18(num_classes=1000)
    calib = torch.randn((8, 3, IMAGE, IMAGE), generator=torch.Generator().manual_seed(1))
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model(calib)
    return model.eval()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "models", "resnet18.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model = build()
    stem = os.path.splitext(out)[0]
    torch.save(model.state_dict(), stem + ".pt")
    torch.onnx.export(
        model, (torch.zeros(1, 3, IMAGE, IMAGE),), out,
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch_size"}, "logits": {0: "batch_size"}},
        opset_version=OPSET, do_constant_folding=True,
    )
    onnx.checker.check_model(out)
    m = onnx.load(out)
    gap = [n for n in m.graph.node if n.op_type == "GlobalAveragePool"]
    assert len(gap) == 1
    ops = sorted({n.op_type for n in m.graph.node})
    with open(stem + ".json", "w") as f:
        json.dump({
            "model": os.path.basename(out),
            "opset": OPSET,
            "inputs": ["pixel_values"],
            "outputs": ["logits"],
            "input_shape": [1, 3, IMAGE, IMAGE],
            "num_labels": 1000,
            "gradcam_layer": gap[0].input[0],
            "weights": os.path.basename(stem + ".pt"),
            "ops": ops,
        }, f, indent=1)
        f.write("\n")
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB, {len(m.graph.node)} nodes: {ops}), "
          f"{stem}.pt and {stem}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
