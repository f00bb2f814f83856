#!/usr/bin/python3
"""Train the image demo model (a small ResNet-style CNN) on synthetic shape images and write it in the
transformers.js layout.

    /usr/bin/python3 scripts/demo/train_demo_image.py [--out demo/image] [--steps N] [--no-write]

Writes <out>/config.json, <out>/preprocessor_config.json, <out>/onnx/model.onnx (fp32, opset 17, input
"pixel_values" float32 [batch_size, 3, 32, 32], output "logits" [batch_size, 4]), <out>/samples/
{circle,square,triangle,cross}.png (64x64 RGB, so the 32x32 resize is exercised) and <out>/metrics.json
(held-out accuracy, per-class accuracy, each sample's prediction, training time).

Data: 4 classes (0 circle, 1 square, 2 triangle, 3 cross), drawn by draw_shapes() below at 64x64 with
anti-aliased edges (signed distance, 1-pixel ramp): one shape per image at a random position (centre in the
middle 40% of each axis), size (half-extent 15-32% of the side), rotation (+-20 degrees, not for circles) and
colour, on a random background colour (at least 0.35 away in RGB from the shape's colour) with a random
linear brightness gradient and Gaussian pixel noise (std 0-0.08, windows of a fixed noise bank), quantised
to 8 bits as a PNG is. Training images are then reduced to 32x32 either by 2x2 averaging (what a half-pixel
bilinear resize does at exactly 1/2) or by a [1 3 3 1]/8 filter with stride 2 (roughly PIL's antialiased
bilinear), at random, and quantised to 8 bits again (image pipelines resize 8-bit images). The
preprocessing is: rescale by 1/255, normalise with the ImageNet mean / std written to
preprocessor_config.json.

Model: TinyResNetForImageClassification (scripts/fixtures/vision_modules.py, the same op family as the
test/fixtures/vision CNN: Conv 3x3/2 + BN + ReLU + MaxPool, depthwise-separable residual block with
HardSwish, bilinear and nearest x2 upsampling with AveragePools, LeakyReLU, GlobalAveragePool, Linear), widths
(16, 32, 24, 48). Adam, lr 3e-3 with linear decay after a 100-step warm-up, batch 64, 1,200 steps (about 2
minutes on one shared core; measured numbers in <out>/metrics.json and demo/README.md), one torch
thread, torch.use_deterministic_algorithms; batch i comes from its own seeded generator, so a rerun gives
the same model on the same machine. Exported in eval mode with training=TrainingMode.PRESERVE, so the
BatchNormalization nodes are kept (not folded into the convolutions).

Checks (exit non-zero on failure): held-out accuracy on 2,000 fresh images >= MIN_HELDOUT; each sample PNG,
read back and resized to 32x32 (both with PIL's bilinear resize and with 2x2 averaging), is predicted as its
own class; the exported graph passes onnx.checker and has the expected op types.
"""

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the repo
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from vision_modules import TinyResNetForImageClassification  # noqa: E402

LABELS = ["circle", "square", "triangle", "cross"]
SIZE = 32  # model input
DRAW = 64  # drawn images / samples
WIDTHS = (16, 32, 24, 48)
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
OPSET = 17
STEPS = 1200
BATCH = 64
LR = 3e-3
WARMUP = 100
SEED = 0
N_HELDOUT = 2000
HELDOUT_SEED = 10_000_000  # batch seeds of training are SEED * 1_000_003 + step: disjoint
MIN_HELDOUT = 0.9
# sample seeds, one per class (fixed; the checks in main() must pass for them)
SAMPLE_SEEDS = {"circle": 11, "square": 12, "triangle": 13, "cross": 14}


# ============================================================================ data

