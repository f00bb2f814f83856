#!/usr/bin/python3
"""PyTorch baseline for `gradlens explain generate`: generation attribution as a per-step loop, one
LayerIntegratedGradients call per generated token (as Inseq and Captum's LLMGradientAttribution do).

    /usr/bin/python3 bench/torch_gen_lig.py MODEL_DIR [--new-tokens 20] [--steps 50] [--prompt-len 16]
                                            [--threads 2] [--last-logits-only]

MODEL_DIR is a folder written by bench/make_bench_decoder.py (config.json, weights.pt, bench_meta.json). The
weights are loaded into the same hand-written GPT-2 module (float32, eval, no parameter gradients). Prompt:
--prompt-len seeded random ids in [256, 50000) (bench_prompt of make_bench_decoder.py); greedy continuation of
--new-tokens ids (argmax over the full sequence). Unless bench_meta.json already has this prompt with a continuation
at least as long (of which this one must be a prefix), they are written there, so that gradlens explains the same
continuation.

For every step t (token y_t at position P + t): f = log_softmax(logits[P + t - 1])[y_t] over the sequence
prompt + generated[:t]; LayerIG on the embeddings output (wte + wpe, the tensor fed to h.0), baseline = every
token -> eos (50256) (so the baseline embeddings are wte[eos] + wpe), Gauss-Legendre --steps points
(gauss_legendre of scripts/fixtures/make_arch_fixtures.py), all points in one batch (Captum with
internal_batch_size=None), attributions (x - x') * sum_k w_k df/de(x' + a_k (x - x')) summed over hidden.
As in HF / Captum the LM head runs on every position (--last-logits-only: on the target position only).
The embeddings of the input and the baseline are computed directly (Captum gets them from two batch-1 forwards
of the whole model, ~2 / (2 + steps) more work).

Timing: one warm-up step (step 0), then the loop over the N steps; best of 2 runs, or one run if the first
takes more than 180 s ("timing" says which). The last stdout line is JSON: seconds, per_step (of that run),
runs, timing, threads, new_tokens, steps, prompt_len, prompt, generated, attr0 / attr_last (per-token
attributions of steps 0 and N - 1), and the convergence deltas of those two steps (computed after the timing).
"""

import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from make_bench_decoder import EOS, bench_prompt, greedy, load_model  # noqa: E402
from make_arch_fixtures import gauss_legendre, write_json  # noqa: E402

SINGLE_RUN_ABOVE_S = 180.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--last-logits-only", action="store_true", help="LM head on the target position only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t_load = time.perf_counter()
    lm = load_model(args.model_dir)
    load_s = time.perf_counter() - t_load

    prompt = bench_prompt(args.prompt_len)
    t_gen = time.perf_counter()
    gen, margins = greedy(lm, prompt, args.new_tokens)
    gen_s = time.perf_counter() - t_gen
    if len(gen) < args.new_tokens:
        print(f"note: eos after {len(gen)} tokens", file=sys.stderr)
    meta_path = os.path.join(args.model_dir, "bench_meta.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    have = meta.get("generated") if meta.get("prompt_ids") == prompt else None
    if have is not None and have[:len(gen)] != gen[:len(have)]:
        sys.exit(f"bench_meta.json has another continuation of this prompt: {have} vs {gen}")
    if have is None or len(have) < len(gen):  # greedy continuations of one prompt are prefixes of each other
        if meta.get("prompt_ids") not in (None, prompt):
            print(f"note: replacing the prompt of {meta_path} (length {len(meta['prompt_ids'])})", file=sys.stderr)
        print(f"writing the prompt ({len(prompt)} ids) and continuation ({len(gen)} ids) to {meta_path}", file=sys.stderr)
        meta.update({"prompt_len": len(prompt), "prompt_ids": prompt, "new_tokens": args.new_tokens, "generated": gen,
                     "greedy_margins": [round(x, 7) for x in margins]})
        write_json(meta_path, meta)

    alphas, weights = gauss_legendre(args.steps)
    a = torch.tensor(alphas, dtype=torch.float32).view(-1, 1, 1)
    w = torch.tensor(weights, dtype=torch.float32).view(-1, 1, 1)
    seq = prompt + gen
    P, K = len(prompt), args.steps

    def head(e, mask):
        if not args.last_logits_only:
            return lm.head(e, mask)[:, -1]  # HF / Captum: logits at every position, then the last row
        h = lm.transformer.encode(e, mask, None)[0]
        return lm.lm_head(h[:, -1])

    def step(t):
        """LayerIG of step t -> attributions [P + t] (float32 tensor)."""
        ids = torch.tensor([seq[:P + t]])
        base = torch.full_like(ids, EOS)
        mask = torch.ones(K, ids.size(1), dtype=torch.long)
        with torch.no_grad():
            e_x, e_b = lm.embed(ids), lm.embed(base)
        path = (e_b + a * (e_x - e_b)).requires_grad_(True)  # K x n x hidden, one batch
        f = torch.log_softmax(head(path, mask), dim=-1)[:, gen[t]]
        (grad,) = torch.autograd.grad(f.sum(), path)
        return ((e_x - e_b)[0] * (w * grad).sum(0)).sum(-1)

    def delta(t, attr):
        ids = torch.tensor([seq[:P + t]])
        mask = torch.ones_like(ids)
        with torch.no_grad():
            f = [float(torch.log_softmax(head(lm.embed(x), mask), dim=-1)[0, gen[t]])
                 for x in (ids, torch.full_like(ids, EOS))]
        return {"f_x": f[0], "f_baseline": f[1], "sum_attr": float(attr.sum()), "delta": float(attr.sum()) - (f[0] - f[1])}

    t0 = time.perf_counter()
    step(0)  # warm-up
    warm_s = time.perf_counter() - t0
    print(f"load {load_s:.2f} s, greedy {len(gen)} tokens {gen_s:.2f} s, warm-up step {warm_s:.2f} s", file=sys.stderr)

    runs, per_step_runs, attrs = [], [], None
    for r in range(2):
        per, out = [], []
        t_run = time.perf_counter()
        for t in range(len(gen)):
            ts = time.perf_counter()
            out.append(step(t))
            per.append(time.perf_counter() - ts)
        runs.append(time.perf_counter() - t_run)
        per_step_runs.append(per)
        attrs = attrs or out
        print(f"run {r + 1}: {runs[-1]:.2f} s", file=sys.stderr)
        if runs[-1] > SINGLE_RUN_ABOVE_S:
            break
    best = min(range(len(runs)), key=lambda k: runs[k])
    timing = "best of 2 runs after a warm-up step" if len(runs) == 2 else \
        f"one run after a warm-up step (it took more than {SINGLE_RUN_ABOVE_S:.0f} s)"

    last = len(gen) - 1
    d0, dl = delta(0, attrs[0]), delta(last, attrs[last])
    print(json.dumps({
        "seconds": round(runs[best], 3), "timing": timing, "runs": [round(x, 3) for x in runs],
        "per_step": [round(x, 3) for x in per_step_runs[best]], "warmup_step_seconds": round(warm_s, 3),
        "load_seconds": round(load_s, 3), "greedy_seconds": round(gen_s, 3),
        "threads": torch.get_num_threads(), "new_tokens": len(gen), "steps": K, "prompt_len": P,
        "lm_head": "target position only" if args.last_logits_only else "every position (as HF / Captum)",
        "prompt": prompt, "generated": gen,
        "attr0": [float(x) for x in attrs[0]], "attr_last": [float(x) for x in attrs[last]],
        "delta0": d0, "delta_last": dl,
    }))


if __name__ == "__main__":
    main()
