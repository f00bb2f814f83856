#!/usr/bin/python3
"""PyTorch baseline for `npm run bench`: the same LayerIG integral as `gradlens explain qa` (start and end logits,
50 Gauss-Legendre steps, embeddings-layer path, [CLS] [PAD]... [SEP] [PAD]... [SEP] baseline) with torch autograd,
done as the Captum BERT tutorial does it: one attribute call per target, all steps in one batch, no weight grads.

    /usr/bin/python3 bench/torch_lig.py SEQ_LEN [REPEATS]   → prints JSON {"seconds": [...], "threads": N}

With --e2e it does, once, what a PyTorch user's script does end to end, to be timed from outside as a new process:
import torch, build the model without random init and load its weights from WEIGHTS (a state dict; written once by
--save-weights WEIGHTS, the same weights as the benchmark's ONNX export), predict, then the Captum tutorial's two
LayerIG calls, each with its convergence delta (forward passes at the input and the baseline).

    /usr/bin/python3 bench/torch_lig.py SEQ_LEN --e2e WEIGHTS
"""
import json
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from bert_modules import BASE_CONFIG, CLS_ID, SEP_ID, BertForQuestionAnswering, init_weights  # noqa: E402


def seeded_model():
    torch.manual_seed(0)
    model = BertForQuestionAnswering(BASE_CONFIG)
    init_weights(model, std=BASE_CONFIG.initializer_range, bias_std=0.02, ln_std=0.02, seed=0)
    return model


def loaded_model(weights):
    """As transformers' from_pretrained: modules built without random init, then the saved weights loaded."""
    skipped = [torch.nn.Linear, torch.nn.Embedding, torch.nn.LayerNorm]
    saved = [m.reset_parameters for m in skipped]
    for m in skipped:
        m.reset_parameters = lambda self: None
    try:
        model = BertForQuestionAnswering(BASE_CONFIG)
    finally:
        for m, f in zip(skipped, saved):
            m.reset_parameters = f
    model.load_state_dict(torch.load(weights))
    return model


def main():
    seq = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    if "--save-weights" in sys.argv:
        torch.save(seeded_model().state_dict(), sys.argv[sys.argv.index("--save-weights") + 1])
        return
    e2e = "--e2e" in sys.argv
    repeats = 0 if e2e else int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(os.cpu_count())
    model = loaded_model(sys.argv[sys.argv.index("--e2e") + 1]) if e2e else seeded_model()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    q = 12
    ids = [CLS_ID] + [2000 + i for i in range(q)] + [SEP_ID] + [3000 + i for i in range(seq - q - 3)] + [SEP_ID]
    ref = [CLS_ID] + [0] * q + [SEP_ID] + [0] * (seq - q - 3) + [SEP_ID]
    types = [0] * (q + 2) + [1] * (seq - q - 2)
    ids_t, ref_t, tt = (torch.tensor([v]) for v in (ids, ref, types))
    mask = torch.ones_like(ids_t)
    x, w = np.polynomial.legendre.leggauss(50)
    alphas = torch.tensor(0.5 * (1 + x), dtype=torch.float32).view(-1, 1, 1)
    weights = torch.tensor(0.5 * w, dtype=torch.float32).view(-1, 1, 1)

    def lig(target_index):
        with torch.no_grad():
            e_x = model.bert.embeddings(ids_t, tt)
            e_b = model.bert.embeddings(ref_t, tt)
        path = (e_b + alphas * (e_x - e_b)).requires_grad_(True)  # 50 × seq × hidden, one batch
        start, end = model.head(path, mask.expand(50, -1))
        out = (start if target_index == 0 else end)[:, 5].sum()
        (grad,) = torch.autograd.grad(out, path)
        attr = (e_x - e_b) * (weights * grad).sum(0, keepdim=True)
        if e2e:  # Captum's convergence delta: the target at the input and at the baseline
            with torch.no_grad():
                f_x = model.head(e_x, mask)[target_index][0, 5]
                f_b = model.head(e_b, mask)[target_index][0, 5]
            return attr.sum(-1), float(attr.sum() - (f_x - f_b))
        return attr.sum(-1)

    if e2e:
        with torch.no_grad():
            start, end = model(ids_t, mask, tt)  # the prediction
        deltas = [lig(0)[1], lig(1)[1]]
        print(json.dumps({"answer_start": int(start.argmax()), "deltas": deltas, "threads": torch.get_num_threads(), "seq": seq}))
        return

    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        lig(0)
        lig(1)
        times.append(time.perf_counter() - t)
    print(json.dumps({"seconds": times[1:], "threads": torch.get_num_threads(), "seq": seq}))


if __name__ == "__main__":
    main()