def draw_shapes(rng, labels, size=DRAW):
    """labels: int array [n] -> uint8 images [n, size, size, 3]."""
    n = len(labels)
    yy, xx = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    cx = rng.uniform(0.3, 0.7, n) * size
    cy = rng.uniform(0.3, 0.7, n) * size
    s = rng.uniform(0.15, 0.32, n) * size
    theta = np.where(labels == 0, 0.0, rng.uniform(-20, 20, n) * np.pi / 180)
    thick = rng.uniform(0.25, 0.4, n)
    fg = rng.uniform(0, 1, (n, 3))
    bg = rng.uniform(0, 1, (n, 3))
    for _ in range(20):  # resample backgrounds too close to the shape colour
        close = np.linalg.norm(fg - bg, axis=1) < 0.35
        if not close.any():
            break
        bg[close] = rng.uniform(0, 1, (int(close.sum()), 3))
    grad_dir = rng.uniform(0, 2 * np.pi, n)
    grad_amp = rng.uniform(0, 0.15, n)
    noise = rng.uniform(0, 0.08, n)

    f32 = np.float32
    c, sn = np.cos(theta).astype(f32)[:, None, None], np.sin(theta).astype(f32)[:, None, None]
    dx = xx.astype(f32)[None] - cx.astype(f32)[:, None, None]
    dy = yy.astype(f32)[None] - cy.astype(f32)[:, None, None]
    u, v = c * dx + sn * dy, -sn * dx + c * dy  # shape-local coordinates (v down)
    S = s.astype(f32)[:, None, None]
    T = thick.astype(f32)[:, None, None]
    d = np.empty((n, size, size), dtype=f32)
    for k, fn in enumerate(_SDF):
        m = labels == k
        if m.any():
            d[m] = fn(u[m], v[m], S[m], T[m])
    alpha = np.clip(f32(0.5) - d, 0, 1)[..., None]
    ramp = ((np.cos(grad_dir) * grad_amp).astype(f32)[:, None, None] * (xx / size - 0.5).astype(f32)[None]
            + (np.sin(grad_dir) * grad_amp).astype(f32)[:, None, None] * (yy / size - 0.5).astype(f32)[None])
    img = alpha * fg.astype(f32)[:, None, None] + (1 - alpha) * (bg.astype(f32)[:, None, None] + ramp[..., None])
    # Gaussian pixel noise: windows of a fixed bank of N(0, 1) noise at random offsets (cheaper than fresh noise)
    bank = _noise_bank(size)
    which = rng.integers(0, len(bank), n)
    off = rng.integers(0, size, (n, 2))
    for i in range(n):
        img[i] += bank[which[i], off[i, 0]:off[i, 0] + size, off[i, 1]:off[i, 1] + size] * f32(noise[i])
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


_BANKS = {}


def _noise_bank(size):
    if size not in _BANKS:
        _BANKS[size] = np.random.default_rng(12345).standard_normal((16, 2 * size, 2 * size, 3), dtype=np.float32)
    return _BANKS[size]


def _circle(u, v, s, t):
    return np.sqrt(u * u + v * v) - 0.95 * s


def _square(u, v, s, t):
    return np.maximum(np.abs(u), np.abs(v)) - 0.8 * s


def _triangle(u, v, s, t):
    # equilateral, pointing up, circumradius 1.15 s: outward edge normals (0, 1), (+-sin 120, cos 120)
    r_in = 0.575 * s
    a, b = np.sin(2 * np.pi / 3), np.cos(2 * np.pi / 3)
    return np.maximum(np.maximum(v, a * u + b * v), -a * u + b * v) - r_in


def _cross(u, v, s, t):
    w = t * s
    arm1 = np.maximum(np.abs(u) - s, np.abs(v) - w)
    arm2 = np.maximum(np.abs(u) - w, np.abs(v) - s)
    return np.minimum(arm1, arm2)


_SDF = [_circle, _square, _triangle, _cross]


def downsample(img, rng=None, mode=None):
    """uint8 [n, 64, 64, 3] -> float [n, 32, 32, 3] in [0, 1]: 2x2 average ("box") or a [1 3 3 1]/8 filter
    with stride 2 ("tri", edge-replicated), per image at random when mode is None."""
    x = img.astype(np.float32) / 255.0
    if mode is None:
        tri_rows = rng.random(len(x)) < 0.5
        out = downsample(img[~tri_rows], mode="box")
        res = np.empty((len(x), SIZE, SIZE, 3), dtype=out.dtype)
        res[~tri_rows] = out
        res[tri_rows] = downsample(img[tri_rows], mode="tri")
        return res
    if mode == "box":
        return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    k = np.array([1, 3, 3, 1], dtype=np.float32) / 8
    rows = sum(k[i] * p[:, i:i + 2 * SIZE:2] for i in range(4))
    return sum(k[i] * rows[:, :, i:i + 2 * SIZE:2] for i in range(4))


def to_pixel_values(x):
    """float [n, 32, 32, 3] in [0, 1] (already rescaled) -> normalised float32 tensor [n, 3, 32, 32]."""
    x = (np.asarray(x, dtype=np.float64) - np.array(MEAN)) / np.array(STD)
    return torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float32)


def batch(seed, n):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(LABELS), n)
    img = draw_shapes(rng, labels)
    # 8-bit again after the resize: image pipelines (transformers.js RawImage.resize) resize to 8-bit images
    x = np.round(downsample(img, rng) * 255) / 255
    return to_pixel_values(x), torch.tensor(labels, dtype=torch.int64)


# ============================================================================ PNG

def write_png(path, rgb):
    """rgb: uint8 [h, w, 3]."""
    try:
        from PIL import Image
        Image.fromarray(rgb, "RGB").save(path, format="PNG", optimize=False)
        return
    except ImportError:
        pass
    import struct
    import zlib
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def read_png_resized(path):
    """-> {"pil_bilinear": float [1, 32, 32, 3], "box": ...} in [0, 1], as an image pipeline would."""
    from PIL import Image
    im = Image.open(path).convert("RGB")
    a = np.asarray(im, dtype=np.uint8)[None]
    out = {"box": np.round(downsample(a, mode="box") * 255) / 255}
    out["pil_bilinear"] = np.asarray(im.resize((SIZE, SIZE), Image.BILINEAR), dtype=np.float64)[None] / 255.0
    return out


