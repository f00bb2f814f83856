#!/usr/bin/python3
"""Export a randomly initialised GPT-2-small-size decoder LM for the `explain generate` benchmark.

    /usr/bin/python3 bench/make_bench_decoder.py [OUT_DIR] [--small] [--prompt-len 16] [--new-tokens 20]
                                                 [--threads 2] [--no-verify]
    (OUT_DIR default bench/models/gpt2-small-bench/, or bench/models/gpt2-tiny-bench/ with --small)

The model is the hand-written HF-semantics GPT2LMHeadModel of scripts/fixtures/make_decoder_fixtures.py
(HF parameter / module names, fused c_attn Conv1D, gelu_new, lm_head tied to wte), at GPT-2 small size:
n_embd 768, 12 layers, 12 heads, n_inner 3072, n_positions 1024, vocab 50257 (--small: n_embd 128,
2 layers, 4 heads, n_inner 512, same vocab and positions, to test the scripts quickly). Random weights,
seeded, initialised as HF's GPT2PreTrainedModel._init_weights: matrices and embeddings N(0, 0.02),
c_proj weights N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm weight 1 / bias 0.

OUT_DIR gets, in the transformers.js layout that `gradlens explain generate` reads:
    onnx/decoder_model.onnx   no cache: input_ids, attention_mask -> logits; opset 14; dynamic batch_size /
                              sequence_length axes; the tied matrix stored once (one file, < 2 GB)
    config.json, generation_config.json (bos = eos = 50256, pad null)
    tokenizer.json, tokenizer_config.json   a byte-level BPE without merges: the 256 byte symbols (GPT-2 order),
                              dummy tokens "Ġtok<id>" (decode to " tok<id>"; no merge produces them, so text
                              never encodes to them: the bench feeds ids) up to 50255, <|endoftext|> = 50256
    weights.pt                the float32 state dict (bench/torch_gen_lig.py loads it)
    bench_meta.json           embeddings_output (the ONNX tensor fed to h.0: the wte + wpe Add), the prompt ids
                              (--prompt-len seeded random ids in [256, 50000)), the greedy continuation
                              (--new-tokens ids, float32 torch, argmax over the full sequence), their margins.

Unless --no-verify: node loads the tokenizer with @huggingface/tokenizers (encode / decode), and
onnxruntime-node runs decoder_model.onnx on prompt + continuation: logits against torch float32, and the
ONNX argmax at every generated position against the recorded continuation.
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from make_decoder_fixtures import Cfg, GPT2LMHeadModel, export, find_embeddings_output  # noqa: E402
from make_arch_fixtures import added_tokens_decoder, write_json  # noqa: E402
from py_tokenizers import BYTE_ENCODER, added_token  # noqa: E402

OPSET = 14
VOCAB = 50257
EOS = 50256
EOT = "<|endoftext|>"
N_POSITIONS = 1024
INIT_SEED = 0
PROMPT_SEED = 1234
PROMPT_RANGE = (256, 50000)
SIZES = {
    "small": dict(n_embd=768, n_layer=12, n_head=12, n_inner=3072),  # GPT-2 small
    "tiny": dict(n_embd=128, n_layer=2, n_head=4, n_inner=512),  # --small: for testing the scripts
}


def model_config(size):
    s = SIZES[size]
    return Cfg(vocab_size=VOCAB, n_positions=N_POSITIONS, layer_norm_epsilon=1e-5, **s)


def cfg_from_json(cfg):
    """The module config from a config.json written by this script."""
    return Cfg(vocab_size=cfg["vocab_size"], n_embd=cfg["n_embd"], n_layer=cfg["n_layer"], n_head=cfg["n_head"],
               n_inner=cfg["n_inner"], n_positions=cfg["n_positions"], layer_norm_epsilon=cfg["layer_norm_epsilon"])


def hf_config(c):
    hf = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": EOS, "embd_pdrop": 0.1, "eos_token_id": EOS, "initializer_range": 0.02,
        "layer_norm_epsilon": c.layer_norm_epsilon, "model_type": "gpt2", "n_ctx": c.n_positions, "n_embd": c.n_embd,
        "n_head": c.n_head, "n_inner": c.n_inner, "n_layer": c.n_layer, "n_positions": c.n_positions,
        "pad_token_id": None, "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "tie_word_embeddings": True,
        "torch_dtype": "float32", "use_cache": True, "vocab_size": c.vocab_size,
        # GPT2Config.attribute_map aliases, written out for readers that use the common names
        "hidden_size": c.n_embd, "num_hidden_layers": c.n_layer, "num_attention_heads": c.n_head,
        "num_key_value_heads": c.n_head, "max_position_embeddings": c.n_positions, "intermediate_size": c.n_inner,
    }
    return dict(sorted(hf.items()))


def hf_init(model, n_layer, seed=INIT_SEED, std=0.02):
    """HF GPT2PreTrainedModel._init_weights, seeded, in named_parameters order (the tied matrix once)."""
    g = torch.Generator().manual_seed(seed)
    norms = {n for n, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            owner, kind = name.rsplit(".", 1)
            if owner in norms:
                p.fill_(1.0 if kind == "weight" else 0.0)
            elif kind == "bias":
                p.zero_()
            else:
                s = std / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else std
                p.copy_(torch.randn(p.shape, generator=g) * s)
    return model


def build_model(c):
    """The module with its parameters allocated but not initialised (hf_init or load_state_dict fill them)."""
    skipped = [nn.Linear, nn.Embedding, nn.LayerNorm]
    saved = [m.reset_parameters for m in skipped]
    for m in skipped:
        m.reset_parameters = lambda self: None
    try:
        return GPT2LMHeadModel(c)
    finally:
        for m, f in zip(skipped, saved):
            m.reset_parameters = f


def load_model(model_dir):
    """float32, eval, no parameter gradients: what a PyTorch user's script has after from_pretrained."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        c = cfg_from_json(json.load(f))
    lm = build_model(c)
    lm.load_state_dict(torch.load(os.path.join(model_dir, "weights.pt")))
    lm = lm.float().eval()
    for p in lm.parameters():
        p.requires_grad_(False)
    return lm


