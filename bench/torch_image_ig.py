#!/usr/bin/python3
"""PyTorch baseline for the image IG benchmark: Integrated Gradients on the pixels of the ResNet-18 of
bench/make_bench_resnet.py (same weights, loaded from its state dict), as Captum's IntegratedGradients does it:
zero (black) baseline, 50 Gauss-Legendre steps, all steps in one batch (or internal batches of
--internal-batch-size rows), float32, no weight gradients, target = the predicted class.

    /usr/bin/python3 bench/torch_image_ig.py [--weights bench/models/resnet18.pt] [--repeats 3]
                                             [--internal-batch-size 50] [--threads 2]

Prints one JSON line: {"seconds": median IG time, "forward_seconds_x50": median time of a no-grad forward of
the same 50 path images in the same batches (the "50 forwards" baseline), "runs": [...], "forward_runs": [...],
"threads", "n_steps", "internal_batch_size", "image", "target", "delta"}. Every timing is the median of
--repeats runs after one warm-up run. The input is a seeded N(0, 1) image [1, 3, 224, 224].
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from vision_modules import ResNet18  # noqa: E402

N_STEPS = 50
IMAGE = 224


def loaded_model(weights):
    """As a PyTorch user would: modules built without random init, then the saved weights loaded."""
    skipped = [nn.Conv2d, nn.Linear, nn.BatchNorm2d]
    saved = [m.reset_parameters for m in skipped]
    saved_kaiming = nn.init.kaiming_normal_
    for m in skipped:
        m.reset_parameters = lambda self: None
    nn.init.kaiming_normal_ = lambda t, *a, **k: t
    try:
        model = ResNet18(num_classes=1000)
    finally:
        for m, f in zip(skipped, saved):
            m.reset_parameters = f
        nn.init.kaiming_normal_ = saved_kaiming
    model.load_state_dict(torch.load(weights))
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=os.path.join(ROOT, "bench", "models", "resnet18.pt"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--internal-batch-size", type=int, default=N_STEPS)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = loaded_model(args.weights)
    for p in model.parameters():
        p.requires_grad_(False)

    x = torch.randn((1, 3, IMAGE, IMAGE), generator=torch.Generator().manual_seed(0))
    baseline = torch.zeros_like(x)
    with torch.no_grad():
        target = int(model(x).argmax())
    nodes, w = np.polynomial.legendre.leggauss(N_STEPS)
    alphas = torch.tensor(0.5 * (1 + nodes), dtype=torch.float32).view(-1, 1, 1, 1)
    weights = torch.tensor(0.5 * w, dtype=torch.float32).view(-1, 1, 1, 1)
    ib = args.internal_batch_size
    chunks = [(i, min(i + ib, N_STEPS)) for i in range(0, N_STEPS, ib)]

    def ig():
        total = torch.zeros_like(x)
        for a, b in chunks:
            path = (baseline + alphas[a:b] * (x - baseline)).requires_grad_(True)
            out = model(path)[:, target].sum()
            (grad,) = torch.autograd.grad(out, path)
            total += (weights[a:b] * grad).sum(0, keepdim=True)
        return (x - baseline) * total

    def forwards():
        with torch.no_grad():
            for a, b in chunks:
                model(baseline + alphas[a:b] * (x - baseline))

    def timed(fn):
        runs = []
        for _ in range(args.repeats + 1):
            t = time.perf_counter()
            res = fn()
            runs.append(time.perf_counter() - t)
        return runs[1:], res

    runs, attr = timed(ig)
    fruns, _ = timed(forwards)
    with torch.no_grad():
        f_x, f_b = float(model(x)[0, target]), float(model(baseline)[0, target])
    print(json.dumps({
        "seconds": statistics.median(runs),
        "forward_seconds_x50": statistics.median(fruns),
        "runs": runs,
        "forward_runs": fruns,
        "threads": torch.get_num_threads(),
        "n_steps": N_STEPS,
        "internal_batch_size": ib,
        "image": IMAGE,
        "target": target,
        "delta": float(attr.sum()) - (f_x - f_b),
    }))


if __name__ == "__main__":
    main()