# ============================================================================ train / evaluate

def accuracy(model, x, y):
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    per = {LABELS[k]: round(float((pred[y == k] == k).float().mean()), 4) for k in range(len(LABELS))}
    return float((pred == y).float().mean()), per


def train(steps, log_every=250):
    torch.manual_seed(SEED)
    model = TinyResNetForImageClassification(len(LABELS), widths=WIDTHS)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / WARMUP) * max(0.0, 1 - i / steps))
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    model.train()
    run = 0.0
    for step in range(steps):
        x, y = batch(SEED * 1_000_003 + step, BATCH)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * float(loss) if step else float(loss)
        if (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps} loss {run:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return model.eval(), time.perf_counter() - t0


def export(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(
        model, (torch.zeros(1, 3, SIZE, SIZE),), path,
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch_size"}, "logits": {0: "batch_size"}},
        opset_version=OPSET, do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE,
    )
    onnx.checker.check_model(path)
    m = onnx.load(path)
    ops = {n.op_type for n in m.graph.node}
    for op in ["Conv", "BatchNormalization", "MaxPool", "Resize", "AveragePool", "HardSwish", "LeakyRelu",
               "GlobalAveragePool", "Gemm"]:
        assert op in ops, (op, ops)
    return sorted(ops)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "demo", "image"))
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    model, seconds = train(args.steps)
    hx, hy = batch(HELDOUT_SEED, N_HELDOUT)
    acc, per_class = accuracy(model, hx, hy)
    print(f"held-out accuracy {acc:.4f} {per_class} (trained {seconds:.0f} s)")
    ok = acc >= MIN_HELDOUT

    samples_dir = os.path.join(args.out, "samples") if not args.no_write else os.path.join("/tmp", "demo-image-samples")
    os.makedirs(samples_dir, exist_ok=True)
    samples = {}
    for k, name in enumerate(LABELS):
        rng = np.random.default_rng(SAMPLE_SEEDS[name])
        img = draw_shapes(rng, np.array([k]))[0]
        path = os.path.join(samples_dir, f"{name}.png")
        write_png(path, img)
        res = {}
        for how, x in read_png_resized(path).items():
            with torch.no_grad():
                p = torch.softmax(model(to_pixel_values(x)), -1)[0]
            res[how] = {"predicted": LABELS[int(p.argmax())], "probability": round(float(p.max()), 4),
                        "probabilities": {LABELS[j]: round(float(p[j]), 4) for j in range(len(LABELS))}}
            ok = ok and LABELS[int(p.argmax())] == name
        samples[name] = {"file": f"samples/{name}.png", "size": [DRAW, DRAW], **res}
        print(f"sample {name}: " + ", ".join(f"{h} -> {r['predicted']} ({r['probability']})" for h, r in res.items()))

    if not args.no_write:
        onnx_path = os.path.join(args.out, "onnx", "model.onnx")
        ops = export(model, onnx_path)
        id2label = {str(i): v for i, v in enumerate(LABELS)}
        write_json(os.path.join(args.out, "config.json"), {
            "architectures": ["ResNetForImageClassification"],
            "model_type": "resnet",
            "num_channels": 3,
            "image_size": SIZE,
            "hidden_sizes": list(WIDTHS),
            "id2label": id2label,
            "label2id": {v: int(k) for k, v in id2label.items()},
            "problem_type": "single_label_classification",
        })
        write_json(os.path.join(args.out, "preprocessor_config.json"), {
            "do_resize": True,
            "size": {"height": SIZE, "width": SIZE},
            "resample": 2,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": MEAN,
            "image_std": STD,
            "image_processor_type": "ViTImageProcessor",
        })
        write_json(os.path.join(args.out, "metrics.json"), {
            "heldout_accuracy": round(acc, 4),
            "heldout_images": N_HELDOUT,
            "heldout_per_class": per_class,
            "samples": samples,
            "train_seconds": round(seconds, 1),
            "steps": args.steps,
            "batch_size": BATCH,
            "lr": LR,
            "threads": 1,
            "widths": list(WIDTHS),
            "onnx_ops": ops,
            "onnx_bytes": os.path.getsize(onnx_path),
        })
        print("wrote", args.out, f"(model.onnx {os.path.getsize(onnx_path)} bytes)")
    if not ok:
        sys.exit(f"check failed: held-out accuracy {acc:.4f} (min {MIN_HELDOUT}) or a sample mispredicted")


if __name__ == "__main__":
    main()