def bench_prompt(n, seed=PROMPT_SEED):
    rng = random.Random(seed)
    return [rng.randrange(*PROMPT_RANGE) for _ in range(n)]


def greedy(lm, prompt_ids, n_new, eos=EOS):
    """Argmax over the full sequence (no cache), n_new tokens or up to eos. -> (ids, top1 - top2 logit margins)."""
    seq, new, margins = list(prompt_ids), [], []
    with torch.no_grad():
        for _ in range(n_new):
            t = torch.tensor([seq])
            lg = lm.run(t, torch.ones_like(t))[0][0, -1]
            top = torch.topk(lg, 2).values
            margins.append(float(top[0] - top[1]))
            nxt = int(torch.argmax(lg))
            new.append(nxt)
            seq.append(nxt)
            if nxt == eos:
                break
    return new, margins


# ============================================================================ tokenizer

def tokenizer_files():
    byte_syms = [BYTE_ENCODER[b] for b in sorted(BYTE_ENCODER, key=lambda b: ord(BYTE_ENCODER[b]))]
    id_to_token = byte_syms + [f"\u0120tok{i}" for i in range(len(byte_syms), EOS)] + [EOT]
    assert len(id_to_token) == VOCAB and len(set(id_to_token)) == VOCAB
    vocab = {t: i for i, t in enumerate(id_to_token)}
    added = [added_token(EOT, EOS)]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }
    cfg = {
        "add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": added_tokens_decoder(added),
        "bos_token": EOT, "clean_up_tokenization_spaces": False, "eos_token": EOT, "errors": "replace",
        "model_max_length": N_POSITIONS, "pad_token": None, "tokenizer_class": "GPT2Tokenizer", "unk_token": EOT,
    }
    return tj, cfg, id_to_token


def decode(id_to_token, ids):
    inv = {v: k for k, v in BYTE_ENCODER.items()}
    out = []
    for i in ids:
        out.append(id_to_token[i] if i == EOS else bytes(inv[ch] for ch in id_to_token[i]).decode("utf-8", "replace"))
    return "".join(out)


# ============================================================================ verification (node)

