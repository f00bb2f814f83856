#!/usr/bin/python3
"""Export a randomly initialised BERT-base question-answering model for benchmarks.

    /usr/bin/python3 bench/make_bench_model.py [out.onnx]   (default bench/models/bert-base-qa.onnx)

Uses the hand-written HF-mirroring modules in scripts/fixtures/bert_modules.py
(no `transformers`). Opset 14, inputs input_ids/attention_mask/token_type_ids
(int64), outputs start_logits/end_logits, dynamic batch_size/sequence_length axes.
Writes <out>.json next to the model: {"embeddings_output": <tensor name>, ...}.
"""

import json
import os
import sys

import onnx
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from bert_modules import (  # noqa: E402
    BASE_CONFIG,
    CLS_ID,
    SEP_ID,
    BertForQuestionAnswering,
    export_onnx,
    find_embeddings_output,
    init_weights,
)

OPSET = 14


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "models", "bert-base-qa.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.manual_seed(0)
    model = BertForQuestionAnswering(BASE_CONFIG)
    # HF-like init (std = initializer_range 0.02), small non-zero biases / LN params
    init_weights(model, std=BASE_CONFIG.initializer_range, bias_std=0.02, ln_std=0.02, seed=0)
    model.eval()
    ids = torch.tensor([[CLS_ID, 2000, 2001, 2002, SEP_ID, 3000, 3001, 3002, 3003, SEP_ID]], dtype=torch.int64)
    mask = torch.ones_like(ids)
    tt = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1, 1]], dtype=torch.int64)
    export_onnx(model, out, OPSET, (ids, mask, tt))
    m = onnx.load(out)
    onnx.checker.check_model(out)  # by path: works for large models too
    name = find_embeddings_output(m)
    sidecar = os.path.splitext(out)[0] + ".json"
    with open(sidecar, "w") as f:
        json.dump({
            "model": os.path.basename(out),
            "opset": OPSET,
            "embeddings_output": name,
            "inputs": ["input_ids", "attention_mask", "token_type_ids"],
            "outputs": list(BertForQuestionAnswering.output_names),
            "config": BASE_CONFIG.__dict__,
        }, f, indent=1)
        f.write("\n")
    print(name)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB) and {sidecar}", file=sys.stderr)


if __name__ == "__main__":
    main()