VERIFY_JS = r"""
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
const dir = process.env.BENCH_DIR, ref = JSON.parse(fs.readFileSync(process.env.BENCH_REF, 'utf8'));
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
const out = {};
let t0 = performance.now();
const tok = new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
out.tokenizer_load_ms = Math.round(performance.now() - t0);
const e = tok.encode('Hello world<|endoftext|>');
out.encode_ids = e.ids;
out.encode_ok = JSON.stringify(e.ids) === JSON.stringify(ref.encode_ids);
out.decode = tok.decode(ref.seq);
out.decode_ok = out.decode === ref.decoded;
t0 = performance.now();
const sess = await ort.InferenceSession.create(path.join(dir, 'onnx/decoder_model.onnx'), { intraOpNumThreads: ref.threads });
out.session_ms = Math.round(performance.now() - t0);
out.inputs = sess.inputNames; out.outputs = sess.outputNames;
const ids = ref.seq.slice(0, ref.seq.length - 1), n = ids.length;
const i64 = (xs) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);
t0 = performance.now();
const r = await sess.run({ input_ids: i64(ids), attention_mask: i64(new Array(n).fill(1)) });
out.run_ms = Math.round(performance.now() - t0);
const lg = r.logits, V = lg.dims[2];
let d = 0, s = 0;
const argmax = [];
for (let k = 0; k < n; k++) {
  const row = lg.data.subarray(k * V, (k + 1) * V);
  let best = 0;
  for (let v = 0; v < V; v++) if (row[v] > row[best]) best = v;
  if (k >= ref.prompt_len - 1) argmax.push(best);
}
const want = ref.logits;  // [rows][V] at the generated positions
for (let k = 0; k < want.length; k++) {
  const row = lg.data.subarray((ref.prompt_len - 1 + k) * V, (ref.prompt_len + k) * V);
  for (let v = 0; v < V; v++) { d = Math.max(d, Math.abs(row[v] - want[k][v])); s = Math.max(s, Math.abs(want[k][v])); }
}
out.logits_dims = lg.dims;
out.max_abs_diff = d; out.max_abs_logit = s;
out.onnx_argmax = argmax;
out.argmax_ok = JSON.stringify(argmax) === JSON.stringify(ref.generated);
console.log(JSON.stringify(out));
"""


def verify(out_dir, lm, prompt_ids, gen, id_to_token, threads):
    seq = prompt_ids + gen
    P = len(prompt_ids)
    with torch.no_grad():
        t = torch.tensor([seq[:-1]])
        logits = lm.run(t, torch.ones_like(t))[0][0, P - 1:]
    ref = {"seq": seq, "prompt_len": P, "generated": gen, "threads": threads,
           "logits": logits.tolist(), "decoded": decode(id_to_token, seq),
           "encode_ids": [bytes_id(id_to_token, ch) for ch in "Hello" + "\u0120world"] + [EOS]}
    with tempfile.TemporaryDirectory(prefix="gradlens-bench-") as tmp:
        rp = os.path.join(tmp, "ref.json")
        with open(rp, "w", encoding="utf-8") as f:
            json.dump(ref, f)
        env = dict(os.environ, BENCH_DIR=os.path.abspath(out_dir), BENCH_REF=rp)
        res = subprocess.run(["node", "--input-type=module", "-e", VERIFY_JS], cwd=ROOT, env=env,
                             capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"node verification failed:\n{res.stdout}\n{res.stderr}")
    v = json.loads(res.stdout.strip().splitlines()[-1])
    rel = v["max_abs_diff"] / v["max_abs_logit"]
    ok = v["encode_ok"] and v["decode_ok"] and v["argmax_ok"] and rel < 1e-4 \
        and v["inputs"] == ["input_ids", "attention_mask"] and v["outputs"] == ["logits"]
    print(f"verify (node): tokenizer loads in {v['tokenizer_load_ms']} ms, encode {'ok' if v['encode_ok'] else 'BAD'} "
          f"{v['encode_ids']}, decode {'ok' if v['decode_ok'] else 'BAD'}; ORT session {v['session_ms']} ms, "
          f"run {v['run_ms']} ms on {len(seq) - 1} tokens, logits {v['logits_dims']}, max |diff| {v['max_abs_diff']:.2e} "
          f"(max |logit| {v['max_abs_logit']:.3g}), ONNX argmax = torch greedy: {v['argmax_ok']}", file=sys.stderr)
    if not v["argmax_ok"]:
        print(f"    ONNX argmax {v['onnx_argmax']} vs torch {gen}", file=sys.stderr)
    if not ok:
        sys.exit("verification failed")
    return {"max_abs_logit_diff": v["max_abs_diff"], "max_abs_logit": v["max_abs_logit"],
            "onnx_argmax_matches": v["argmax_ok"]}


def bytes_id(id_to_token, ch):
    return id_to_token.index(ch)


# ============================================================================ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--small", action="store_true", help="2 layers, hidden 128 (to test the scripts)")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()
    size = "tiny" if args.small else "small"
    out = args.out_dir or os.path.join(ROOT, "bench", "models", "gpt2-tiny-bench" if args.small else "gpt2-small-bench")
    torch.set_num_threads(args.threads)
    assert args.prompt_len >= 6, "the export traces on prompt_ids[:5] and [1:6]"

    c = model_config(size)
    t0 = time.perf_counter()
    lm = hf_init(build_model(c), c.n_layer).eval()
    n_params = sum(p.numel() for p in lm.parameters())  # the tied matrix once
    onnx_path = os.path.join(out, "onnx", "decoder_model.onnx")
    os.makedirs(os.path.dirname(onnx_path), exist_ok=True)
    prompt_ids = bench_prompt(args.prompt_len)

    t1 = time.perf_counter()
    m = export(lm, c.n_layer, c.n_head, c.n_embd // c.n_head, onnx_path, OPSET, False, prompt_ids)
    emb = find_embeddings_output(m, "gpt2")
    export_s = time.perf_counter() - t1
    onnx_bytes = os.path.getsize(onnx_path)
    data_files = sorted(f for f in os.listdir(os.path.dirname(onnx_path)) if f != "decoder_model.onnx")
    assert onnx_bytes < 2 ** 31 and not data_files, (onnx_bytes, data_files)
    n_inits = len(m.graph.initializer)
    del m

    torch.save(lm.state_dict(), os.path.join(out, "weights.pt"))
    write_json(os.path.join(out, "config.json"), hf_config(c))
    write_json(os.path.join(out, "generation_config.json"), {"bos_token_id": EOS, "eos_token_id": EOS, "pad_token_id": None})
    tj, tcfg, id_to_token = tokenizer_files()
    write_json(os.path.join(out, "tokenizer.json"), tj, indent=None)
    write_json(os.path.join(out, "tokenizer_config.json"), tcfg)

    t2 = time.perf_counter()
    gen, margins = greedy(lm, prompt_ids, args.new_tokens)
    gen_s = time.perf_counter() - t2
    meta = {
        "model": "gpt2" + ("-tiny" if args.small else "-small") + " random weights (HF init, seed %d)" % INIT_SEED,
        "onnx": "onnx/decoder_model.onnx", "opset": OPSET, "onnx_bytes": onnx_bytes, "parameters": n_params,
        "embeddings_output": emb,
        "embeddings_description": "wte(input_ids) + wpe(positions): the Add fed to /transformer/h.0/",
        "baseline_id": EOS, "target": "logprob", "method": "gausslegendre", "n_steps": 50,
        "prompt_seed": PROMPT_SEED, "prompt_range": list(PROMPT_RANGE), "prompt_len": len(prompt_ids),
        "prompt_ids": prompt_ids, "new_tokens": args.new_tokens, "generated": gen,
        "greedy_margins": [round(x, 7) for x in margins],
        "generated_text": decode(id_to_token, gen),
    }
    if not args.no_verify:
        meta["verify"] = verify(out, lm, prompt_ids, gen, id_to_token, args.threads)
    write_json(os.path.join(out, "bench_meta.json"), meta)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"{size}: {n_params} parameters, init {t1 - t0:.1f} s, export + check {export_s:.1f} s, "
          f"decoder_model.onnx {onnx_bytes} bytes ({onnx_bytes / 2 ** 20:.1f} MiB, {n_inits} initializers), "
          f"folder {total} bytes; greedy {len(gen)} tokens in {gen_s:.2f} s: {gen} "
          f"(min top1-top2 margin {min(margins):.3g}); embeddings output {emb!r}", file=sys.stderr)
    print(json.dumps({"out_dir": os.path.abspath(out), "onnx_bytes": onnx_bytes, "export_seconds": round(export_s, 2),
                      "embeddings_output": emb, "prompt_ids": prompt_ids, "generated": gen}))


if __name__ == "__main__":
    main()
